// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The training driver: data order, run directories and atomic saves, exact resume (in
// process after a failed save, and across a SIGKILL of the mot-train binary in the middle
// of a save), contradictions on resume, bad inputs named, and a trained checkpoint that
// the engine loads and generates text, an image and speech from.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/batch_stream.h"
#include "trainer/compare.h"
#include "trainer/demo_data.h"
#include "trainer/eval.h"
#include "trainer/pack.h"
#include "trainer/run_dir.h"
#include "trainer/shard.h"
#include "trainer/tokenizer_dir.h"
#include "trainer/tokenizer_training.h"
#include "trainer/train_loop.h"
#include "trainer/train_model.h"

namespace mot::trainer {
namespace {

namespace fs = std::filesystem;
using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

const auto* const kQuiet = ::testing::AddGlobalTestEnvironment(new testing::QuietProgress);

// ---------------------------------------------------------------------------------------
// The data order.

// A shard set of `n` examples: example i has 3 + i % 5 tokens, ids i, towers i % 3.
std::unique_ptr<ShardReader> SmallShards(const std::string& dir, int n) {
  ShardWriterOptions o;
  o.vocab_size = 1000;
  o.num_towers = 3;
  auto w = ShardWriter::Create(dir, o);
  EXPECT_THAT(w, IsOk());
  for (int i = 0; i < n; ++i) {
    const int len = 3 + i % 5;
    std::vector<int32_t> ids(len, i);
    std::vector<uint8_t> towers(len, static_cast<uint8_t>(i % 3));
    std::vector<uint8_t> loss(len, 1);
    EXPECT_THAT((*w)->Add(ids, towers, loss), IsOk());
  }
  EXPECT_THAT((*w)->Finish(), IsOk());
  auto r = ShardReader::Open(dir);
  EXPECT_THAT(r, IsOk());
  return *std::move(r);
}

TEST(EpochPermutationTest, IsASeededPermutation) {
  const std::vector<int64_t> a = EpochPermutation(100, 7, 0);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(a, EpochPermutation(100, 7, 0));
  EXPECT_NE(a, EpochPermutation(100, 7, 1));
  EXPECT_NE(a, EpochPermutation(100, 8, 0));
}

TEST(BatchStreamTest, ASavedPositionYieldsTheSameBatches) {
  testing::TempDir tmp;
  auto reader = SmallShards(tmp.path("s"), 40);
  BatchStreamOptions o;
  o.seed = 5;
  o.batch_tokens = 16;
  o.max_seq_len = 64;
  BatchStream a(reader.get(), o);
  std::vector<Batch> first;
  for (int i = 0; i < 30; ++i) first.push_back(a.Next());  // crosses into later epochs
  EXPECT_GT(a.position().epoch, 0);
  BatchStream b(reader.get(), o);
  for (int i = 0; i < 11; ++i) b.Next();
  BatchStream c(reader.get(), o, b.position());
  for (int i = 11; i < 30; ++i) {
    const Batch x = c.Next();
    EXPECT_EQ(x.batch.ids, first[static_cast<size_t>(i)].batch.ids) << "batch " << i;
    EXPECT_EQ(x.batch.example_begin, first[static_cast<size_t>(i)].batch.example_begin);
  }
  // Batches never exceed batch_tokens and never predict an example's first row.
  for (const Batch& x : first) {
    EXPECT_LE(x.batch.size(), 16);
    for (int32_t begin : x.batch.example_begin) EXPECT_EQ(x.batch.loss_mask[begin], 0);
  }
}

TEST(BatchStreamTest, DenseRoutingZeroesTowersAndKeepsModality) {
  testing::TempDir tmp;
  auto reader = SmallShards(tmp.path("s"), 12);
  BatchStreamOptions o;
  o.batch_tokens = 1000;
  o.max_seq_len = 5;  // examples of 6 and 7 tokens are skipped
  o.routing = TowerRouting::kSingleTower;
  BatchStream s(reader.get(), o);
  EXPECT_EQ(s.skipped_examples(), 4);
  const std::vector<Batch> all = s.AllInOrder();
  ASSERT_EQ(all.size(), 1u);
  bool saw_audio = false;
  for (size_t i = 0; i < all[0].batch.towers.size(); ++i) {
    EXPECT_EQ(all[0].batch.towers[i], 0);
    saw_audio = saw_audio || all[0].modality[i] == 2;
  }
  EXPECT_TRUE(saw_audio);
}

TEST(StepsToReachTest, InterpolatesBetweenValidations) {
  const Curve c = {{0, 5.0}, {10, 3.0}, {20, 2.0}, {30, 1.5}};
  EXPECT_DOUBLE_EQ(StepsToReach(c, 2.5), 15.0);
  EXPECT_DOUBLE_EQ(StepsToReach(c, 3.0), 10.0);
  EXPECT_DOUBLE_EQ(StepsToReach(c, 1.0), -1.0);
}

// ---------------------------------------------------------------------------------------
// The judges of eval.

TEST(EvalJudgeTest, RenderedSceneIsRightAndWrongColorsAreNot) {
  Scene s;
  s.shape = 1, s.color = 0, s.size = 2, s.position = 0, s.background = 2, s.dx = 2, s.dy = -1;
  const std::string meta = json{
      {"shape", ShapeName(1)},
      {"color", ColorName(0)},
      {"size", SizeName(2)},
      {"position", PositionName(0)},
      {"background",
       ColorName(2)}}.dump();
  auto j = JudgeImage(RenderScene(s), meta);
  ASSERT_THAT(j, IsOk());
  EXPECT_TRUE(j->background && j->shape_color && j->region);
  Scene moved = s;
  moved.position = 1;  // right instead of left
  j = JudgeImage(RenderScene(moved), meta);
  ASSERT_THAT(j, IsOk());
  EXPECT_TRUE(j->background && j->shape_color);
  EXPECT_FALSE(j->region);
  Scene recolored = s;
  recolored.background = 4;
  j = JudgeImage(RenderScene(recolored), meta);
  ASSERT_THAT(j, IsOk());
  EXPECT_FALSE(j->background);
  EXPECT_THAT(JudgeImage(RenderScene(s), R"({"shape": "blob"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("meta")));
}

TEST(EvalJudgeTest, CaptionWordsAreTheFirstColorAndShape) {
  const CaptionWords w = ReadCaptionWords("A small Red circle on the left on a blue background.");
  EXPECT_EQ(w.color, "red");
  EXPECT_EQ(w.shape, "circle");
  EXPECT_EQ(ReadCaptionWords("nothing here").color, "");
}

// ---------------------------------------------------------------------------------------
// Training runs on a tiny demo data set (built once per binary).

class TrainDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    pool_ = new ThreadPool(2);
    has_speech_ = ProgramOnPath("espeak-ng");
    DemoOptions d;
    d.out = tmp_->path("demo");
    d.seed = 1;
    d.train_scenes = 24;
    d.heldout_scenes = 5;
    d.speech_scenes = has_speech_ ? 3 : 0;
    d.heldout_speech_scenes = has_speech_ ? 1 : 0;
    d.pool = pool_;
    ASSERT_THAT(MakeDemoData(d), IsOk());
    TokenizerTrainingOptions t;
    t.manifest = tmp_->path("demo/train.jsonl");
    t.out = tmp_->path("tok");
    t.text_vocab = 300;
    t.image_codes = 16;
    t.audio_codes = 16;
    t.audio_gain_levels = 2;
    t.kmeans_iterations = 4;
    t.pool = pool_;
    ASSERT_THAT(TrainTokenizers(t), IsOk());
    auto builder = LoadPromptBuilder(tmp_->path("tok"), 4096);
    ASSERT_THAT(builder, IsOk());
    PackOptions p;
    p.manifest = tmp_->path("demo/train.jsonl");
    p.out = tmp_->path("shards");
    p.pool = pool_;
    ASSERT_THAT(PackManifest(**builder, p), IsOk());
  }
  static void TearDownTestSuite() {
    delete pool_;
    delete tmp_;
  }

  // A tiny model, a few steps.
  static TrainOptions Tiny(const std::string& out) {
    TrainOptions o;
    o.data = tmp_->path("shards");
    o.tokenizers = tmp_->path("tok");
    o.out = out;
    o.dim = 32;
    o.layers = 1;
    o.heads = 2;
    o.ffn = 64;
    o.max_seq_len = 512;
    o.steps = 6;
    o.batch_tokens = 300;
    o.accum = 2;
    o.warmup = 2;
    o.save_every = 2;
    o.keep = 2;
    o.pool = pool_;
    o.progress = false;
    return o;
  }

  static std::vector<double> Losses(const std::string& metrics) {
    std::vector<double> out;
    std::ifstream in(metrics);
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line);
      if (j.contains("loss")) out.push_back(j["loss"].get<double>());
    }
    return out;
  }

  static testing::TempDir* tmp_;
  static ThreadPool* pool_;
  static bool has_speech_;
};
testing::TempDir* TrainDriverTest::tmp_ = nullptr;
ThreadPool* TrainDriverTest::pool_ = nullptr;
bool TrainDriverTest::has_speech_ = false;

TEST_F(TrainDriverTest, WritesStepCheckpointsLatestFinalAndMetrics) {
  testing::TempDir run;
  TrainOptions o = Tiny(run.path("run"));
  auto r = Train(o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->steps, 6);
  EXPECT_TRUE(std::isfinite(r->last_loss));
  // keep = 2: steps 4 and 6 remain, latest names 6.
  const auto steps = ListStepCheckpoints(o.out);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].first, 4);
  EXPECT_EQ(steps[1].first, 6);
  EXPECT_EQ(fs::read_symlink(fs::path(o.out) / kLatestLink).string(), StepDirName(6));
  auto step_ckpt = Checkpoint::Open(steps[1].second);
  ASSERT_THAT(step_ckpt, IsOk());
  EXPECT_NE(step_ckpt->OptionalFile(kTrainStateJson), "");
  EXPECT_NE(step_ckpt->OptionalFile(kTrainStateTensors), "");
  EXPECT_NE(step_ckpt->OptionalFile("tokenizer.json"), "");
  auto final_ckpt = Checkpoint::Open(r->final_dir);
  ASSERT_THAT(final_ckpt, IsOk());
  EXPECT_EQ(final_ckpt->config().dim, 32);
  EXPECT_EQ(final_ckpt->config().num_towers(), has_speech_ ? 3 : 2);
  const std::vector<double> losses = Losses(run.path("run/metrics.jsonl"));
  ASSERT_EQ(losses.size(), 6u);
  // A fresh run over the same directory needs --resume or --overwrite.
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("--resume")));
}

TEST_F(TrainDriverTest, FailedSaveKeepsThePreviousCheckpointAndResumeIsBitExact) {
  testing::TempDir run;
  TrainOptions full = Tiny(run.path("full"));
  ASSERT_THAT(Train(full), IsOk());
  const std::vector<double> want = Losses(run.path("full/metrics.jsonl"));

  TrainOptions o = Tiny(run.path("cut"));
  ::setenv(kSaveHookEnv, "fail@4", 1);  // the disk "fills" during the save of step 4
  absl::StatusOr<TrainReport> failed = Train(o);
  ::unsetenv(kSaveHookEnv);
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("step 4")));
  auto latest = FindLatestStepCheckpoint(o.out);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(fs::path(*latest).filename().string(), StepDirName(2));
  EXPECT_THAT(Checkpoint::Open(*latest), IsOk());
  EXPECT_FALSE(fs::exists(fs::path(o.out) / StepDirName(4)));

  o.resume = true;
  auto resumed = Train(o);
  ASSERT_THAT(resumed, IsOk());
  EXPECT_EQ(resumed->first_step, 2);
  const std::vector<double> got = Losses(run.path("cut/metrics.jsonl"));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "step " << i + 1;
}

TEST_F(TrainDriverTest, ResumeRejectsContradictingFlagsNamingTheField) {
  testing::TempDir run;
  TrainOptions o = Tiny(run.path("run"));
  o.steps = 2;
  ASSERT_THAT(Train(o), IsOk());
  TrainOptions again = o;
  again.resume = true;
  again.dim = 64;
  EXPECT_THAT(Train(again), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("field dim: --dim=64 contradicts")));
  again = o;
  again.resume = true;
  again.lr = 1e-2f;
  again.explicit_options = {"lr"};
  EXPECT_THAT(Train(again), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("field lr"), HasSubstr("train_state.json"))));
  again = o;
  again.resume = true;
  again.towers = TowerLayout::kDense;
  again.explicit_options = {"towers"};
  EXPECT_THAT(Train(again),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field towers")));
  // Left out, the saved value is taken: already at the last step, nothing more to do.
  again = o;
  again.resume = true;
  again.lr = 1e-2f;
  auto r = Train(again);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->first_step, 2);
}

TEST_F(TrainDriverTest, BadInputsNameTheFileAndField) {
  testing::TempDir run;
  TrainOptions o = Tiny(run.path("run"));
  o.tokenizers = run.path("no_such_dir");
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kNotFound, HasSubstr("config.json")));

  // A tokenizer config.json with a bad field.
  fs::copy(tmp_->path("tok"), run.path("badtok"));
  std::string text = testing::ReadText(run.path("badtok/config.json"));
  const size_t at = text.find("\"vocab_size\"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "\"vocab_sise\": 3, ");
  testing::WriteText(run.path("badtok/config.json"), text);
  o.tokenizers = run.path("badtok");
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                 AllOf(HasSubstr("badtok/config.json"), HasSubstr("vocab_sise"))));

  // Shards packed with another vocabulary.
  o = Tiny(run.path("run"));
  SmallShards(run.path("other_shards"), 4);
  o.data = run.path("other_shards");
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                 AllOf(HasSubstr("shards.json"), HasSubstr("vocab_size"))));

  // Bad options name the option.
  o = Tiny(run.path("run"));
  o.heads = 3;
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heads")));
  o = Tiny(run.path("run"));
  o.min_lr = 1.0f;
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_lr")));

  // A damaged training state on resume names its file.
  o = Tiny(run.path("run2"));
  o.steps = 2;
  ASSERT_THAT(Train(o), IsOk());
  const std::string state = run.path("run2/" + StepDirName(2) + "/" + kTrainStateJson);
  testing::WriteText(state, "{}");
  o.resume = true;
  EXPECT_THAT(Train(o), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(kTrainStateJson)));
}

TEST_F(TrainDriverTest, DenseBaselineTrainsOnTheSameShards) {
  testing::TempDir run;
  TrainOptions o = Tiny(run.path("dense"));
  o.towers = TowerLayout::kDense;
  o.steps = 2;
  o.val_data = tmp_->path("shards");
  o.val_examples = 8;
  auto r = Train(o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->config.num_towers(), 1);
  EXPECT_GT(r->final_val_loss, 0);
  // The validation line has a loss per modality although the model has one tower.
  std::ifstream in(run.path("dense/metrics.jsonl"));
  bool per_modality = false;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    per_modality = per_modality || (j.contains("val_loss_image") && j.contains("val_loss_text"));
  }
  EXPECT_TRUE(per_modality);
  EXPECT_THAT(Checkpoint::Open(r->final_dir), IsOk());
}

// The engine loads what the trainer wrote and generates every modality through it.
TEST_F(TrainDriverTest, TrainedCheckpointGeneratesTextImageAndSpeechInTheEngine) {
  testing::TempDir run;
  TrainOptions o = Tiny(run.path("run"));
  o.steps = 2;
  auto r = Train(o);
  ASSERT_THAT(r, IsOk());
  auto ckpt = Checkpoint::Open(r->final_dir);
  ASSERT_THAT(ckpt, IsOk());
  backend::cpu::CpuBackend backend(pool_);
  auto engine = engine::Engine::Create({}, &*ckpt, &backend);
  ASSERT_THAT(engine, IsOk());
  const tokenizer::Part text{tokenizer::Modality::kText, "a small red circle"};
  auto generate = [&](uint32_t modality, bool image, bool audio, engine::EventKind want) {
    engine::GenerateRequest req;
    req.request_id = std::to_string(modality);
    req.prompt = *(*engine)->prompt_builder().Build(std::span<const tokenizer::Part>(&text, 1));
    req.sampling.temperature = 0;
    req.sampling.allowed_modalities = modality;
    req.sampling.force_image_start = image;
    req.sampling.force_audio_start = audio;
    req.sampling.max_new_tokens = audio ? 40 : 80;
    req.sampling.max_audio_codes = 30;
    auto h = (*engine)->Submit(std::move(req));
    EXPECT_THAT(h, IsOk());
    std::string got;
    bool finished = false;
    while (auto ev = (*h)->Next()) {
      if (ev->kind == engine::EventKind::kTextDelta && want == ev->kind) got += ev->text;
      if (ev->kind == want && want != engine::EventKind::kTextDelta) got = ev->data;
      if (ev->kind == engine::EventKind::kFinished) {
        EXPECT_NE(ev->reason, engine::FinishReason::kError) << ev->status;
        finished = true;
      }
    }
    EXPECT_TRUE(finished);
    return got;
  };
  EXPECT_FALSE(generate(sampling::kText, false, false, engine::EventKind::kTextDelta).empty());
  const std::string png =
      generate(sampling::kImage, true, false, engine::EventKind::kImageFinished);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  if (has_speech_) {
    const std::string wav =
        generate(sampling::kAudio, false, true, engine::EventKind::kAudioFinished);
    ASSERT_GT(wav.size(), 12u);
    EXPECT_EQ(wav.substr(0, 4), "RIFF");
  }
}

// A real kill: the mot-train binary is SIGKILLed while it pauses inside the save of step 4
// (MOT_TRAIN_SAVE_HOOK); the checkpoint of step 2 stays the latest, loads, and --resume
// finishes the run with the losses of an uninterrupted one, bit for bit.
TEST_F(TrainDriverTest, KillDuringSaveLeavesPreviousCheckpointAndResumeIsBitExact) {
  testing::TempDir run;
  auto args = [&](const std::string& out, bool resume) {
    std::vector<std::string> a = {
        MOT_TRAIN_BIN,     "train",          "--data",     tmp_->path("shards"), "--tokenizers",
        tmp_->path("tok"), "--out",          out,          "--dim=32",           "--layers=1",
        "--heads=2",       "--ffn=64",       "--steps=6",  "--batch_tokens=300", "--accum=2",
        "--warmup=2",      "--save_every=2", "--threads=2"};
    if (resume) a.push_back("--resume");
    return a;
  };
  auto spawn = [](const std::vector<std::string>& a, const char* hook) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (hook != nullptr) ::setenv(kSaveHookEnv, hook, 1);
      std::vector<char*> argv;
      for (const std::string& s : a) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  };
  auto wait_exit = [](pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  };
  const std::string full = run.path("full"), cut = run.path("cut");
  int status = wait_exit(spawn(args(full, false), nullptr));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const pid_t pid = spawn(args(cut, false), "pause:120@4");
  const fs::path staged = fs::path(cut) / (".saving-" + StepDirName(4));
  // Wait until the staged checkpoint of step 4 is complete (its manifest is written last).
  bool paused = false;
  for (int i = 0; i < 1200 && !paused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    paused = fs::exists(staged / "manifest.json");
  }
  ASSERT_TRUE(paused) << "the trainer never reached the save of step 4";
  ::kill(pid, SIGKILL);
  status = wait_exit(pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto latest = FindLatestStepCheckpoint(cut);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(fs::path(*latest).filename().string(), StepDirName(2));
  EXPECT_THAT(Checkpoint::Open(*latest), IsOk());

  status = wait_exit(spawn(args(cut, true), nullptr));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(fs::exists(staged));  // the leftover was cleaned up
  const std::vector<double> want = Losses(full + "/metrics.jsonl");
  const std::vector<double> got = Losses(cut + "/metrics.jsonl");
  ASSERT_EQ(want.size(), 6u);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "step " << i + 1;
}

}  // namespace
}  // namespace mot::trainer
