// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/pack.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "trainer/progress.h"
#include "trainer/shard.h"

namespace mot::trainer {

absl::StatusOr<PackedExample> PackExample(const tokenizer::PromptBuilder& builder,
                                          const ManifestExample& example, int64_t max_tokens) {
  const tokenizer::UnifiedVocab& vocab = builder.vocab();
  PackedExample out;
  // A BOS only where the model's prompts get one (an imported model may have none).
  if (vocab.adds_bos()) out.ids.push_back(vocab.bos_id());
  size_t last_part_begin = out.ids.size();
  for (size_t p = 0; p < example.parts.size(); ++p) {
    const ManifestPart& mp = example.parts[p];
    const std::string label =
        absl::StrCat("parts[", p, "] (", tokenizer::ModalityName(mp.modality), ")");
    absl::StatusOr<tokenizer::Part> part = LoadPart(mp);
    if (!part.ok()) return Annotate(part.status(), label);
    // One part per Build() call: the same ids as one call over all parts (each part is
    // encoded alone), and the boundary of the last part comes for free.
    absl::StatusOr<tokenizer::Prompt> prompt =
        builder.Build(std::span<const tokenizer::Part>(&*part, 1), {.add_bos = false});
    if (!prompt.ok()) {
      // The builder names the part "part 0 (image)" of its one-part call; name ours.
      return absl::Status(
          prompt.status().code(),
          absl::StrCat(label, " ",
                       mp.modality == tokenizer::Modality::kText ? "" : absl::StrCat(mp.value, " "),
                       prompt.status().message()));
    }
    last_part_begin = out.ids.size();
    out.ids.insert(out.ids.end(), prompt->ids.begin(), prompt->ids.end());
    if (max_tokens > 0 && static_cast<int64_t>(out.ids.size()) + 1 > max_tokens) {
      return absl::ResourceExhaustedError(absl::StrCat(label, ": the example reaches ",
                                                       out.ids.size() + 1,
                                                       " tokens, over max_tokens=", max_tokens));
    }
  }
  out.ids.push_back(vocab.eos_id());
  const size_t n = out.ids.size();
  out.towers.resize(n);
  out.loss.assign(n, 0);
  for (size_t i = 0; i < n; ++i) out.towers[i] = vocab.TowerOf(out.ids[i]);
  const size_t first_target = example.loss == LossMode::kAll ? 1 : last_part_begin;
  std::fill(out.loss.begin() + static_cast<std::ptrdiff_t>(first_target), out.loss.end(), 1);
  return out;
}

absl::StatusOr<PackReport> PackManifest(const tokenizer::PromptBuilder& builder,
                                        const PackOptions& o) {
  std::optional<ThreadPool> local_pool;
  ThreadPool* pool = o.pool != nullptr ? o.pool : &local_pool.emplace(1);
  PackReport report;
  auto report_bad = [&](const BadRow& row) {
    ++report.bad_rows;
    if (o.on_bad_row) o.on_bad_row(FormatBadRow(o.manifest, row));
  };
  MOT_ASSIGN_OR_RETURN(Manifest manifest,
                       ReadManifest(o.manifest, o.policy, /*check_files=*/true, report_bad));
  ShardWriterOptions wo;
  wo.vocab_size = builder.vocab().size();
  wo.num_towers = builder.vocab().num_towers();
  wo.max_shard_tokens = o.max_shard_tokens;
  wo.overwrite = o.overwrite;
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<ShardWriter> writer, ShardWriter::Create(o.out, wo));

  // Batches keep memory bounded (a batch of results at a time) and the order fixed.
  const int64_t total = static_cast<int64_t>(manifest.examples.size());
  const int64_t batch = std::max<int64_t>(64, int64_t{16} * pool->num_threads());
  ProgressBar bar("packing", total, "ex");
  std::vector<absl::StatusOr<PackedExample>> results;
  for (int64_t start = 0; start < total; start += batch) {
    const int64_t n = std::min(batch, total - start);
    results.assign(static_cast<size_t>(n), absl::UnknownError("not packed"));
    pool->ParallelFor(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        results[static_cast<size_t>(i)] =
            PackExample(builder, manifest.examples[static_cast<size_t>(start + i)], o.max_tokens);
        bar.Add(1);
      }
    });
    for (int64_t i = 0; i < n; ++i) {
      const ManifestExample& ex = manifest.examples[static_cast<size_t>(start + i)];
      absl::StatusOr<PackedExample>& r = results[static_cast<size_t>(i)];
      if (!r.ok()) {
        const BadRow bad{ex.line, r.status()};
        if (o.policy == BadRowPolicy::kStrict) {
          return absl::Status(r.status().code(), FormatBadRow(o.manifest, bad));
        }
        report_bad(bad);
        continue;
      }
      MOT_RETURN_IF_ERROR(writer->Add(r->ids, r->towers, r->loss));
      ++report.examples;
      report.tokens += static_cast<int64_t>(r->ids.size());
      for (uint8_t m : r->loss) report.loss_tokens += m;
    }
  }
  bar.Finish();
  if (report.examples == 0) {
    return absl::InvalidArgumentError(absl::StrCat(o.manifest, ": no usable example to pack"));
  }
  MOT_RETURN_IF_ERROR(writer->Finish());
  return report;
}

}  // namespace mot::trainer
