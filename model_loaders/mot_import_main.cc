// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-import: converts a Hugging Face transformers model directory (LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM), or the language model of a BAGEL directory
// (llm_config.json + ema.safetensors: two towers, "text" and "image"; the ViT, VAE and
// flow-matching head are not imported), into a native MoT checkpoint that mot-server and
// the engine load (model_loaders/hf_import.h).
//   mot-import --hf_dir DIR --out CKPT [--overwrite] [--skip_tokenizer]
// tokenizer.json is copied when the engine's BPE loader (engine/tokenizer/text) accepts it;
// otherwise the import is refused naming the reason, unless --skip_tokenizer. Exit status 0
// on success, 1 on any error (printed with the file and field); nothing is written then.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "engine/tokenizer/text/text_tokenizer.h"
#include "model_loaders/hf_import.h"

ABSL_FLAG(std::string, hf_dir, "",
          "Hugging Face model directory (config.json, *.safetensors), or a BAGEL one "
          "(llm_config.json, ema.safetensors)");
ABSL_FLAG(std::string, out, "", "Native checkpoint directory to write (must not exist)");
ABSL_FLAG(bool, overwrite, false, "Replace --out if it exists");
ABSL_FLAG(bool, skip_tokenizer, false, "Do not copy tokenizer.json (and do not check it)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Converts a Hugging Face model directory into a native MoT checkpoint.\n"
      "  mot-import --hf_dir DIR --out CKPT [--overwrite] [--skip_tokenizer]");
  absl::ParseCommandLine(argc, argv);
  const std::string hf_dir = absl::GetFlag(FLAGS_hf_dir);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (hf_dir.empty() || out.empty()) {
    std::fprintf(stderr, "mot-import: --hf_dir and --out are required (see --help)\n");
    return 1;
  }
  mot::hf::HfImportOptions options;
  options.overwrite = absl::GetFlag(FLAGS_overwrite);
  options.skip_tokenizer = absl::GetFlag(FLAGS_skip_tokenizer);
  options.check_tokenizer = [](std::string_view text) -> absl::Status {
    return mot::tokenizer::TextTokenizer::FromJson(text).status();
  };
  const absl::StatusOr<mot::hf::HfImportResult> r = mot::hf::ImportHfModel(hf_dir, out, options);
  if (!r.ok()) {
    std::fprintf(stderr, "mot-import: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  const mot::MotConfig& c = r->config;
  for (const std::string& note : r->notes) std::printf("mot-import: %s\n", note.c_str());
  if (c.special_token_ids.has_value()) {
    const mot::SpecialTokenIds& s = *c.special_token_ids;
    std::printf("mot-import: special tokens: bos %d, eos %s, pad %d (-1: none); prompts %s\n",
                s.bos, absl::StrJoin(s.eos, ", ").c_str(), s.pad,
                s.add_bos ? "start with bos" : "do not start with bos");
  }
  std::printf(
      "mot-import: %s -> %s: %s, %d layers, dim %d, %d heads (%d kv), towers %s, vocab %d, "
      "%lld tensors from %s%s%s\n",
      hf_dir.c_str(), out.c_str(), r->architecture.c_str(), c.n_layers, c.dim, c.n_heads,
      c.n_kv_heads, absl::StrJoin(c.modalities, "+").c_str(), c.vocab_size,
      static_cast<long long>(r->num_tensors), absl::StrJoin(r->shards, ", ").c_str(),
      r->copied.empty() ? "" : "; copied ", absl::StrJoin(r->copied, ", ").c_str());
  return 0;
}
