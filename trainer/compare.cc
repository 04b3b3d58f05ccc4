// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/compare.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/atomic_dir.h"
#include "trainer/tokenizer_dir.h"

namespace mot::trainer {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string Percent(double f) {
  return f < 0 ? std::string("not reached") : absl::StrFormat("%.1f%%", 100 * f);
}

}  // namespace

double StepsToReach(const Curve& curve, double target) {
  for (size_t i = 0; i < curve.size(); ++i) {
    if (curve[i].second > target) continue;
    if (i == 0) return static_cast<double>(curve[0].first);
    const auto [s0, l0] = curve[i - 1];
    const auto [s1, l1] = curve[i];
    const double t = l0 == l1 ? 1.0 : (l0 - target) / (l0 - l1);
    return static_cast<double>(s0) + t * static_cast<double>(s1 - s0);
  }
  return -1;
}

absl::StatusOr<Curve> ReadCurve(const std::string& metrics_path, const std::string& key) {
  std::ifstream in(metrics_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", metrics_path));
  Curve c;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(metrics_path, ":", line_no, ": not JSON"));
    }
    if (!j.contains(key) || !j.contains("step")) continue;
    c.emplace_back(j["step"].get<int64_t>(), j[key].get<double>());
  }
  return c;
}

std::string CompareReport::Table() const {
  std::string out = absl::StrFormat(
      "MoT vs dense at equal compute per token, %d steps each "
      "(MoT %lld parameters, dense %lld)\n\n"
      "| modality | dense final val loss | MoT val loss, same step | MoT steps to reach "
      "dense's final | fraction of dense's steps |\n"
      "| --- | ---: | ---: | ---: | ---: |\n",
      steps, static_cast<long long>(mot_parameters), static_cast<long long>(dense_parameters));
  for (const CompareRow& r : rows) {
    absl::StrAppendFormat(&out, "| %s | %.4f | %.4f | %s | %s |\n", r.name, r.dense_final,
                          r.mot_at_same_step,
                          r.mot_steps_to_match < 0 ? std::string("not reached")
                                                   : absl::StrFormat("%.0f", r.mot_steps_to_match),
                          Percent(r.fraction));
  }
  return out;
}

absl::StatusOr<CompareReport> Compare(const CompareOptions& options) {
  if (options.out.empty()) return absl::InvalidArgumentError("out: is required");
  if (options.train.val_data.empty()) {
    return absl::InvalidArgumentError("val: compare needs validation shards");
  }
  if (options.train.eval_every < 1) {
    return absl::InvalidArgumentError("eval_every: must be >= 1 for compare");
  }
  CompareReport report;
  auto run = [&](TowerLayout towers, const char* name, int64_t* params,
                 double* seconds) -> absl::StatusOr<std::string> {
    TrainOptions o = options.train;
    o.towers = towers;
    o.out = (fs::path(options.out) / name).string();
    o.metrics = "";
    o.final_dir = "";
    MOT_ASSIGN_OR_RETURN(TrainReport r, Train(o));
    *params = r.parameters;
    *seconds = r.seconds;
    report.steps = r.steps;
    return (fs::path(o.out) / "metrics.jsonl").string();
  };
  MOT_ASSIGN_OR_RETURN(
      std::string dense_metrics,
      run(TowerLayout::kDense, "dense", &report.dense_parameters, &report.dense_seconds));
  MOT_ASSIGN_OR_RETURN(std::string mot_metrics,
                       run(TowerLayout::kMot, "mot", &report.mot_parameters, &report.mot_seconds));

  MOT_ASSIGN_OR_RETURN(
      MotConfig vocab,
      LoadVocabConfig((fs::path(options.train.tokenizers) / "config.json").string()));
  std::vector<std::pair<std::string, std::string>> keys = {{"overall", "val_loss"}};
  for (const std::string& m : vocab.modalities) keys.emplace_back(m, "val_loss_" + m);
  json j = {{"steps", report.steps},
            {"mot_parameters", report.mot_parameters},
            {"dense_parameters", report.dense_parameters},
            {"rows", json::array()}};
  for (const auto& [name, key] : keys) {
    MOT_ASSIGN_OR_RETURN(Curve dense, ReadCurve(dense_metrics, key));
    MOT_ASSIGN_OR_RETURN(Curve mot, ReadCurve(mot_metrics, key));
    if (dense.empty() || mot.empty()) continue;  // a modality the validation data lacks
    CompareRow row;
    row.name = name;
    row.dense_final = dense.back().second;
    row.mot_at_same_step = mot.back().second;
    row.mot_steps_to_match = StepsToReach(mot, row.dense_final);
    row.fraction = row.mot_steps_to_match < 0
                       ? -1
                       : row.mot_steps_to_match / static_cast<double>(dense.back().first);
    j["rows"].push_back({{"modality", name},
                         {"dense_final_val_loss", row.dense_final},
                         {"mot_val_loss_same_step", row.mot_at_same_step},
                         {"mot_steps_to_match", row.mot_steps_to_match},
                         {"fraction_of_dense_steps", row.fraction}});
    report.rows.push_back(row);
  }
  const std::string table = report.Table();
  MOT_RETURN_IF_ERROR(WriteFileSynced((fs::path(options.out) / "compare.md").string(), table));
  MOT_RETURN_IF_ERROR(
      WriteFileSynced((fs::path(options.out) / "compare.json").string(), j.dump(2) + "\n"));

  if (!options.plot_script.empty()) {
    const std::string png = (fs::path(options.out) / "loss_curves.png").string();
    const std::string cmd =
        absl::StrCat(ShellQuote(options.python), " ", ShellQuote(options.plot_script), " --out ",
                     ShellQuote(png), " --label MoT ", ShellQuote(mot_metrics), " --label dense ",
                     ShellQuote(dense_metrics));
    const int rc = std::system(cmd.c_str());
    if (rc == 0 && fs::exists(png)) {
      report.plot = png;
    } else {
      std::fprintf(stderr,
                   "compare: the loss-curve plot was not drawn (%s exited %d; it needs python3 "
                   "with matplotlib: apt-get install python3-matplotlib)\n",
                   options.plot_script.c_str(), WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    }
  }
  return report;
}

}  // namespace mot::trainer
