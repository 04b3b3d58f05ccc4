// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The batched engine end to end on a tiny random three-tower model with real tokenizers:
// streaming events, forced image and audio frames, batch invariance (alone vs 31 others,
// prefix-cache hit, preemption), cancellation in every state, linked guidance rows, bad
// input, and a 64-request random workload with the invariant checker on every step.
#include "engine/engine.h"

#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tiny_checkpoint.h"

namespace mot::engine {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

// What one request streamed, in a form two runs can be compared by.
struct Output {
  std::string text;
  std::vector<std::vector<int32_t>> images, audios;
  std::vector<std::string> pngs, wavs;
  std::vector<EventKind> kinds;
  FinishReason reason = FinishReason::kError;
  absl::Status status;
  ModalityUsage usage[3];
  int progress_events = 0;

  bool SameTokens(const Output& o) const {
    return text == o.text && images == o.images && audios == o.audios && reason == o.reason;
  }
};

Output Collect(RequestHandle& h) {
  Output out;
  while (std::optional<Event> e = h.Next()) {
    out.kinds.push_back(e->kind);
    switch (e->kind) {
      case EventKind::kTextDelta:
        out.text += e->text;
        break;
      case EventKind::kImageProgress:
        ++out.progress_events;
        break;
      case EventKind::kImageFinished:
        out.images.push_back(e->token_ids);
        out.pngs.push_back(e->data);
        break;
      case EventKind::kAudioFinished:
        out.audios.push_back(e->token_ids);
        out.wavs.push_back(e->data);
        break;
      case EventKind::kUsage:
        for (int i = 0; i < 3; ++i) out.usage[i] = e->usage[i];
        break;
      case EventKind::kFinished:
        out.reason = e->reason;
        out.status = e->status;
        break;
      default:
        break;
    }
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(absl::StrCat(::testing::TempDir(), "/engine_test_ckpt_", getpid()));
    ASSERT_THAT(mot::testing::WriteTinyCheckpoint(*dir_), IsOk());
    auto ckpt = Checkpoint::Open(*dir_);
    ASSERT_THAT(ckpt, IsOk());
    checkpoint_ = new Checkpoint(*std::move(ckpt));
    pool_ = new ThreadPool(2);
    backend_ = new backend::cpu::CpuBackend(pool_);
    backend_->set_batch_invariant(true);
  }
  static void TearDownTestSuite() {
    delete backend_;
    delete pool_;
    delete checkpoint_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static EngineOptions SmallOptions() {
    EngineOptions o;
    o.kv_budget_bytes = 8 << 20;
    o.max_step_tokens = 64;
    o.max_running = 40;
    o.check_invariants = true;
    return o;
  }

  std::unique_ptr<Engine> MakeEngine(const EngineOptions& o) {
    auto e = Engine::Create(o, checkpoint_, backend_);
    EXPECT_THAT(e, IsOk());
    return e.ok() ? *std::move(e) : nullptr;
  }

  static tokenizer::Prompt TextPrompt(const Engine& e, const std::string& text) {
    std::vector<tokenizer::Part> parts = {{tokenizer::Modality::kText, text}};
    auto p = e.prompt_builder().Build(parts);
    EXPECT_THAT(p, IsOk());
    return p.ok() ? *std::move(p) : tokenizer::Prompt{};
  }

  static GenerateRequest Request(const Engine& e, const std::string& id, const std::string& text,
                                 uint64_t seed) {
    GenerateRequest r;
    r.request_id = id;
    r.prompt = TextPrompt(e, text);
    r.sampling.seed = seed;
    r.sampling.temperature = 1.0f;
    r.sampling.max_new_tokens = 24;
    r.sampling.allowed_modalities = sampling::kText | sampling::kImage | sampling::kAudio;
    return r;
  }

  // Waits until the engine's loop has freed every block (stats are published per step).
  static void ExpectAllBlocksFree(const Engine& e) {
    EngineStats s;
    for (int i = 0; i < 500; ++i) {
      s = e.Stats();
      bool free = s.running == 0;
      for (const PoolStats& p : s.pools) free = free && p.blocks_used == 0;
      if (free) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(s.running, 0);
    for (size_t p = 0; p < s.pools.size(); ++p) {
      EXPECT_EQ(s.pools[p].blocks_used, 0) << "pool " << p;
      EXPECT_EQ(s.pools[p].blocks_free, s.pools[p].blocks_total) << "pool " << p;
    }
    EXPECT_EQ(s.invariant_error, "");
  }

  static std::string* dir_;
  static Checkpoint* checkpoint_;
  static ThreadPool* pool_;
  static backend::cpu::CpuBackend* backend_;
};
std::string* EngineTest::dir_ = nullptr;
Checkpoint* EngineTest::checkpoint_ = nullptr;
ThreadPool* EngineTest::pool_ = nullptr;
backend::cpu::CpuBackend* EngineTest::backend_ = nullptr;

TEST_F(EngineTest, StreamsTextThenUsageThenFinish) {
  auto engine = MakeEngine(SmallOptions());
  GenerateRequest r = Request(*engine, "a", "hello world", 7);
  r.sampling.allowed_modalities = sampling::kText;
  r.sampling.max_new_tokens = 10;
  auto h = engine->Submit(r);
  ASSERT_THAT(h, IsOk());
  Output out = Collect(**h);
  ASSERT_GE(out.kinds.size(), 2u);
  EXPECT_EQ(out.kinds.back(), EventKind::kFinished);
  EXPECT_EQ(out.kinds[out.kinds.size() - 2], EventKind::kUsage);
  EXPECT_TRUE(out.reason == FinishReason::kLength || out.reason == FinishReason::kStop);
  EXPECT_TRUE(out.images.empty());
  EXPECT_TRUE(out.audios.empty());
  EXPECT_GT(out.usage[0].prompt_tokens, 0);
  EXPECT_GE(out.usage[0].generated_tokens, 1);
  EXPECT_LE(out.usage[0].generated_tokens, 10);
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, ForcedImageStartGivesOneWholeImageAsPng) {
  auto engine = MakeEngine(SmallOptions());
  const int tpi = static_cast<int>(engine->prompt_builder().image()->tokens_per_image());
  GenerateRequest r = Request(*engine, "img", "a red circle", 3);
  r.sampling.allowed_modalities = sampling::kText | sampling::kImage;
  r.sampling.force_image_start = true;
  r.sampling.max_new_tokens = tpi + 2;
  auto h = engine->Submit(r);
  ASSERT_THAT(h, IsOk());
  Output out = Collect(**h);
  ASSERT_EQ(out.images.size(), 1u) << out.status;
  EXPECT_EQ(static_cast<int>(out.images[0].size()), tpi);
  EXPECT_EQ(out.kinds.front(), EventKind::kImageStarted);
  EXPECT_EQ(out.progress_events, tpi);
  ASSERT_GE(out.pngs[0].size(), 8u);
  EXPECT_EQ(out.pngs[0].substr(1, 3), "PNG");
  EXPECT_EQ(out.usage[1].generated_tokens, tpi + 2);
  EXPECT_EQ(out.reason, FinishReason::kLength);
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, ForcedAudioStartEndsAtTheCodeLimitAsWav) {
  auto engine = MakeEngine(SmallOptions());
  GenerateRequest r = Request(*engine, "aud", "say something nice", 5);
  r.sampling.allowed_modalities = sampling::kText | sampling::kAudio;
  r.sampling.force_audio_start = true;
  r.sampling.max_audio_codes = 12;
  r.sampling.max_new_tokens = 40;
  auto h = engine->Submit(r);
  ASSERT_THAT(h, IsOk());
  Output out = Collect(**h);
  ASSERT_GE(out.audios.size(), 1u) << out.status;
  EXPECT_GE(out.audios[0].size(), 1u);
  EXPECT_LE(out.audios[0].size(), 12u);
  EXPECT_EQ(out.wavs[0].substr(0, 4), "RIFF");
  ExpectAllBlocksFree(*engine);
}

// Runs each request alone, then all of them at once: every request must stream the same
// tokens (batch invariance; the backend runs in batch-invariant mode).
TEST_F(EngineTest, SameTokensAloneAndBatchedWith31Others) {
  EngineOptions o = SmallOptions();
  auto engine = MakeEngine(o);
  std::vector<GenerateRequest> reqs;
  const char* texts[] = {"hello world", "the quick brown fox", "a picture of a cat",
                         "listen to this sound"};
  for (int i = 0; i < 32; ++i) {
    reqs.push_back(Request(*engine, absl::StrCat("r", i), absl::StrCat(texts[i % 4], " ", i), i));
    if (i % 3 == 1) reqs.back().sampling.force_image_start = true;
    if (i % 5 == 2) reqs.back().sampling.temperature = 0;
  }
  std::vector<Output> alone;
  for (const GenerateRequest& r : reqs) {
    GenerateRequest copy = r;
    copy.request_id += "-alone";
    auto h = engine->Submit(copy);
    ASSERT_THAT(h, IsOk());
    alone.push_back(Collect(**h));
  }
  std::vector<std::unique_ptr<RequestHandle>> handles;
  for (const GenerateRequest& r : reqs) {
    auto h = engine->Submit(r);
    ASSERT_THAT(h, IsOk());
    handles.push_back(*std::move(h));
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    Output batched = Collect(*handles[i]);
    EXPECT_TRUE(batched.SameTokens(alone[i]))
        << "request " << i << ": alone '" << alone[i].text << "' batched '" << batched.text << "'";
  }
  EXPECT_GT(engine->Stats().steps, 0);
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, PrefixCacheHitGivesSameTokensAndSkipsPrefill) {
  auto engine = MakeEngine(SmallOptions());
  std::string long_text;
  for (int i = 0; i < 12; ++i) long_text += "the quick brown fox jumps over the lazy dog ";
  GenerateRequest r = Request(*engine, "first", long_text, 11);
  auto h1 = engine->Submit(r);
  ASSERT_THAT(h1, IsOk());
  Output first = Collect(**h1);
  const int64_t hits_before = engine->Stats().prefix_hits;
  r.request_id = "second";
  auto h2 = engine->Submit(r);
  ASSERT_THAT(h2, IsOk());
  Output second = Collect(**h2);
  EXPECT_EQ(first.usage[0].cached_prompt_tokens, 0);
  EXPECT_GT(second.usage[0].cached_prompt_tokens, 16);
  EXPECT_GT(engine->Stats().prefix_hits, hits_before);
  EXPECT_TRUE(second.SameTokens(first)) << first.text << " vs " << second.text;
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, PreemptedRequestsGiveTheSameTokens) {
  // Reference outputs with plenty of blocks.
  auto big = MakeEngine(SmallOptions());
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 8; ++i) {
    reqs.push_back(Request(*big, absl::StrCat("p", i), absl::StrCat("hello there number ", i), i));
    reqs.back().sampling.max_new_tokens = 40;
  }
  std::vector<Output> ref;
  for (const GenerateRequest& r : reqs) {
    auto h = big->Submit(r);
    ASSERT_THAT(h, IsOk());
    ref.push_back(Collect(**h));
  }
  // Pools far too small for all eight at once: the scheduler must preempt and resume.
  EngineOptions o = SmallOptions();
  o.blocks_per_pool = {14, 10, 10};
  o.block_size = 8;
  auto small = MakeEngine(o);
  std::vector<std::unique_ptr<RequestHandle>> handles;
  for (const GenerateRequest& r : reqs) {
    auto h = small->Submit(r);
    ASSERT_THAT(h, IsOk());
    handles.push_back(*std::move(h));
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    Output out = Collect(*handles[i]);
    EXPECT_TRUE(out.SameTokens(ref[i])) << "request " << i << ": " << out.status;
  }
  EXPECT_GT(small->Stats().preemptions, 0);
  ExpectAllBlocksFree(*small);
}

TEST_F(EngineTest, CancelWhileQueuedMidPrefillAndMidImage) {
  EngineOptions o = SmallOptions();
  o.max_running = 1;
  o.max_step_tokens = 8;
  auto engine = MakeEngine(o);
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "listen to this sound ";
  // Mid-prefill: a long prompt prefilled 8 tokens a step.
  auto running = engine->Submit(Request(*engine, "long", long_text, 1));
  ASSERT_THAT(running, IsOk());
  // Queued behind it (one sequence runs at a time).
  auto queued = engine->Submit(Request(*engine, "queued", "hello", 2));
  ASSERT_THAT(queued, IsOk());
  ASSERT_THAT(engine->Cancel("queued"), IsOk());
  ASSERT_THAT(engine->Cancel("long"), IsOk());
  EXPECT_EQ(Collect(**queued).reason, FinishReason::kCancelled);
  EXPECT_EQ(Collect(**running).reason, FinishReason::kCancelled);
  EXPECT_THAT(engine->Cancel("long"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("long")));

  // Mid-image: cancel after the first progress event.
  GenerateRequest r = Request(*engine, "image", "a red circle", 4);
  r.sampling.force_image_start = true;
  r.sampling.max_new_tokens = 100;
  auto h = engine->Submit(r);
  ASSERT_THAT(h, IsOk());
  FinishReason reason = FinishReason::kError;
  bool cancelled = false;
  while (std::optional<Event> e = (*h)->Next()) {
    if (e->kind == EventKind::kImageProgress && !cancelled) {
      ASSERT_THAT(engine->Cancel("image"), IsOk());
      cancelled = true;
    }
    if (e->kind == EventKind::kFinished) reason = e->reason;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(reason, FinishReason::kCancelled);
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, DroppingAHandleCancelsItsRequest) {
  auto engine = MakeEngine(SmallOptions());
  GenerateRequest r = Request(*engine, "dropped", "hello world", 9);
  r.sampling.max_new_tokens = 500;
  {
    auto h = engine->Submit(r);
    ASSERT_THAT(h, IsOk());
    (*h)->Next();
  }
  ExpectAllBlocksFree(*engine);
  // The id is free again once the cancel went through.
  for (int i = 0; i < 200; ++i) {
    auto again = engine->Submit(r);
    if (again.ok()) {
      ASSERT_THAT(engine->Cancel("dropped"), IsOk());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "request id never freed";
}

TEST_F(EngineTest, GuidanceWithScalesOfOneGivesTheConditionalTokens) {
  auto engine = MakeEngine(SmallOptions());
  GenerateRequest plain = Request(*engine, "plain", "a small green square", 21);
  plain.sampling.allowed_modalities = sampling::kText | sampling::kImage;
  plain.sampling.force_image_start = true;
  plain.sampling.max_new_tokens = 20;
  auto h1 = engine->Submit(plain);
  ASSERT_THAT(h1, IsOk());
  Output a = Collect(**h1);

  GenerateRequest guided = plain;
  guided.request_id = "guided";
  guided.unconditional_prompt.ids = {engine->prompt_builder().vocab().bos_id()};
  auto h2 = engine->Submit(guided);
  ASSERT_THAT(h2, IsOk());
  Output b = Collect(**h2);
  EXPECT_TRUE(a.SameTokens(b));
  ASSERT_EQ(a.images.size(), 1u);

  // Real guidance changes the image codes (almost surely) and still gives a whole image.
  guided.request_id = "guided3";
  guided.sampling.text_guidance = 3.0f;
  guided.sampling.image_guidance = 1.5f;
  auto h3 = engine->Submit(guided);
  ASSERT_THAT(h3, IsOk());
  Output c = Collect(**h3);
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_EQ(c.images[0].size(), a.images[0].size());
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, BadRequestsNameTheFieldAndOthersKeepRunning) {
  EngineOptions o = SmallOptions();
  o.blocks_per_pool = {64, 4, 4};
  auto engine = MakeEngine(o);
  // A long request that is still running while the bad ones are refused: 900 tokens fit its
  // 64 text blocks, so it lives for 900 steps.
  GenerateRequest good_request = Request(*engine, "good", "hello world", 1);
  good_request.sampling.max_new_tokens = 900;
  good_request.sampling.allowed_modalities = sampling::kText;
  good_request.sampling.logit_bias = {{engine->prompt_builder().vocab().eos_id(), -1e4f}};
  auto ok = engine->Submit(good_request);
  ASSERT_THAT(ok, IsOk());
  // First, while "good" surely runs (900 steps; this Submit follows its own at once). Later
  // in the table it could already have ended on a fast machine, freeing the id again.
  {
    GenerateRequest r = Request(*engine, "good", "hello world", 2);
    EXPECT_THAT(engine->Submit(r), StatusIs(absl::StatusCode::kAlreadyExists,
                                            HasSubstr("request_id: 'good' is already in use")));
  }
  const int32_t vocab = engine->prompt_builder().vocab().size();

  struct Case {
    std::string name;
    std::function<void(GenerateRequest&)> edit;
    absl::StatusCode code;
    std::string message;
  };
  std::string huge;
  for (int i = 0; i < 60; ++i) huge += "the quick brown fox jumps ";
  std::vector<Case> cases = {
      {"id out of range", [&](GenerateRequest& r) { r.prompt.ids[0] = vocab; },
       absl::StatusCode::kInvalidArgument, "prompt.ids[0]"},
      {"negative id", [&](GenerateRequest& r) { r.prompt.ids[1] = -3; },
       absl::StatusCode::kInvalidArgument, "prompt.ids[1]"},
      {"tower disagrees", [&](GenerateRequest& r) { r.prompt.towers[1] = 2; },
       absl::StatusCode::kInvalidArgument, "prompt.towers[1]"},
      {"empty prompt", [&](GenerateRequest& r) { r.prompt = {}; },
       absl::StatusCode::kInvalidArgument, "prompt.ids"},
      {"top_p", [&](GenerateRequest& r) { r.sampling.top_p = 1.5f; },
       absl::StatusCode::kInvalidArgument, "top_p"},
      {"max tokens 0", [&](GenerateRequest& r) { r.sampling.max_new_tokens = 0; },
       absl::StatusCode::kInvalidArgument, "max_new_tokens"},
      {"image required but not allowed",
       [&](GenerateRequest& r) {
         r.sampling.allowed_modalities = sampling::kText;
         r.sampling.force_image_start = true;
       },
       absl::StatusCode::kInvalidArgument, "force_image_start"},
      {"empty id", [&](GenerateRequest& r) { r.request_id = ""; },
       absl::StatusCode::kInvalidArgument, "request_id"},
  };
  for (const Case& c : cases) {
    GenerateRequest r = Request(*engine, "bad", "hello world", 2);
    c.edit(r);
    EXPECT_THAT(engine->Submit(r), StatusIs(c.code, HasSubstr(c.message))) << c.name;
  }
  {
    // A prompt larger than its pool, on an engine whose text pool holds 4 blocks.
    EngineOptions small = SmallOptions();
    small.blocks_per_pool = {4, 4, 4};
    auto tight = MakeEngine(small);
    GenerateRequest r = Request(*tight, "bad", "hello world", 2);
    r.prompt = TextPrompt(*tight, huge);
    EXPECT_THAT(tight->Submit(r),
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("pool 0")));
  }
  Output good = Collect(**ok);
  EXPECT_NE(good.reason, FinishReason::kError) << good.status;
  EXPECT_GT(good.usage[0].generated_tokens, 0);
  ExpectAllBlocksFree(*engine);
}

TEST_F(EngineTest, QueueFullIsRefusedWithResourceExhausted) {
  EngineOptions o = SmallOptions();
  o.max_queue = 2;
  o.max_running = 1;
  auto engine = MakeEngine(o);
  std::vector<std::unique_ptr<RequestHandle>> handles;
  absl::Status refused;
  for (int i = 0; i < 20 && refused.ok(); ++i) {
    GenerateRequest r = Request(*engine, absl::StrCat("q", i), "hello world", i);
    r.sampling.max_new_tokens = 200;
    auto h = engine->Submit(r);
    if (h.ok()) {
      handles.push_back(*std::move(h));
    } else {
      refused = h.status();
    }
  }
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("queue full")));
  for (auto& h : handles) ASSERT_THAT(engine->Cancel(h->request_id()), IsOk());
  for (auto& h : handles) EXPECT_EQ(Collect(*h).reason, FinishReason::kCancelled);
  ExpectAllBlocksFree(*engine);
}

// 64 requests with mixed lengths, modalities, priorities, guidance and cancellations, on
// pools small enough to force preemption; the block manager's and the scheduler's
// invariants are checked after every step.
TEST_F(EngineTest, RandomWorkloadOf64RequestsKeepsInvariantsAndFreesEverything) {
  EngineOptions o = SmallOptions();
  o.blocks_per_pool = {40, 24, 24};
  o.block_size = 8;
  o.max_step_tokens = 48;
  o.max_running = 24;
  auto engine = MakeEngine(o);
  std::mt19937 rng(1234);
  std::vector<std::unique_ptr<RequestHandle>> handles;
  std::vector<bool> cancel;
  const char* words[] = {"hello", "world", "the", "quick", "fox", "cat", "sound", "picture"};
  for (int i = 0; i < 64; ++i) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int w = 0; w < n; ++w) absl::StrAppend(&text, words[rng() % 8], " ");
    GenerateRequest r = Request(*engine, absl::StrCat("w", i), text, rng());
    r.priority = static_cast<int32_t>(rng() % 3);
    r.sampling.max_new_tokens = 1 + static_cast<int32_t>(rng() % 30);
    const uint32_t kind = rng() % 4;
    const int32_t tpi = static_cast<int32_t>(engine->prompt_builder().image()->tokens_per_image());
    if (kind == 1 || kind == 3) r.sampling.max_new_tokens += tpi + 2;
    if (kind == 1) r.sampling.force_image_start = true;
    if (kind == 2) {
      r.sampling.force_audio_start = true;
      r.sampling.max_audio_codes = 8;
    }
    if (kind == 3 && rng() % 2) {
      r.sampling.force_image_start = true;
      r.sampling.text_guidance = 2.0f;
    }
    auto h = engine->Submit(r);
    ASSERT_THAT(h, IsOk());
    handles.push_back(*std::move(h));
    cancel.push_back(rng() % 6 == 0);
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    if (cancel[i]) engine->Cancel(handles[i]->request_id()).IgnoreError();  // may be done
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    Output out = Collect(*handles[i]);
    EXPECT_NE(out.reason, FinishReason::kError) << i << ": " << out.status;
    if (!cancel[i]) {
      EXPECT_NE(out.reason, FinishReason::kCancelled) << i;
    }
  }
  EXPECT_EQ(engine->Stats().invariant_error, "");
  ExpectAllBlocksFree(*engine);
}

}  // namespace
}  // namespace mot::engine
