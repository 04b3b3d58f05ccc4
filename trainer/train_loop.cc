// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/train_loop.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/status_macros.h"
#include "model_loaders/checkpoint.h"
#include "nlohmann/json.hpp"
#include "trainer/adamw.h"
#include "trainer/atomic_dir.h"
#include "trainer/batch_stream.h"
#include "trainer/progress.h"
#include "trainer/run_dir.h"
#include "trainer/shard.h"
#include "trainer/tokenizer_dir.h"
#include "trainer/train_model.h"

namespace mot::trainer {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "image_tokenizer.safetensors",
                                           "audio_tokenizer.safetensors"};
constexpr int kStateVersion = 1;

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return s;
}

absl::Status OptionError(const std::string& option, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", message));
}

absl::Status CheckOptions(const TrainOptions& o) {
  if (o.pool == nullptr) return absl::InvalidArgumentError("train: no thread pool");
  if (o.data.empty()) return OptionError("data", "is required");
  if (o.tokenizers.empty()) return OptionError("tokenizers", "is required");
  if (o.out.empty()) return OptionError("out", "is required");
  if (o.steps < 1) return OptionError("steps", absl::StrCat("must be >= 1, got ", o.steps));
  if (o.batch_tokens < 2) return OptionError("batch_tokens", "must be >= 2");
  if (o.accum < 1) return OptionError("accum", "must be >= 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) return OptionError("lr", "must be > 0");
  if (!(o.min_lr >= 0) || o.min_lr > o.lr) return OptionError("min_lr", "must be in [0, lr]");
  if (o.warmup < 0) return OptionError("warmup", "must be >= 0");
  if (!(o.clip >= 0)) return OptionError("clip", "must be >= 0");
  if (!(o.weight_decay >= 0)) return OptionError("weight_decay", "must be >= 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) return OptionError("beta1", "must be in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) return OptionError("beta2", "must be in [0, 1)");
  if (!(o.eps > 0)) return OptionError("eps", "must be > 0");
  if (o.save_every < 0) return OptionError("save_every", "must be >= 0");
  if (o.keep < 1) return OptionError("keep", "must be >= 1");
  if (o.eval_every < 0) return OptionError("eval_every", "must be >= 0");
  if (o.val_examples < 0) return OptionError("val_examples", "must be >= 0");
  for (const auto& [name, v] : {std::pair{"dim", o.dim},
                                {"layers", o.layers},
                                {"heads", o.heads},
                                {"kv_heads", o.kv_heads},
                                {"ffn", o.ffn},
                                {"max_seq_len", o.max_seq_len}}) {
    if (v < 0) return OptionError(name, absl::StrCat("must be >= 0 (0: default), got ", v));
  }
  return absl::OkStatus();
}

// The schedule and optimizer options saved in train_state.json and checked on resume.
json ScheduleJson(const TrainOptions& o) {
  return {{"steps", o.steps},   {"batch_tokens", o.batch_tokens},
          {"accum", o.accum},   {"lr", o.lr},
          {"min_lr", o.min_lr}, {"warmup", o.warmup},
          {"clip", o.clip},     {"weight_decay", o.weight_decay},
          {"beta1", o.beta1},   {"beta2", o.beta2},
          {"eps", o.eps},       {"seed", o.seed}};
}

// Takes the saved schedule into `o`, or fails on an explicit option that differs.
absl::Status ApplySavedSchedule(const json& saved, const std::string& file, TrainOptions* o) {
  auto take = [&](const char* name, auto* field) -> absl::Status {
    using T = std::decay_t<decltype(*field)>;
    if (!saved.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": field options.", name, ": missing"));
    }
    T value{};
    try {
      value = saved.at(name).get<T>();
    } catch (const json::exception&) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": field options.", name, ": wrong type"));
    }
    if (o->explicit_options.count(name) > 0 && value != *field) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", name, ": --", name, "=", *field, " contradicts the resumed run (",
                       file, ": ", name, " = ", value, "); leave it out or start a new run"));
    }
    *field = value;
    return absl::OkStatus();
  };
  MOT_RETURN_IF_ERROR(take("steps", &o->steps));
  MOT_RETURN_IF_ERROR(take("batch_tokens", &o->batch_tokens));
  MOT_RETURN_IF_ERROR(take("accum", &o->accum));
  MOT_RETURN_IF_ERROR(take("lr", &o->lr));
  MOT_RETURN_IF_ERROR(take("min_lr", &o->min_lr));
  MOT_RETURN_IF_ERROR(take("warmup", &o->warmup));
  MOT_RETURN_IF_ERROR(take("clip", &o->clip));
  MOT_RETURN_IF_ERROR(take("weight_decay", &o->weight_decay));
  MOT_RETURN_IF_ERROR(take("beta1", &o->beta1));
  MOT_RETURN_IF_ERROR(take("beta2", &o->beta2));
  MOT_RETURN_IF_ERROR(take("eps", &o->eps));
  MOT_RETURN_IF_ERROR(take("seed", &o->seed));
  return absl::OkStatus();
}

// Each model field given on the command line must equal the resumed checkpoint's.
absl::Status CheckModelAgainst(const TrainOptions& o, const MotConfig& c, const std::string& file) {
  const bool dense = c.num_towers() == 1;
  if (o.explicit_options.count("towers") > 0 && (o.towers == TowerLayout::kDense) != dense) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field towers: --towers=", o.towers == TowerLayout::kDense ? "dense" : "mot",
        " contradicts the resumed checkpoint (", file, ": ", c.num_towers(), " tower(s))"));
  }
  for (const auto& [flag, field, want, have] :
       {std::tuple{"dim", "dim", o.dim, c.dim},
        {"layers", "n_layers", o.layers, c.n_layers},
        {"heads", "n_heads", o.heads, c.n_heads},
        {"kv_heads", "n_kv_heads", o.kv_heads, c.n_kv_heads},
        {"ffn", "ffn_hidden", o.ffn, c.ffn_hidden},
        {"max_seq_len", "max_seq_len", o.max_seq_len, c.max_seq_len}}) {
    if (want != 0 && want != have) {
      return absl::InvalidArgumentError(absl::StrCat("field ", field, ": --", flag, "=", want,
                                                     " contradicts the resumed checkpoint (", file,
                                                     ": ", field, " = ", have, ")"));
    }
  }
  return absl::OkStatus();
}

struct LossSums {
  double sum = 0;
  int64_t count = 0;
  std::vector<double> sum_m;
  std::vector<int64_t> count_m;
  explicit LossSums(size_t m) : sum_m(m, 0.0), count_m(m, 0) {}
  double Mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
  double Mean(size_t m) const {
    return count_m[m] > 0 ? sum_m[m] / static_cast<double>(count_m[m]) : 0.0;
  }
};

// Validation loss, overall and per modality of the predicted token. A MoT model reports per
// tower, which is the modality; a dense model's one tower is split by masking the loss to
// one modality at a time.
absl::StatusOr<LossSums> ValidationLoss(TrainModel& model, const std::vector<Batch>& batches,
                                        size_t modalities) {
  LossSums sums(modalities);
  const bool dense = model.config().num_towers() == 1 && modalities > 1;
  for (const Batch& b : batches) {
    if (!dense) {
      MOT_ASSIGN_OR_RETURN(StepStats s, model.Evaluate(b.batch));
      for (size_t m = 0; m < modalities; ++m) {
        sums.sum_m[m] += s.loss_per_tower[m] * static_cast<double>(s.predicted_per_tower[m]);
        sums.count_m[m] += s.predicted_per_tower[m];
      }
      continue;
    }
    for (size_t m = 0; m < modalities; ++m) {
      TrainBatch masked = b.batch;
      bool any = false;
      for (size_t i = 0; i < masked.loss_mask.size(); ++i) {
        masked.loss_mask[i] = masked.loss_mask[i] != 0 && b.modality[i] == m;
        any = any || masked.loss_mask[i] != 0;
      }
      if (!any) continue;
      MOT_ASSIGN_OR_RETURN(StepStats s, model.Evaluate(masked));
      sums.sum_m[m] += s.loss * static_cast<double>(s.predicted);
      sums.count_m[m] += s.predicted;
    }
  }
  for (size_t m = 0; m < modalities; ++m) {
    sums.sum += sums.sum_m[m];
    sums.count += sums.count_m[m];
  }
  return sums;
}

// Keeps the metrics lines of steps <= `step` (a resumed run rewrites what came after).
absl::Status TruncateMetrics(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::OkStatus();
  MOT_ASSIGN_OR_RETURN(std::string text, ReadWhole(path));
  std::string kept;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    if (j["step"].get<int64_t>() > step) continue;
    absl::StrAppend(&kept, line, "\n");
  }
  const std::string tmp = path + ".tmp";
  MOT_RETURN_IF_ERROR(WriteFileSynced(tmp, kept));
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  return absl::OkStatus();
}

class MetricsWriter {
 public:
  absl::Status Open(const std::string& path) {
    std::error_code ec;
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
    file_ = std::fopen(path.c_str(), "a");
    if (file_ == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot open ", path));
    return absl::OkStatus();
  }
  ~MetricsWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }
  // One line, flushed, so a killed run keeps every step it logged.
  void Write(const json& j) {
    const std::string line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace

absl::StatusOr<MotConfig> BuildModelConfig(const TrainOptions& o, const MotConfig& vocab) {
  MotConfig c = vocab;
  c.dim = o.dim > 0 ? o.dim : 128;
  c.n_layers = o.layers > 0 ? o.layers : 2;
  c.n_heads = o.heads > 0 ? o.heads : 4;
  c.n_kv_heads = o.kv_heads > 0 ? o.kv_heads : c.n_heads;
  if (c.dim % c.n_heads != 0) {
    return OptionError("heads", absl::StrCat("must divide --dim=", c.dim, ", got ", c.n_heads));
  }
  c.head_dim = c.dim / c.n_heads;
  c.ffn_hidden = o.ffn > 0 ? o.ffn : (8 * c.dim / 3 + 31) / 32 * 32;
  c.max_seq_len = o.max_seq_len > 0 ? o.max_seq_len : 512;
  c.norm_placement = NormPlacement::kPre;
  c.norm_type = NormType::kRms;
  c.qk_norm = false;
  c.tie_embeddings = false;
  if (o.towers == TowerLayout::kDense) {
    // One tower of the same width; its name is the text tower's, since special tokens and
    // text live there in every layout.
    c.modalities = {vocab.modalities.empty() ? std::string("text") : vocab.modalities[0]};
    for (VocabRange& r : c.vocab_ranges) r.tower = 0;
  }
  if (absl::Status s = ValidateMotConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model options: ", s.message()));
  }
  return c;
}

namespace {

// One run of Train(), in named stages: inputs, the run directory (fresh or resumed), the
// data, then steps with their metrics, validations and saves.
class TrainRun {
 public:
  explicit TrainRun(const TrainOptions& options) : o_(options) {}
  absl::StatusOr<TrainReport> Run();

 private:
  absl::Status LoadInputs();
  absl::Status OpenRunDir();
  absl::Status StartFresh();
  absl::Status Resume(const std::string& dir);
  absl::Status ReadTrainState(const std::string& state_file);
  absl::Status PrepareData();
  absl::Status Step();
  absl::Status Save(int64_t at);
  absl::Status Validate(int64_t at);

  TrainOptions o_;
  MotConfig vocab_;
  std::string vocab_path_;
  std::map<std::string, std::string> tokenizer_files_;
  std::unique_ptr<ShardReader> reader_;
  std::unique_ptr<ShardReader> val_reader_;
  std::string metrics_path_;

  MotConfig config_;
  std::unique_ptr<TrainModel> model_;
  std::unique_ptr<AdamW> adam_;
  std::vector<TrainModel::Param> params_;
  int64_t step_ = 0;
  DataPosition position_;
  std::unique_ptr<BatchStream> stream_;
  std::vector<Batch> val_batches_;
  MetricsWriter metrics_;
  std::chrono::steady_clock::time_point start_;
  int64_t trained_tokens_ = 0;
  TrainReport report_;
};

absl::Status TrainRun::LoadInputs() {
  vocab_path_ = (fs::path(o_.tokenizers) / "config.json").string();
  MOT_ASSIGN_OR_RETURN(vocab_, LoadVocabConfig(vocab_path_));
  for (const char* name : kTokenizerFiles) {
    const std::string path = (fs::path(o_.tokenizers) / name).string();
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    MOT_ASSIGN_OR_RETURN(tokenizer_files_[name], ReadWhole(path));
  }
  if (tokenizer_files_.count("tokenizer.json") == 0) {
    return absl::NotFoundError(absl::StrCat(o_.tokenizers, "/tokenizer.json: missing"));
  }
  MOT_ASSIGN_OR_RETURN(reader_, ShardReader::Open(o_.data));
  if (reader_->vocab_size() != vocab_.vocab_size || reader_->num_towers() != vocab_.num_towers()) {
    return absl::InvalidArgumentError(absl::StrCat(
        o_.data, "/shards.json: vocab_size ", reader_->vocab_size(), " and num_towers ",
        reader_->num_towers(), " do not match ", vocab_path_, " (vocab_size ", vocab_.vocab_size,
        ", ", vocab_.num_towers(), " modalities): pack the data with these tokenizers"));
  }
  if (!o_.val_data.empty()) {
    MOT_ASSIGN_OR_RETURN(val_reader_, ShardReader::Open(o_.val_data));
    if (val_reader_->vocab_size() != vocab_.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(o_.val_data, "/shards.json: vocab_size ", val_reader_->vocab_size(),
                       " != ", vocab_.vocab_size, " of ", vocab_path_));
    }
  }
  return absl::OkStatus();
}

// A fresh run, or a resumed one from OUT/latest.
absl::Status TrainRun::OpenRunDir() {
  std::error_code ec;
  fs::create_directories(o_.out, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", o_.out));
  RemoveStaleSaves(o_.out);
  metrics_path_ = o_.metrics.empty() ? (fs::path(o_.out) / "metrics.jsonl").string() : o_.metrics;
  absl::StatusOr<std::string> latest = FindLatestStepCheckpoint(o_.out);
  if (latest.ok() && o_.resume) return Resume(*latest);
  if (latest.ok() && !o_.overwrite) {
    return absl::AlreadyExistsError(
        absl::StrCat(o_.out, " holds checkpoints of an earlier run (", *latest,
                     "): pass --resume to continue it or --overwrite to start over"));
  }
  if (latest.ok()) {
    for (const auto& [step, dir] : ListStepCheckpoints(o_.out)) fs::remove_all(dir, ec);
    fs::remove(fs::path(o_.out) / kLatestLink, ec);
  } else if (o_.resume && o_.progress) {
    std::fprintf(stderr, "--resume: no checkpoint in %s yet; starting at step 0\n", o_.out.c_str());
  }
  return StartFresh();
}

absl::Status TrainRun::StartFresh() {
  MOT_ASSIGN_OR_RETURN(config_, BuildModelConfig(o_, vocab_));
  MOT_ASSIGN_OR_RETURN(model_, TrainModel::CreateRandom(config_, o_.seed, o_.pool));
  adam_ =
      std::make_unique<AdamW>(AdamWOptions{o_.beta1, o_.beta2, o_.eps, o_.weight_decay}, o_.pool);
  std::error_code ec;
  fs::remove(metrics_path_, ec);
  return absl::OkStatus();
}

// Step, data position and schedule from train_state.json, checked against this run.
absl::Status TrainRun::ReadTrainState(const std::string& state_file) {
  MOT_ASSIGN_OR_RETURN(std::string state_text, ReadWhole(state_file));
  const json state = json::parse(state_text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object() || state.value("version", 0) != kStateVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(state_file, ": not a version ", kStateVersion, " training state"));
  }
  try {
    step_ = state.at("step").get<int64_t>();
    position_.epoch = state.at("data").at("epoch").get<int64_t>();
    position_.cursor = state.at("data").at("cursor").get<int64_t>();
    const int64_t examples = state.at("data").at("examples").get<int64_t>();
    const int64_t tokens = state.at("data").at("tokens").get<int64_t>();
    if (examples != reader_->num_examples() || tokens != reader_->num_tokens()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field data: ", o_.data, " holds ", reader_->num_examples(),
                       " examples and ", reader_->num_tokens(), " tokens, but the resumed run (",
                       state_file, ") trained on ", examples, " and ", tokens));
    }
    return ApplySavedSchedule(state.at("options"), state_file, &o_);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(state_file, ": ", e.what()));
  }
}

absl::Status TrainRun::Resume(const std::string& dir) {
  MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(dir));
  config_ = ckpt.config();
  const std::string config_file = (fs::path(dir) / "config.json").string();
  MOT_RETURN_IF_ERROR(CheckModelAgainst(o_, config_, config_file));
  if (config_.vocab_size != vocab_.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("field vocab_size: ", vocab_path_, " has ",
                                                   vocab_.vocab_size, " but the resumed ",
                                                   config_file, " has ", config_.vocab_size));
  }
  const std::string state_file = ckpt.OptionalFile(kTrainStateJson);
  const std::string tensors_file = ckpt.OptionalFile(kTrainStateTensors);
  if (state_file.empty() || tensors_file.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, ": no ", kTrainStateJson, " and ",
                                            kTrainStateTensors, " in its manifest"));
  }
  MOT_RETURN_IF_ERROR(ReadTrainState(state_file));
  MOT_ASSIGN_OR_RETURN(model_, TrainModel::FromCheckpoint(ckpt, o_.pool));
  adam_ =
      std::make_unique<AdamW>(AdamWOptions{o_.beta1, o_.beta2, o_.eps, o_.weight_decay}, o_.pool);
  MOT_ASSIGN_OR_RETURN(SafetensorsFile moments, SafetensorsFile::Open(tensors_file));
  MOT_RETURN_IF_ERROR(adam_->LoadState(moments, model_->Params()));
  if (step_ >= o_.steps && o_.progress) {
    std::fprintf(stderr, "%s: already at step %lld of %lld\n", dir.c_str(),
                 static_cast<long long>(step_), static_cast<long long>(o_.steps));
  }
  // The killed run may have logged steps after this checkpoint; they are run again.
  return TruncateMetrics(metrics_path_, step_);
}

absl::Status TrainRun::PrepareData() {
  BatchStreamOptions so;
  so.seed = o_.seed;
  so.batch_tokens = o_.batch_tokens;
  so.max_seq_len = config_.max_seq_len;
  so.routing = config_.num_towers() == 1 ? TowerRouting::kSingleTower : TowerRouting::kByModality;
  stream_ = std::make_unique<BatchStream>(reader_.get(), so, position_);
  if (stream_->usable_examples() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        o_.data, ": no example fits max_seq_len=", config_.max_seq_len, " and has a loss token"));
  }
  if (val_reader_ != nullptr) {
    so.shuffle = false;
    val_batches_ = BatchStream(val_reader_.get(), so).AllInOrder(o_.val_examples);
  }
  params_ = model_->Params();
  return metrics_.Open(metrics_path_);
}

// One optimizer step over `accum` micro-batches, and its metrics line.
absl::Status TrainRun::Step() {
  const auto t0 = std::chrono::steady_clock::now();
  // Gather the micro-batches first, so each is weighted by its share of the step's
  // predicted tokens and the gradient is that of the step's token mean.
  std::vector<Batch> micro;
  int64_t predicted = 0;
  for (int32_t a = 0; a < o_.accum; ++a) {
    micro.push_back(stream_->Next());
    for (uint8_t l : micro.back().batch.loss_mask) predicted += l;
  }
  LossSums sums(kMaxModalities);
  int64_t rows = 0;
  for (const Batch& b : micro) {
    int64_t p = 0;
    for (uint8_t l : b.batch.loss_mask) p += l;
    const float scale =
        predicted > 0 ? static_cast<float>(p) / static_cast<float>(predicted) : 0.0f;
    MOT_ASSIGN_OR_RETURN(StepStats s, model_->ForwardBackward(b.batch, scale));
    sums.sum += s.loss * static_cast<double>(s.predicted);
    sums.count += s.predicted;
    for (size_t t = 0; t < static_cast<size_t>(kMaxModalities); ++t) {
      sums.sum_m[t] += s.loss_per_tower[t] * static_cast<double>(s.predicted_per_tower[t]);
      sums.count_m[t] += s.predicted_per_tower[t];
    }
    rows += s.tokens;
  }
  const double grad_norm = o_.clip > 0 ? model_->ClipGradNorm(o_.clip) : model_->GradNorm();
  const float lr = CosineLr(step_, o_.warmup, o_.steps, o_.lr, o_.min_lr);
  adam_->Step(params_, lr);
  model_->ZeroGrad();
  ++step_;

  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - t0).count();
  trained_tokens_ += rows;
  json line = {{"step", step_}, {"loss", sums.Mean()}};
  if (config_.num_towers() > 1) {  // towers are modalities
    for (size_t m = 0; m < vocab_.modalities.size(); ++m) {
      if (sums.count_m[m] > 0) line["loss_" + vocab_.modalities[m]] = sums.Mean(m);
    }
  }
  line["lr"] = lr;
  line["grad_norm"] = grad_norm;
  line["tokens"] = rows;
  line["tokens_per_s"] = seconds > 0 ? static_cast<double>(rows) / seconds : 0.0;
  line["elapsed_s"] = std::chrono::duration<double>(now - start_).count();
  metrics_.Write(line);
  report_.last_loss = sums.Mean();
  if (!std::isfinite(report_.last_loss)) {
    return absl::InternalError(absl::StrCat("step ", step_, ": the loss is not finite (",
                                            report_.last_loss, "); try a lower --lr"));
  }
  return absl::OkStatus();
}

absl::Status TrainRun::Save(int64_t at) {
  const json state = {{"format", "mot-train-state"},
                      {"version", kStateVersion},
                      {"step", at},
                      {"data",
                       {{"epoch", stream_->position().epoch},
                        {"cursor", stream_->position().cursor},
                        {"examples", reader_->num_examples()},
                        {"tokens", reader_->num_tokens()},
                        {"path", fs::absolute(o_.data).string()}}},
                      // The data order's generator is a pure function of (seed, epoch), so
                      // the seed and the position are its whole state.
                      {"rng", {{"kind", "splitmix64-per-epoch"}, {"seed", o_.seed}}},
                      {"threads", o_.pool->num_threads()},
                      {"options", ScheduleJson(o_)}};
  MOT_ASSIGN_OR_RETURN(std::string moments, SerializeSafetensors(adam_->StateTensors()));
  std::map<std::string, std::string> files = tokenizer_files_;
  files[kTrainStateJson] = state.dump(2) + "\n";
  files[kTrainStateTensors] = std::move(moments);
  return Annotate(SaveStepCheckpoint(o_.out, at, config_, model_->ToTensors(), files, o_.keep),
                  "saving step ", at, " in ", o_.out);
}

absl::Status TrainRun::Validate(int64_t at) {
  if (val_batches_.empty()) return absl::OkStatus();
  const std::vector<std::string>& names = vocab_.modalities;
  MOT_ASSIGN_OR_RETURN(LossSums v, ValidationLoss(*model_, val_batches_, names.size()));
  json line = {{"step", at}, {"val_loss", v.Mean()}};
  for (size_t m = 0; m < names.size(); ++m) {
    if (v.count_m[m] > 0) line["val_loss_" + names[m]] = v.Mean(m);
  }
  metrics_.Write(line);
  report_.final_val_loss = v.Mean();
  return absl::OkStatus();
}

absl::StatusOr<TrainReport> TrainRun::Run() {
  MOT_RETURN_IF_ERROR(LoadInputs());
  MOT_RETURN_IF_ERROR(OpenRunDir());
  MOT_RETURN_IF_ERROR(PrepareData());
  report_.first_step = step_;
  report_.parameters = model_->NumParameters();
  report_.config = config_;
  start_ = std::chrono::steady_clock::now();
  ProgressBar bar("training", o_.steps - step_, "step",
                  o_.progress ? DefaultProgressOutput() : ProgressOutput{nullptr, false, 5.0});
  if (step_ == 0 && o_.eval_every > 0) MOT_RETURN_IF_ERROR(Validate(0));
  while (step_ < o_.steps) {
    MOT_RETURN_IF_ERROR(Step());
    bar.Add(1);
    if (o_.eval_every > 0 && step_ % o_.eval_every == 0 && step_ < o_.steps) {
      MOT_RETURN_IF_ERROR(Validate(step_));
    }
    if ((o_.save_every > 0 && step_ % o_.save_every == 0) || step_ == o_.steps) {
      MOT_RETURN_IF_ERROR(Save(step_));
    }
  }
  bar.Finish();
  MOT_RETURN_IF_ERROR(Validate(step_));
  report_.steps = step_;
  report_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  report_.tokens_per_second =
      report_.seconds > 0 ? static_cast<double>(trained_tokens_) / report_.seconds : 0;
  if (o_.write_final) {
    report_.final_dir =
        o_.final_dir.empty() ? (fs::path(o_.out) / kFinalDir).string() : o_.final_dir;
    MOT_RETURN_IF_ERROR(WriteCheckpoint(report_.final_dir, config_, model_->ToTensors(),
                                        tokenizer_files_, /*overwrite=*/true));
  }
  return report_;
}

}  // namespace

absl::StatusOr<TrainReport> Train(const TrainOptions& options) {
  MOT_RETURN_IF_ERROR(CheckOptions(options));
  return TrainRun(options).Run();
}

}  // namespace mot::trainer
