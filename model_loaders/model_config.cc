// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/model_config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/core/status_macros.h"
#include "model_loaders/internal/file_util.h"
#include "model_loaders/internal/json_util.h"
#include "nlohmann/json.hpp"

namespace mot {
namespace {

using json = nlohmann::json;
using loaders_internal::ShortDump;

// Limits: generous for any model this engine can serve, small enough that products of
// them (embedding tables, KV sizes) fit easily in int64.
constexpr int64_t kMaxDim = 65536;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 1024;
constexpr int64_t kMaxFfnHidden = int64_t{1} << 20;
constexpr int64_t kMaxSeqLen = int64_t{1} << 24;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr uint64_t kMaxConfigBytes = uint64_t{16} << 20;

constexpr const char* kFormat = "mot";
constexpr int kFormatVersion = 1;

absl::Status FieldError(std::string_view field, const std::string& reason) {
  return absl::InvalidArgumentError(absl::StrCat("field ", std::string(field), ": ", reason));
}

absl::Status CheckRange(std::string_view field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return FieldError(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
  }
  return absl::OkStatus();
}

// Reads an integer in [lo, hi] from obj[key] (`field` names it in messages).
absl::Status ReadInt(const json& obj, const char* key, std::string_view field, int64_t lo,
                     int64_t hi, int32_t* out, bool required = true) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return FieldError(field, "missing");
    return absl::OkStatus();
  }
  const json& v = *it;
  int64_t value = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) {
      return FieldError(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", u));
    }
    value = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    value = v.get<int64_t>();
  } else {
    return FieldError(field, absl::StrCat("must be an integer, got ", ShortDump(v)));
  }
  MOT_RETURN_IF_ERROR(CheckRange(field, value, lo, hi));
  *out = static_cast<int32_t>(value);
  return absl::OkStatus();
}

absl::Status ReadFloat(const json& obj, const char* key, float* out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();  // both float fields have defaults
  if (!it->is_number()) {
    return FieldError(key, absl::StrCat("must be a number, got ", ShortDump(*it)));
  }
  *out = static_cast<float>(it->get<double>());
  return absl::OkStatus();
}

absl::Status ReadBool(const json& obj, const char* key, bool* out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return FieldError(key, absl::StrCat("must be true or false, got ", ShortDump(*it)));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadString(const json& obj, const char* key, std::string_view field,
                                       bool required) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return FieldError(field, "missing");
    return std::string();
  }
  if (!it->is_string()) {
    return FieldError(field, absl::StrCat("must be a string, got ", ShortDump(*it)));
  }
  return it->get<std::string>();
}

absl::Status CheckKeys(const json& obj, std::string_view where,
                       std::initializer_list<const char*> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field ", ShortDump(json(key)), where.empty() ? "" : " in ",
                       std::string(where), " (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// The shortest decimal that reads back as `f`, as a double (so "1e-05", not
// "9.999999747378752e-06").
double ShortestDouble(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

absl::Status CheckPositiveFloat(std::string_view field, float v) {
  if (!std::isfinite(v) || !(v > 0.0f)) {
    return FieldError(field, absl::StrCat("must be finite and > 0, got ", v));
  }
  return absl::OkStatus();
}

absl::Status ValidateRopeScaling(const RopeScaling& r) {
  switch (r.type) {
    case RopeScalingType::kNone:
      return absl::OkStatus();
    case RopeScalingType::kLinear:
      return CheckPositiveFloat("rope_scaling.factor", r.factor);
    case RopeScalingType::kLlama3:
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.factor", r.factor));
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.low_freq_factor", r.low_freq_factor));
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.high_freq_factor", r.high_freq_factor));
      if (!(r.high_freq_factor > r.low_freq_factor)) {
        return FieldError("rope_scaling.high_freq_factor",
                          absl::StrCat("must be > low_freq_factor=", r.low_freq_factor, ", got ",
                                       r.high_freq_factor));
      }
      return CheckRange("rope_scaling.original_max_position_embeddings",
                        r.original_max_position_embeddings, 1, kMaxSeqLen);
    case RopeScalingType::kYarn:
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.factor", r.factor));
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.beta_slow", r.beta_slow));
      MOT_RETURN_IF_ERROR(CheckPositiveFloat("rope_scaling.attention_factor", r.attention_factor));
      if (!(r.beta_fast > r.beta_slow) || !std::isfinite(r.beta_fast)) {
        return FieldError(
            "rope_scaling.beta_fast",
            absl::StrCat("must be finite and > beta_slow=", r.beta_slow, ", got ", r.beta_fast));
      }
      return CheckRange("rope_scaling.original_max_position_embeddings",
                        r.original_max_position_embeddings, 1, kMaxSeqLen);
  }
  return FieldError("rope_scaling.type", "invalid value");
}

// A required finite number obj[key] (rope_scaling's fields).
absl::Status ReadRequiredFloat(const json& obj, const char* key, std::string_view field,
                               float* out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return FieldError(field, "missing");
  if (!it->is_number()) {
    return FieldError(field, absl::StrCat("must be a number, got ", ShortDump(*it)));
  }
  *out = static_cast<float>(it->get<double>());
  return absl::OkStatus();
}

absl::Status ParseRopeScaling(const json& root, RopeScaling* out) {
  const auto it = root.find("rope_scaling");
  if (it == root.end() || it->is_null()) return absl::OkStatus();
  const json& r = *it;
  if (!r.is_object()) {
    return FieldError("rope_scaling",
                      absl::StrCat("must be null or an object, got ", ShortDump(r)));
  }
  MOT_ASSIGN_OR_RETURN(const std::string type,
                       ReadString(r, "type", "rope_scaling.type", /*required=*/true));
  if (type == "linear") {
    MOT_RETURN_IF_ERROR(CheckKeys(r, "rope_scaling", {"type", "factor"}));
    out->type = RopeScalingType::kLinear;
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "factor", "rope_scaling.factor", &out->factor));
  } else if (type == "llama3") {
    MOT_RETURN_IF_ERROR(CheckKeys(r, "rope_scaling",
                                  {"type", "factor", "low_freq_factor", "high_freq_factor",
                                   "original_max_position_embeddings"}));
    out->type = RopeScalingType::kLlama3;
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "factor", "rope_scaling.factor", &out->factor));
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "low_freq_factor", "rope_scaling.low_freq_factor",
                                          &out->low_freq_factor));
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "high_freq_factor", "rope_scaling.high_freq_factor",
                                          &out->high_freq_factor));
    MOT_RETURN_IF_ERROR(ReadInt(r, "original_max_position_embeddings",
                                "rope_scaling.original_max_position_embeddings", 1, kMaxSeqLen,
                                &out->original_max_position_embeddings));
  } else if (type == "yarn") {
    MOT_RETURN_IF_ERROR(CheckKeys(r, "rope_scaling",
                                  {"type", "factor", "original_max_position_embeddings",
                                   "beta_fast", "beta_slow", "attention_factor"}));
    out->type = RopeScalingType::kYarn;
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "factor", "rope_scaling.factor", &out->factor));
    MOT_RETURN_IF_ERROR(ReadInt(r, "original_max_position_embeddings",
                                "rope_scaling.original_max_position_embeddings", 1, kMaxSeqLen,
                                &out->original_max_position_embeddings));
    MOT_RETURN_IF_ERROR(
        ReadRequiredFloat(r, "beta_fast", "rope_scaling.beta_fast", &out->beta_fast));
    MOT_RETURN_IF_ERROR(
        ReadRequiredFloat(r, "beta_slow", "rope_scaling.beta_slow", &out->beta_slow));
    MOT_RETURN_IF_ERROR(ReadRequiredFloat(r, "attention_factor", "rope_scaling.attention_factor",
                                          &out->attention_factor));
  } else {
    return FieldError("rope_scaling.type",
                      absl::StrCat("unsupported rope scaling type ", ShortDump(json(type)),
                                   " (supported: \"linear\", \"llama3\", \"yarn\")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSpecialTokenIds(const MotConfig& c) {
  const SpecialTokenIds& s = *c.special_token_ids;
  if (!c.special_tokens.empty()) {
    return FieldError("special_token_ids",
                      "cannot be combined with special_tokens (two ways to name the specials)");
  }
  for (const VocabRange& r : c.vocab_ranges) {
    if (r.name == "special") {
      return FieldError("special_token_ids",
                        "cannot be combined with a vocab range named \"special\" (the special "
                        "tokens are named by id instead)");
    }
  }
  auto check_id = [&](const std::string& field, int32_t id) -> absl::Status {
    if (id < 0 || id >= c.vocab_size) {
      return FieldError(field,
                        absl::StrCat("must be in [0, vocab_size=", c.vocab_size, "), got ", id));
    }
    return absl::OkStatus();
  };
  if (s.bos != SpecialTokenIds::kNone) {
    MOT_RETURN_IF_ERROR(check_id("special_token_ids.bos", s.bos));
  }
  if (s.pad != SpecialTokenIds::kNone) {
    MOT_RETURN_IF_ERROR(check_id("special_token_ids.pad", s.pad));
  }
  if (s.eos.empty()) {
    return FieldError("special_token_ids.eos", "must name at least one id");
  }
  std::set<int32_t> seen;
  for (size_t i = 0; i < s.eos.size(); ++i) {
    const std::string field = s.eos.size() == 1 ? "special_token_ids.eos"
                                                : absl::StrCat("special_token_ids.eos[", i, "]");
    MOT_RETURN_IF_ERROR(check_id(field, s.eos[i]));
    if (!seen.insert(s.eos[i]).second) {
      return FieldError(field, absl::StrCat("id ", s.eos[i], " is listed twice"));
    }
  }
  if (s.add_bos && s.bos == SpecialTokenIds::kNone) {
    return FieldError("special_token_ids.add_bos", "true, but special_token_ids.bos is null");
  }
  return absl::OkStatus();
}

// config.json "special_token_ids" into out->special_token_ids.
absl::Status ParseSpecialTokenIds(const json& root, MotConfig* out) {
  const auto it = root.find("special_token_ids");
  if (it == root.end()) return absl::OkStatus();
  const json& o = *it;
  if (!o.is_object()) {
    return FieldError("special_token_ids", absl::StrCat("must be an object, got ", ShortDump(o)));
  }
  MOT_RETURN_IF_ERROR(CheckKeys(o, "special_token_ids", {"bos", "eos", "pad", "add_bos"}));
  SpecialTokenIds s;
  const std::pair<const char*, int32_t*> optional_ids[] = {{"bos", &s.bos}, {"pad", &s.pad}};
  for (const auto& [key, dst] : optional_ids) {
    const auto v = o.find(key);
    if (v == o.end() || v->is_null()) continue;
    MOT_RETURN_IF_ERROR(
        ReadInt(o, key, absl::StrCat("special_token_ids.", key), 0, kMaxVocab, dst));
  }
  const auto eos = o.find("eos");
  if (eos == o.end()) return FieldError("special_token_ids.eos", "missing");
  if (eos->is_array()) {
    if (eos->empty()) return FieldError("special_token_ids.eos", "must name at least one id");
    for (size_t i = 0; i < eos->size(); ++i) {
      int32_t id = 0;
      const json item = {{"id", (*eos)[i]}};
      MOT_RETURN_IF_ERROR(
          ReadInt(item, "id", absl::StrCat("special_token_ids.eos[", i, "]"), 0, kMaxVocab, &id));
      s.eos.push_back(id);
    }
  } else {
    int32_t id = 0;
    MOT_RETURN_IF_ERROR(ReadInt(o, "eos", "special_token_ids.eos", 0, kMaxVocab, &id));
    s.eos.push_back(id);
  }
  const auto add_bos = o.find("add_bos");
  if (add_bos == o.end()) return FieldError("special_token_ids.add_bos", "missing");
  if (!add_bos->is_boolean()) {
    return FieldError("special_token_ids.add_bos",
                      absl::StrCat("must be true or false, got ", ShortDump(*add_bos)));
  }
  s.add_bos = add_bos->get<bool>();
  out->special_token_ids = std::move(s);
  return absl::OkStatus();
}

// config.json "qk_norm": a boolean, or an object (QkNormSpec) that also sets qk_norm.
absl::Status ParseQkNorm(const json& root, MotConfig* out) {
  const auto it = root.find("qk_norm");
  if (it == root.end() || it->is_boolean()) return ReadBool(root, "qk_norm", &out->qk_norm);
  const json& o = *it;
  if (!o.is_object()) {
    return FieldError("qk_norm", absl::StrCat("must be true or false, or an object {type, "
                                              "per_head, bias, eps}, got ",
                                              ShortDump(o)));
  }
  MOT_RETURN_IF_ERROR(CheckKeys(o, "qk_norm", {"type", "per_head", "bias", "eps"}));
  QkNormSpec spec;
  MOT_ASSIGN_OR_RETURN(const std::string type,
                       ReadString(o, "type", "qk_norm.type", /*required=*/true));
  if (type == "rms") {
    spec.type = NormType::kRms;
  } else if (type == "layer") {
    spec.type = NormType::kLayer;
  } else {
    return FieldError("qk_norm.type",
                      absl::StrCat("must be \"rms\" or \"layer\", got ", ShortDump(json(type))));
  }
  for (const auto& [key, dst] : {std::pair<const char*, bool*>{"per_head", &spec.per_head},
                                 std::pair<const char*, bool*>{"bias", &spec.bias}}) {
    const auto v = o.find(key);
    const std::string field = absl::StrCat("qk_norm.", key);
    if (v == o.end()) return FieldError(field, "missing");
    if (!v->is_boolean()) {
      return FieldError(field, absl::StrCat("must be true or false, got ", ShortDump(*v)));
    }
    *dst = v->get<bool>();
  }
  MOT_RETURN_IF_ERROR(ReadRequiredFloat(o, "eps", "qk_norm.eps", &spec.eps));
  out->qk_norm = true;
  out->qk_norm_spec = spec;
  return absl::OkStatus();
}

absl::Status ValidateQkNormSpec(const MotConfig& c) {
  const QkNormSpec& s = *c.qk_norm_spec;
  if (!c.qk_norm) return FieldError("qk_norm", "a q/k norm kind is set but qk_norm is false");
  if (s.type != NormType::kRms && s.type != NormType::kLayer) {
    return FieldError("qk_norm.type", "invalid value");
  }
  if (!std::isfinite(s.eps) || !(s.eps > 0.0f) || !(s.eps < 1.0f)) {
    return FieldError("qk_norm.eps", absl::StrCat("must be finite and in (0, 1), got ", s.eps));
  }
  if (s.bias && s.type != NormType::kLayer) {
    return FieldError("qk_norm.bias", "true needs type \"layer\" (an RMS norm has no bias)");
  }
  return absl::OkStatus();
}

// config.json "suppressed_token_ids": [[begin, end], ...].
absl::Status ParseSuppressedTokenIds(const json& root, MotConfig* out) {
  const auto it = root.find("suppressed_token_ids");
  if (it == root.end()) return absl::OkStatus();
  if (!it->is_array()) {
    return FieldError("suppressed_token_ids",
                      absl::StrCat("must be an array of [begin, end] pairs, got ", ShortDump(*it)));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& p = (*it)[i];
    const std::string field = absl::StrCat("suppressed_token_ids[", i, "]");
    if (!p.is_array() || p.size() != 2) {
      return FieldError(field, absl::StrCat("must be a [begin, end] pair, got ", ShortDump(p)));
    }
    TokenIdRange r;
    const json pair = {{"begin", p[0]}, {"end", p[1]}};
    MOT_RETURN_IF_ERROR(ReadInt(pair, "begin", field + "[0]", 0, kMaxVocab, &r.begin));
    MOT_RETURN_IF_ERROR(ReadInt(pair, "end", field + "[1]", 0, kMaxVocab, &r.end));
    out->suppressed_token_ids.push_back(r);
  }
  return absl::OkStatus();
}

absl::Status ValidateSuppressedTokenIds(const MotConfig& c) {
  int32_t prev_end = 0;
  int64_t suppressed = 0;
  for (size_t i = 0; i < c.suppressed_token_ids.size(); ++i) {
    const TokenIdRange& r = c.suppressed_token_ids[i];
    const std::string field = absl::StrCat("suppressed_token_ids[", i, "]");
    if (r.begin < prev_end) {
      return FieldError(field, absl::StrCat("begins at ", r.begin, ", before the end ", prev_end,
                                            " of the range before it (ranges are sorted and "
                                            "disjoint)"));
    }
    if (r.end <= r.begin) {
      return FieldError(
          field, absl::StrCat("[", r.begin, ", ", r.end, ") is empty (end must be > begin)"));
    }
    if (r.end > c.vocab_size) {
      return FieldError(field, absl::StrCat("end ", r.end, " is beyond vocab_size=", c.vocab_size));
    }
    prev_end = r.end;
    suppressed += r.end - r.begin;
  }
  if (suppressed > 0 && suppressed == c.vocab_size) {
    return FieldError("suppressed_token_ids", "suppresses every id");
  }
  if (suppressed > 0 && c.special_token_ids.has_value()) {
    const std::vector<int32_t>& eos = c.special_token_ids->eos;
    const bool all_eos = std::all_of(eos.begin(), eos.end(), [&](int32_t id) {
      return std::any_of(c.suppressed_token_ids.begin(), c.suppressed_token_ids.end(),
                         [&](const TokenIdRange& r) { return id >= r.begin && id < r.end; });
    });
    if (all_eos) {
      return FieldError("suppressed_token_ids",
                        "suppresses every eos id of special_token_ids (no sequence could end)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

QkNormSpec MotConfig::EffectiveQkNorm() const {
  if (qk_norm_spec.has_value()) return *qk_norm_spec;
  QkNormSpec s;
  s.type = norm_type;
  s.per_head = false;
  s.bias = norm_type == NormType::kLayer;
  s.eps = norm_eps;
  return s;
}

std::vector<double> RopeInverseFrequencies(const MotConfig& c) {
  const int32_t half = c.head_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(std::max(half, 0)));
  const RopeScaling& r = c.rope_scaling;
  constexpr double kPi = 3.14159265358979323846;
  if (r.type == RopeScalingType::kYarn) {
    // transformers' _compute_yarn_parameters (4.46): a linear ramp over the frequency index
    // between the dimensions where original_max_position_embeddings positions turn
    // beta_fast and beta_slow times; interpolated (f / factor) below the ramp's low end,
    // extrapolated (f) above its high end.
    const double dim = c.head_dim;
    const double base = c.rope_theta;
    auto correction_dim = [&](double rotations) {
      return dim * std::log(r.original_max_position_embeddings / (rotations * 2 * kPi)) /
             (2 * std::log(base));
    };
    const double low = std::max(std::floor(correction_dim(r.beta_fast)), 0.0);
    double high = std::min(std::ceil(correction_dim(r.beta_slow)), dim - 1);
    if (low == high) high += 0.001;  // as transformers: no zero-width ramp
    for (int32_t i = 0; i < half; ++i) {
      const double f = std::pow(base, -2.0 * i / dim);
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrapolation = 1.0 - ramp;
      inv_freq[static_cast<size_t>(i)] = f / r.factor * (1.0 - extrapolation) + f * extrapolation;
    }
    return inv_freq;
  }
  for (int32_t i = 0; i < half; ++i) {
    double f =
        std::pow(static_cast<double>(c.rope_theta), -2.0 * i / static_cast<double>(c.head_dim));
    if (r.type == RopeScalingType::kLinear) {
      f /= r.factor;
    } else if (r.type == RopeScalingType::kLlama3) {
      // transformers' _compute_llama3_parameters, band by band.
      const double old_len = r.original_max_position_embeddings;
      const double low_freq_wavelen = old_len / r.low_freq_factor;
      const double high_freq_wavelen = old_len / r.high_freq_factor;
      const double wavelen = 2.0 * kPi / f;
      if (wavelen > low_freq_wavelen) {
        f /= r.factor;
      } else if (!(wavelen < high_freq_wavelen)) {
        const double s = (old_len / wavelen - r.low_freq_factor) /
                         (static_cast<double>(r.high_freq_factor) - r.low_freq_factor);
        f = (1.0 - s) * f / r.factor + s * f;
      }
    }
    inv_freq[static_cast<size_t>(i)] = f;
  }
  return inv_freq;
}

double RopeAttentionFactor(const MotConfig& c) {
  return c.rope_scaling.type == RopeScalingType::kYarn ? c.rope_scaling.attention_factor : 1.0;
}

int MotConfig::TowerOf(int32_t id) const {
  // The last range that begins at or before id.
  const auto it = std::upper_bound(vocab_ranges.begin(), vocab_ranges.end(), id,
                                   [](int32_t v, const VocabRange& r) { return v < r.begin; });
  if (it == vocab_ranges.begin()) return 0;  // REQUIRES violated; stay in bounds
  return std::prev(it)->tower;
}

absl::Status ValidateMotConfig(const MotConfig& c) {
  MOT_RETURN_IF_ERROR(CheckRange("dim", c.dim, 1, kMaxDim));
  MOT_RETURN_IF_ERROR(CheckRange("n_layers", c.n_layers, 1, kMaxLayers));
  MOT_RETURN_IF_ERROR(CheckRange("n_heads", c.n_heads, 1, kMaxHeads));
  MOT_RETURN_IF_ERROR(CheckRange("n_kv_heads", c.n_kv_heads, 1, kMaxHeads));
  if (c.n_heads % c.n_kv_heads != 0) {
    return FieldError("n_kv_heads",
                      absl::StrCat("must divide n_heads=", c.n_heads, ", got ", c.n_kv_heads));
  }
  MOT_RETURN_IF_ERROR(CheckRange("head_dim", c.head_dim, 2, kMaxHeadDim));
  if (c.head_dim % 2 != 0) {
    return FieldError(
        "head_dim",
        absl::StrCat("must be even (rotary embeddings rotate pairs), got ", c.head_dim));
  }
  MOT_RETURN_IF_ERROR(CheckRange("ffn_hidden", c.ffn_hidden, 1, kMaxFfnHidden));
  if (!std::isfinite(c.norm_eps) || !(c.norm_eps > 0.0f) || !(c.norm_eps < 1.0f)) {
    return FieldError("norm_eps", absl::StrCat("must be finite and in (0, 1), got ", c.norm_eps));
  }
  if (!std::isfinite(c.rope_theta) || !(c.rope_theta > 0.0f)) {
    return FieldError("rope_theta", absl::StrCat("must be finite and > 0, got ", c.rope_theta));
  }
  MOT_RETURN_IF_ERROR(CheckRange("max_seq_len", c.max_seq_len, 1, kMaxSeqLen));
  if (c.norm_placement != NormPlacement::kPre && c.norm_placement != NormPlacement::kPostBranch) {
    return FieldError("norm_placement", "invalid value");
  }
  if (c.norm_type != NormType::kRms && c.norm_type != NormType::kLayer) {
    return FieldError("norm_type", "invalid value");
  }

  MOT_RETURN_IF_ERROR(ValidateRopeScaling(c.rope_scaling));
  if (c.sliding_window != 0) {
    MOT_RETURN_IF_ERROR(CheckRange("sliding_window", c.sliding_window, 1, kMaxSeqLen));
  }

  if (c.modalities.empty() || c.modalities.size() > static_cast<size_t>(kMaxModalities)) {
    return FieldError("modalities", absl::StrCat("must list 1 to ", kMaxModalities, " names, got ",
                                                 c.modalities.size()));
  }
  std::set<std::string_view> seen;
  for (const std::string& m : c.modalities) {
    if (m.empty()) return FieldError("modalities", "a name is empty");
    if (!seen.insert(m).second) {
      return FieldError("modalities", absl::StrCat("'", m, "' is listed twice"));
    }
  }

  MOT_RETURN_IF_ERROR(CheckRange("vocab_size", c.vocab_size, 1, kMaxVocab));
  if (c.vocab_ranges.empty()) return FieldError("vocab_ranges", "must not be empty");
  std::set<std::string_view> range_names;
  int32_t expected_begin = 0;
  for (size_t i = 0; i < c.vocab_ranges.size(); ++i) {
    const VocabRange& r = c.vocab_ranges[i];
    const std::string field = absl::StrCat("vocab_ranges[", i, "]");
    if (r.name.empty()) return FieldError(field + ".name", "must not be empty");
    if (!range_names.insert(r.name).second) {
      return FieldError(field + ".name", absl::StrCat("'", r.name, "' is used twice"));
    }
    if (r.begin != expected_begin) {
      return FieldError(
          field + ".begin",
          absl::StrCat("must be ", expected_begin,
                       i == 0 ? " (ranges start at id 0)" : " (ranges are sorted and contiguous)",
                       ", got ", r.begin));
    }
    if (r.end <= r.begin) {
      return FieldError(field + ".end", absl::StrCat("must be > begin=", r.begin,
                                                     " (ranges are non-empty), got ", r.end));
    }
    if (r.end > c.vocab_size) {
      return FieldError(field + ".end",
                        absl::StrCat("must be <= vocab_size=", c.vocab_size, ", got ", r.end));
    }
    if (r.tower < 0 || r.tower >= c.num_towers()) {
      return FieldError(field + ".modality", absl::StrCat("tower ", r.tower, " is not one of the ",
                                                          c.num_towers(), " modalities"));
    }
    expected_begin = r.end;
  }
  if (expected_begin != c.vocab_size) {
    return FieldError("vocab_ranges", absl::StrCat("cover [0, ", expected_begin,
                                                   ") but vocab_size is ", c.vocab_size));
  }
  if (!c.special_tokens.empty()) {
    std::set<std::string_view> names;
    for (const std::string& t : c.special_tokens) {
      if (t.empty()) return FieldError("special_tokens", "a name is empty");
      if (!names.insert(t).second) {
        return FieldError("special_tokens", absl::StrCat("'", t, "' is listed twice"));
      }
    }
    const auto special = std::find_if(c.vocab_ranges.begin(), c.vocab_ranges.end(),
                                      [](const VocabRange& r) { return r.name == "special"; });
    if (special == c.vocab_ranges.end()) {
      return FieldError("special_tokens", "given, but no vocab range is named \"special\"");
    }
    if (special->begin != 0 ||
        static_cast<size_t>(special->end - special->begin) != c.special_tokens.size()) {
      return FieldError("special_tokens",
                        absl::StrCat("lists ", c.special_tokens.size(),
                                     " names but the special range is [", special->begin, ", ",
                                     special->end, "); it must start at 0 and hold one id each"));
    }
  }
  if (c.special_token_ids.has_value()) {
    MOT_RETURN_IF_ERROR(ValidateSpecialTokenIds(c));
  }
  if (c.qk_norm_spec.has_value()) MOT_RETURN_IF_ERROR(ValidateQkNormSpec(c));
  MOT_RETURN_IF_ERROR(ValidateSuppressedTokenIds(c));
  return absl::OkStatus();
}

absl::StatusOr<MotConfig> ParseMotConfig(std::string_view json_text) {
  MOT_ASSIGN_OR_RETURN(const json root, loaders_internal::ParseStrictJson(json_text, "config"));
  if (!root.is_object()) return absl::InvalidArgumentError("config is not a JSON object");
  MOT_RETURN_IF_ERROR(
      CheckKeys(root, "", {"format",         "format_version",    "dim",
                           "n_layers",       "n_heads",           "n_kv_heads",
                           "head_dim",       "ffn_hidden",        "norm_eps",
                           "rope_theta",     "max_seq_len",       "norm_placement",
                           "norm_type",      "qk_norm",           "tie_embeddings",
                           "attention_bias", "rope_scaling",      "sliding_window",
                           "modalities",     "vocab_size",        "vocab_ranges",
                           "special_tokens", "special_token_ids", "suppressed_token_ids"}));

  MOT_ASSIGN_OR_RETURN(const std::string format, ReadString(root, "format", "format", true));
  if (format != kFormat) {
    return FieldError("format",
                      absl::StrCat("must be \"", kFormat, "\", got ", ShortDump(json(format))));
  }
  int32_t version = 0;
  MOT_RETURN_IF_ERROR(ReadInt(root, "format_version", "format_version",
                              std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max(), &version));
  if (version != kFormatVersion) {
    return FieldError("format_version", absl::StrCat("unsupported version ", version,
                                                     " (this build reads ", kFormatVersion, ")"));
  }

  MotConfig c;
  MOT_RETURN_IF_ERROR(ReadInt(root, "dim", "dim", 1, kMaxDim, &c.dim));
  MOT_RETURN_IF_ERROR(ReadInt(root, "n_layers", "n_layers", 1, kMaxLayers, &c.n_layers));
  MOT_RETURN_IF_ERROR(ReadInt(root, "n_heads", "n_heads", 1, kMaxHeads, &c.n_heads));
  MOT_RETURN_IF_ERROR(ReadInt(root, "n_kv_heads", "n_kv_heads", 1, kMaxHeads, &c.n_kv_heads));
  MOT_RETURN_IF_ERROR(ReadInt(root, "head_dim", "head_dim", 2, kMaxHeadDim, &c.head_dim));
  MOT_RETURN_IF_ERROR(ReadInt(root, "ffn_hidden", "ffn_hidden", 1, kMaxFfnHidden, &c.ffn_hidden));
  MOT_RETURN_IF_ERROR(ReadFloat(root, "norm_eps", &c.norm_eps));
  MOT_RETURN_IF_ERROR(ReadFloat(root, "rope_theta", &c.rope_theta));
  MOT_RETURN_IF_ERROR(ReadInt(root, "max_seq_len", "max_seq_len", 1, kMaxSeqLen, &c.max_seq_len));

  if (root.contains("norm_placement")) {
    MOT_ASSIGN_OR_RETURN(const std::string v,
                         ReadString(root, "norm_placement", "norm_placement", true));
    if (v == "pre") {
      c.norm_placement = NormPlacement::kPre;
    } else if (v == "post_branch") {
      c.norm_placement = NormPlacement::kPostBranch;
    } else {
      return FieldError("norm_placement", absl::StrCat("must be \"pre\" or \"post_branch\", got ",
                                                       ShortDump(json(v))));
    }
  }
  if (root.contains("norm_type")) {
    MOT_ASSIGN_OR_RETURN(const std::string v, ReadString(root, "norm_type", "norm_type", true));
    if (v == "rms") {
      c.norm_type = NormType::kRms;
    } else if (v == "layer") {
      c.norm_type = NormType::kLayer;
    } else {
      return FieldError("norm_type",
                        absl::StrCat("must be \"rms\" or \"layer\", got ", ShortDump(json(v))));
    }
  }
  MOT_RETURN_IF_ERROR(ParseQkNorm(root, &c));
  MOT_RETURN_IF_ERROR(ReadBool(root, "tie_embeddings", &c.tie_embeddings));
  MOT_RETURN_IF_ERROR(ReadBool(root, "attention_bias", &c.attention_bias));
  MOT_RETURN_IF_ERROR(ParseRopeScaling(root, &c.rope_scaling));
  if (const auto w = root.find("sliding_window"); w != root.end() && !w->is_null()) {
    MOT_RETURN_IF_ERROR(
        ReadInt(root, "sliding_window", "sliding_window", 1, kMaxSeqLen, &c.sliding_window));
  }

  const auto modalities = root.find("modalities");
  if (modalities == root.end()) return FieldError("modalities", "missing");
  if (!modalities->is_array()) {
    return FieldError("modalities",
                      absl::StrCat("must be an array of names, got ", ShortDump(*modalities)));
  }
  if (modalities->empty() || modalities->size() > static_cast<size_t>(kMaxModalities)) {
    return FieldError("modalities", absl::StrCat("must list 1 to ", kMaxModalities, " names, got ",
                                                 modalities->size()));
  }
  for (const json& m : *modalities) {
    if (!m.is_string()) {
      return FieldError("modalities", absl::StrCat("must hold strings, got ", ShortDump(m)));
    }
    std::string name = m.get<std::string>();
    if (std::find(c.modalities.begin(), c.modalities.end(), name) != c.modalities.end()) {
      return FieldError("modalities", absl::StrCat("'", name, "' is listed twice"));
    }
    c.modalities.push_back(std::move(name));
  }

  MOT_RETURN_IF_ERROR(ReadInt(root, "vocab_size", "vocab_size", 1, kMaxVocab, &c.vocab_size));
  const auto ranges = root.find("vocab_ranges");
  if (ranges == root.end()) return FieldError("vocab_ranges", "missing");
  if (!ranges->is_array()) {
    return FieldError("vocab_ranges",
                      absl::StrCat("must be an array of objects, got ", ShortDump(*ranges)));
  }
  for (size_t i = 0; i < ranges->size(); ++i) {
    const json& r = (*ranges)[i];
    const std::string field = absl::StrCat("vocab_ranges[", i, "]");
    if (!r.is_object()) {
      return FieldError(field, absl::StrCat("must be an object, got ", ShortDump(r)));
    }
    MOT_RETURN_IF_ERROR(CheckKeys(r, field, {"name", "begin", "end", "modality"}));
    VocabRange vr;
    MOT_ASSIGN_OR_RETURN(vr.name, ReadString(r, "name", field + ".name", true));
    MOT_RETURN_IF_ERROR(ReadInt(r, "begin", field + ".begin", 0, kMaxVocab, &vr.begin));
    MOT_RETURN_IF_ERROR(ReadInt(r, "end", field + ".end", 0, kMaxVocab, &vr.end));
    MOT_ASSIGN_OR_RETURN(const std::string modality,
                         ReadString(r, "modality", field + ".modality", true));
    const auto m = std::find(c.modalities.begin(), c.modalities.end(), modality);
    if (m == c.modalities.end()) {
      return FieldError(field + ".modality",
                        absl::StrCat(ShortDump(json(modality)), " is not in modalities [",
                                     absl::StrJoin(c.modalities, ", "), "]"));
    }
    vr.tower = static_cast<int32_t>(m - c.modalities.begin());
    c.vocab_ranges.push_back(std::move(vr));
  }
  if (const auto specials = root.find("special_tokens"); specials != root.end()) {
    if (!specials->is_array()) {
      return FieldError("special_tokens",
                        absl::StrCat("must be an array of names, got ", ShortDump(*specials)));
    }
    for (const json& t : *specials) {
      if (!t.is_string()) {
        return FieldError("special_tokens", absl::StrCat("must hold strings, got ", ShortDump(t)));
      }
      c.special_tokens.push_back(t.get<std::string>());
    }
  }
  MOT_RETURN_IF_ERROR(ParseSpecialTokenIds(root, &c));
  MOT_RETURN_IF_ERROR(ParseSuppressedTokenIds(root, &c));
  MOT_RETURN_IF_ERROR(ValidateMotConfig(c));
  return c;
}

absl::StatusOr<MotConfig> LoadMotConfig(const std::string& path) {
  MOT_ASSIGN_OR_RETURN(const std::string text,
                       loaders_internal::ReadSmallFile(path, kMaxConfigBytes));
  absl::StatusOr<MotConfig> config = ParseMotConfig(text);
  if (!config.ok()) return Annotate(config.status(), path);
  return config;
}

std::string MotConfigToJson(const MotConfig& c) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["format_version"] = kFormatVersion;
  j["dim"] = c.dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["n_kv_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["ffn_hidden"] = c.ffn_hidden;
  j["norm_eps"] = ShortestDouble(c.norm_eps);
  j["rope_theta"] = ShortestDouble(c.rope_theta);
  j["max_seq_len"] = c.max_seq_len;
  j["norm_placement"] = c.norm_placement == NormPlacement::kPostBranch ? "post_branch" : "pre";
  j["norm_type"] = c.norm_type == NormType::kLayer ? "layer" : "rms";
  if (c.qk_norm_spec.has_value()) {
    const QkNormSpec& q = *c.qk_norm_spec;
    nlohmann::ordered_json o;
    o["type"] = q.type == NormType::kLayer ? "layer" : "rms";
    o["per_head"] = q.per_head;
    o["bias"] = q.bias;
    o["eps"] = ShortestDouble(q.eps);
    j["qk_norm"] = std::move(o);
  } else {
    j["qk_norm"] = c.qk_norm;
  }
  j["tie_embeddings"] = c.tie_embeddings;
  // Only when set: configs without them stay byte for byte as before these fields existed.
  if (c.attention_bias) j["attention_bias"] = true;
  if (c.rope_scaling.type != RopeScalingType::kNone) {
    const RopeScaling& r = c.rope_scaling;
    nlohmann::ordered_json o;
    o["type"] = r.type == RopeScalingType::kLinear   ? "linear"
                : r.type == RopeScalingType::kLlama3 ? "llama3"
                                                     : "yarn";
    o["factor"] = ShortestDouble(r.factor);
    if (r.type == RopeScalingType::kLlama3) {
      o["low_freq_factor"] = ShortestDouble(r.low_freq_factor);
      o["high_freq_factor"] = ShortestDouble(r.high_freq_factor);
      o["original_max_position_embeddings"] = r.original_max_position_embeddings;
    }
    if (r.type == RopeScalingType::kYarn) {
      o["original_max_position_embeddings"] = r.original_max_position_embeddings;
      o["beta_fast"] = ShortestDouble(r.beta_fast);
      o["beta_slow"] = ShortestDouble(r.beta_slow);
      o["attention_factor"] = ShortestDouble(r.attention_factor);
    }
    j["rope_scaling"] = std::move(o);
  }
  if (c.sliding_window != 0) j["sliding_window"] = c.sliding_window;
  j["modalities"] = c.modalities;
  j["vocab_size"] = c.vocab_size;
  nlohmann::ordered_json ranges = nlohmann::ordered_json::array();
  for (const VocabRange& r : c.vocab_ranges) {
    nlohmann::ordered_json o;
    o["name"] = r.name;
    o["begin"] = r.begin;
    o["end"] = r.end;
    o["modality"] = (r.tower >= 0 && r.tower < c.num_towers())
                        ? c.modalities[static_cast<size_t>(r.tower)]
                        : std::string();
    ranges.push_back(std::move(o));
  }
  j["vocab_ranges"] = std::move(ranges);
  if (!c.special_tokens.empty()) j["special_tokens"] = c.special_tokens;
  if (c.special_token_ids.has_value()) {
    const SpecialTokenIds& s = *c.special_token_ids;
    auto id_or_null = [](int32_t id) {
      return id == SpecialTokenIds::kNone ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(id);
    };
    nlohmann::ordered_json o;
    o["bos"] = id_or_null(s.bos);
    if (s.eos.size() == 1) {
      o["eos"] = s.eos[0];
    } else {
      o["eos"] = s.eos;
    }
    o["pad"] = id_or_null(s.pad);
    o["add_bos"] = s.add_bos;
    j["special_token_ids"] = std::move(o);
  }
  if (!c.suppressed_token_ids.empty()) {
    nlohmann::ordered_json ranges = nlohmann::ordered_json::array();
    for (const TokenIdRange& r : c.suppressed_token_ids) {
      ranges.push_back(nlohmann::ordered_json::array({r.begin, r.end}));
    }
    j["suppressed_token_ids"] = std::move(ranges);
  }
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace mot
