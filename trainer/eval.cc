// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/backend/backend_factory.h"
#include "engine/core/status_macros.h"
#include "engine/engine.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "model_loaders/checkpoint.h"
#include "nlohmann/json.hpp"
#include "trainer/demo_data.h"
#include "trainer/manifest.h"
#include "trainer/progress.h"

namespace mot::trainer {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

// Criteria per task, in table order ("all" is added last).
const std::map<std::string, std::vector<std::string>>& Criteria() {
  static const auto* c = new std::map<std::string, std::vector<std::string>>{
      {"caption", {"color", "shape", "exact"}},
      {"text_to_image", {"background", "shape_color", "region"}},
      {"image_tokens_ceiling", {"background", "shape_color", "region"}},
      {"speech_to_text", {"color", "shape", "exact"}},
      {"text_to_speech", {"not_silent", "duration"}}};
  return *c;
}
constexpr const char* kTaskOrder[] = {"caption", "text_to_image", "image_tokens_ceiling",
                                      "speech_to_text", "text_to_speech"};

int IndexOf(const char* (*name)(int), int n, const std::string& value) {
  for (int i = 0; i < n; ++i) {
    if (value == name(i)) return i;
  }
  return -1;
}

absl::StatusOr<Scene> SceneFromMeta(const json& meta) {
  Scene s;
  try {
    s.shape = IndexOf(ShapeName, kNumShapes, meta.at("shape").get<std::string>());
    s.color = IndexOf(ColorName, kNumColors, meta.at("color").get<std::string>());
    s.size = IndexOf(SizeName, kNumSizes, meta.at("size").get<std::string>());
    s.position = IndexOf(PositionName, kNumPositions, meta.at("position").get<std::string>());
    s.background = IndexOf(ColorName, kNumColors, meta.at("background").get<std::string>());
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("meta: ", e.what()));
  }
  if (s.shape < 0 || s.color < 0 || s.size < 0 || s.position < 0 || s.background < 0) {
    return absl::InvalidArgumentError("meta: unknown shape, color, size, position or background");
  }
  return s;
}

std::string Normalize(const std::string& text) {
  std::string t = absl::AsciiStrToLower(text);
  absl::StripAsciiWhitespace(&t);
  while (!t.empty() && (t.back() == '.' || t.back() == '!')) t.pop_back();
  return t;
}

// Nearest demo color of each pixel.
std::vector<int> PaletteIndices(const tokenizer::RgbImage& image) {
  std::vector<int> out(static_cast<size_t>(image.width) * image.height);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t* p = &image.pixels[i * 3];
    int best = 0;
    int64_t best_d = INT64_MAX;
    for (int c = 0; c < kNumColors; ++c) {
      const auto rgb = ColorRgb(c);
      int64_t d = 0;
      for (int k = 0; k < 3; ++k) {
        const int64_t diff = int64_t{p[k]} - rgb[static_cast<size_t>(k)];
        d += diff * diff;
      }
      if (d < best_d) best_d = d, best = c;
    }
    out[i] = best;
  }
  return out;
}

struct Pending {
  std::string task;
  json meta;
  std::string reference_text;    // captions
  double reference_seconds = 0;  // text_to_speech: espeak-ng's duration
  double reference_rms = 0;
  std::string reference_image;  // text_to_image: the PNG bytes the caption was made from
  std::unique_ptr<engine::RequestHandle> handle;
};

double Rms(const std::vector<float>& s) {
  double sum = 0;
  for (float v : s) sum += static_cast<double>(v) * v;
  return s.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(s.size()));
}

}  // namespace

double TaskResult::Fraction(const std::string& criterion) const {
  auto it = right.find(criterion);
  if (examples == 0 || it == right.end()) return 0;
  return static_cast<double>(it->second) / static_cast<double>(examples);
}

std::string EvalReport::Table() const {
  std::string out =
      "| task | examples | criteria (% right) | all right |\n| --- | ---: | --- | ---: |\n";
  for (const TaskResult& t : tasks) {
    std::string crit;
    for (const std::string& c : Criteria().at(t.task)) {
      absl::StrAppendFormat(&crit, "%s%s %.1f%%", crit.empty() ? "" : ", ", c, 100 * t.Fraction(c));
    }
    absl::StrAppendFormat(&out, "| %s | %d | %s | %.1f%% |\n", t.task, t.examples, crit,
                          100 * t.Fraction("all"));
  }
  return out;
}

std::string EvalReport::ToJson() const {
  json j = {{"seconds", seconds}, {"tasks", json::object()}};
  for (const TaskResult& t : tasks) {
    json r = {{"examples", t.examples}, {"failed", t.failed}, {"samples", t.samples}};
    for (const auto& [c, n] : t.right) {
      r[c] = {{"right", n}, {"fraction", t.Fraction(c)}};
    }
    j["tasks"][t.task] = r;
  }
  return j.dump(2) + "\n";
}

CaptionWords ReadCaptionWords(const std::string& text) {
  CaptionWords w;
  for (absl::string_view word :
       absl::StrSplit(absl::AsciiStrToLower(text), absl::ByAnyChar(" .,\n\t"), absl::SkipEmpty())) {
    const std::string s(word);
    if (w.color.empty() && IndexOf(ColorName, kNumColors, s) >= 0) w.color = s;
    if (w.shape.empty() && IndexOf(ShapeName, kNumShapes, s) >= 0) w.shape = s;
  }
  return w;
}

absl::StatusOr<ImageJudgement> JudgeImage(const tokenizer::RgbImage& image,
                                          const std::string& meta_json) {
  const json meta = json::parse(meta_json, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded()) return absl::InvalidArgumentError("meta: not JSON");
  MOT_ASSIGN_OR_RETURN(Scene scene, SceneFromMeta(meta));
  tokenizer::RgbImage img = image;
  if (img.width != kDemoImageSize || img.height != kDemoImageSize) {
    MOT_ASSIGN_OR_RETURN(img, tokenizer::ResizeAndCenterCrop(image, kDemoImageSize));
  }
  // The same scene without jitter gives the expected place and area of the shape.
  scene.dx = scene.dy = 0;
  const std::vector<int> want = PaletteIndices(RenderScene(scene));
  const std::vector<int> got = PaletteIndices(img);
  auto centroid = [](const std::vector<int>& px, int color, double* x, double* y) {
    int64_t n = 0;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < px.size(); ++i) {
      if (px[i] != color) continue;
      ++n;
      sx += static_cast<double>(i % kDemoImageSize) + 0.5;
      sy += static_cast<double>(i / kDemoImageSize) + 0.5;
    }
    if (n > 0) *x = sx / static_cast<double>(n), *y = sy / static_cast<double>(n);
    return n;
  };
  int counts[kNumColors] = {};
  for (int c : got) ++counts[c];
  const int background = static_cast<int>(std::max_element(counts, counts + kNumColors) - counts);
  int other = -1;
  for (int c = 0; c < kNumColors; ++c) {
    if (c != background && (other < 0 || counts[c] > counts[other])) other = c;
  }
  ImageJudgement j;
  j.background = background == scene.background;
  j.shape_color = other == scene.color && counts[other] > 0;
  double wx = 0, wy = 0, gx = 0, gy = 0;
  const int64_t want_area = centroid(want, scene.color, &wx, &wy);
  const int64_t got_area = centroid(got, scene.color, &gx, &gy);
  const double distance = std::hypot(gx - wx, gy - wy);
  j.region = got_area > 0 && distance <= 7.0 &&
             static_cast<double>(got_area) >= 0.4 * static_cast<double>(want_area) &&
             static_cast<double>(got_area) <= 2.5 * static_cast<double>(want_area);
  return j;
}

absl::StatusOr<EvalReport> Evaluate(const EvalOptions& o) {
  if (o.pool == nullptr) return absl::InvalidArgumentError("eval: no thread pool");
  const auto start = std::chrono::steady_clock::now();
  const std::string heldout = (fs::path(o.data) / (o.split + ".jsonl")).string();
  MOT_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(heldout, BadRowPolicy::kStrict));
  MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(o.checkpoint));
  std::string device_note;
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<backend::Backend> backend,
                       backend::CreateBackend(o.device, o.pool, {}, &device_note));
  if (o.progress)
    std::fprintf(stderr, "eval: %s (%s)\n", device_note.c_str(),
                 std::string(backend->name()).c_str());
  engine::EngineOptions eo;
  eo.max_running = 32;
  eo.max_step_tokens = 512;
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<engine::Engine> eng,
                       engine::Engine::Create(eo, &ckpt, backend.get()));
  const tokenizer::PromptBuilder& builder = eng->prompt_builder();
  const tokenizer::UnifiedVocab& vocab = builder.vocab();

  std::map<std::string, TaskResult> results;
  std::map<std::string, int64_t> taken;
  std::vector<Pending> pending;
  for (const ManifestExample& e : manifest.examples) {
    const json meta = json::parse(e.meta_json.empty() ? "{}" : e.meta_json, nullptr, false);
    const std::string task = meta.is_object() ? meta.value("task", "") : "";
    if (Criteria().count(task) == 0 || e.parts.size() != 2) continue;
    const bool needs_image = task == "caption" || task == "text_to_image";
    if ((needs_image && !vocab.has_image()) || (!needs_image && !vocab.has_audio())) continue;
    if (o.max_per_task > 0 && taken[task] >= o.max_per_task) continue;
    ++taken[task];
    Pending p;
    p.task = task;
    p.meta = meta;
    MOT_ASSIGN_OR_RETURN(tokenizer::Part input, LoadPart(e.parts[0]));
    engine::GenerateRequest req;
    req.request_id = absl::StrCat(heldout, ":", e.line);
    MOT_ASSIGN_OR_RETURN(req.prompt, builder.Build(std::span<const tokenizer::Part>(&input, 1)));
    req.sampling.temperature = 0.0f;
    if (task == "caption" || task == "speech_to_text") {
      p.reference_text = e.parts[1].value;
      req.sampling.allowed_modalities = sampling::kText;
      req.sampling.max_new_tokens = 48;
    } else if (task == "text_to_image") {
      MOT_ASSIGN_OR_RETURN(tokenizer::Part ref, LoadPart(e.parts[1]));
      p.reference_image = std::move(ref.data);
      req.sampling.allowed_modalities = sampling::kImage;
      req.sampling.force_image_start = true;
      req.sampling.max_new_tokens = static_cast<int32_t>(builder.image()->tokens_per_image()) + 3;
    } else {  // text_to_speech
      MOT_ASSIGN_OR_RETURN(tokenizer::Part ref, LoadPart(e.parts[1]));
      const int rate = builder.audio()->sample_rate();
      MOT_ASSIGN_OR_RETURN(std::vector<float> samples,
                           tokenizer::DecodeAudio(ref.data, e.parts[1].value, rate));
      p.reference_seconds = static_cast<double>(samples.size()) / rate;
      p.reference_rms = Rms(samples);
      const auto codes = static_cast<int32_t>(std::ceil(2.0 * p.reference_seconds *
                                                        builder.audio()->tokens_per_second())) +
                         8;
      req.sampling.allowed_modalities = sampling::kAudio;
      req.sampling.force_audio_start = true;
      req.sampling.max_audio_codes = codes;
      req.sampling.max_new_tokens = codes + 4;
    }
    absl::StatusOr<std::unique_ptr<engine::RequestHandle>> h = eng->Submit(std::move(req));
    if (!h.ok()) return Annotate(h.status(), heldout, ":", e.line);
    p.handle = *std::move(h);
    pending.push_back(std::move(p));
  }

  ProgressBar bar("evaluating", static_cast<int64_t>(pending.size()), "ex",
                  o.progress ? DefaultProgressOutput() : ProgressOutput{nullptr, false, 5.0});
  for (Pending& p : pending) {
    TaskResult& r = results[p.task];
    r.task = p.task;
    ++r.examples;
    std::string text;
    std::string media;
    bool error = false;
    while (std::optional<engine::Event> ev = p.handle->Next()) {
      if (ev->kind == engine::EventKind::kTextDelta) text += ev->text;
      if (ev->kind == engine::EventKind::kImageFinished ||
          ev->kind == engine::EventKind::kAudioFinished) {
        if (media.empty()) media = ev->data;
      }
      if (ev->kind == engine::EventKind::kFinished) {
        error = ev->reason == engine::FinishReason::kError;
        break;
      }
    }
    bar.Add(1);
    if (!p.reference_image.empty()) {
      // The ceiling of text-to-image: the reference image through the image tokenizer and
      // back, judged the same way; a model cannot draw what its codes cannot express.
      TaskResult& c = results["image_tokens_ceiling"];
      c.task = "image_tokens_ceiling";
      ++c.examples;
      absl::StatusOr<std::vector<int32_t>> codes =
          builder.image()->Encode(p.reference_image, "reference image");
      absl::StatusOr<tokenizer::RgbImage> back =
          codes.ok() ? builder.image()->Decode(*codes)
                     : absl::StatusOr<tokenizer::RgbImage>(codes.status());
      absl::StatusOr<ImageJudgement> j = back.ok() ? JudgeImage(*back, p.meta.dump())
                                                   : absl::StatusOr<ImageJudgement>(back.status());
      if (!j.ok()) ++c.failed;
      const bool b = j.ok() && j->background, sc = j.ok() && j->shape_color,
                 rg = j.ok() && j->region;
      c.right["background"] += b;
      c.right["shape_color"] += sc;
      c.right["region"] += rg;
      c.right["all"] += b && sc && rg;
    }
    std::map<std::string, bool> ok;
    if (p.task == "caption" || p.task == "speech_to_text") {
      const CaptionWords w = ReadCaptionWords(text);
      ok["color"] = w.color == p.meta.value("color", "");
      ok["shape"] = w.shape == p.meta.value("shape", "");
      ok["exact"] = Normalize(text) == Normalize(p.reference_text);
      if (r.samples.size() < 5) r.samples.push_back(absl::StrCat(p.reference_text, " => ", text));
    } else if (p.task == "text_to_image" && !media.empty()) {
      absl::StatusOr<tokenizer::RgbImage> img = tokenizer::DecodeImage(media, "generated image");
      absl::StatusOr<ImageJudgement> j =
          img.ok() ? JudgeImage(*img, p.meta.dump()) : absl::StatusOr<ImageJudgement>(img.status());
      if (j.ok()) {
        ok["background"] = j->background;
        ok["shape_color"] = j->shape_color;
        ok["region"] = j->region;
      } else {
        error = true;
      }
    } else if (p.task == "text_to_speech" && !media.empty()) {
      absl::StatusOr<std::vector<float>> s = tokenizer::DecodeAudio(media, "generated audio", 0);
      absl::StatusOr<tokenizer::AudioHeaderInfo> info =
          tokenizer::ProbeAudio(media, "generated audio", {});
      if (s.ok() && info.ok()) {
        const double seconds = static_cast<double>(s->size()) / info->sample_rate;
        ok["not_silent"] = Rms(*s) >= 0.1 * p.reference_rms;
        ok["duration"] = std::abs(seconds - p.reference_seconds) <= 0.3 * p.reference_seconds;
      } else {
        error = true;
      }
    } else {
      error = true;  // no image or audio came back
    }
    if (error) ++r.failed;
    bool all = !error;
    for (const std::string& c : Criteria().at(p.task)) {
      const bool right = !error && ok[c];
      r.right[c] += right ? 1 : 0;
      if (c != "exact") all = all && right;  // the exact caption is reported, not required
    }
    r.right["all"] += all ? 1 : 0;
  }
  bar.Finish();

  EvalReport report;
  for (const char* task : kTaskOrder) {
    if (results.count(task) > 0) report.tasks.push_back(results[task]);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.json_out.empty()) {
    std::ofstream out(o.json_out, std::ios::binary);
    out << report.ToJson();
    if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", o.json_out));
  }
  return report;
}

}  // namespace mot::trainer
