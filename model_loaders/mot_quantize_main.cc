// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-quantize: converts a native checkpoint's GEMM weights (every projection and the untied
// LM head; model_loaders/quantize.h) to Q8_0 or Q4_0 (engine/core/block_quant.h) and writes
// a new checkpoint; embeddings, norms, biases, config.json and the optional files (tokenizers)
// are carried over unchanged.
//   mot-quantize --in CKPT --out CKPT2 --dtype Q8_0|Q4_0 [--overwrite]
// The input is opened with its manifest verified (sizes and SHA-256). The output is written
// as WriteCheckpoint does: into a temporary sibling directory, manifest (SHA-256) last, then
// renamed into place, so a failure leaves nothing under --out. Exit status 0 on success,
// 1 on any error (the message names the flag, file or tensor); 2 for a bad flag.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/quantize.h"

ABSL_FLAG(std::string, in, "", "native checkpoint directory to read (f32, bf16 or f16 weights)");
ABSL_FLAG(std::string, out, "", "checkpoint directory to write (must not exist)");
ABSL_FLAG(std::string, dtype, "", "Q8_0 or Q4_0");
ABSL_FLAG(bool, overwrite, false, "replace --out if it exists");

namespace {

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "mot-quantize: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Converts a native checkpoint's GEMM weights to Q8_0 or Q4_0.\n"
      "  mot-quantize --in CKPT --out CKPT2 --dtype Q8_0|Q4_0 [--overwrite]");
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    return Fail(std::string("unexpected argument '") + rest[1] + "' (flags only; see --help)", 2);
  }
  const std::string in = absl::GetFlag(FLAGS_in);
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string dtype_name = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_dtype));
  if (in.empty()) return Fail("--in is required (see --help)", 2);
  if (out.empty()) return Fail("--out is required (see --help)", 2);
  if (dtype_name != "Q8_0" && dtype_name != "Q4_0") {
    return Fail("--dtype='" + absl::GetFlag(FLAGS_dtype) + "': must be Q8_0 or Q4_0", 2);
  }
  std::error_code ec;
  if (std::filesystem::weakly_canonical(in, ec) == std::filesystem::weakly_canonical(out, ec)) {
    return Fail("--out names the same directory as --in ('" + in + "')", 2);
  }
  const mot::DType dtype = *mot::ParseDType(dtype_name);

  absl::StatusOr<mot::Checkpoint> ckpt = mot::Checkpoint::Open(in);
  if (!ckpt.ok()) return Fail("--in: " + std::string(ckpt.status().message()));
  std::vector<mot::NamedTensor> tensors;
  for (const mot::SafetensorsEntry& e : ckpt->weights().entries()) {
    absl::StatusOr<mot::Tensor> t = ckpt->weights().Get(e.name);
    if (!t.ok()) return Fail(std::string(t.status().message()));
    tensors.push_back({e.name, *std::move(t)});
  }
  absl::StatusOr<std::vector<mot::NamedTensor>> converted =
      mot::ConvertGemmWeights(ckpt->config(), tensors, dtype);
  if (!converted.ok()) {
    return Fail(ckpt->weights().path() + ": " + std::string(converted.status().message()));
  }
  // Every other file the manifest lists (tokenizers) is copied as it is.
  std::map<std::string, std::string> extra;
  for (const std::string& name : ckpt->files()) {
    if (name == "config.json" || name == "model.safetensors" || name == "manifest.json") continue;
    const std::string path = ckpt->OptionalFile(name);
    std::ifstream f(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << f.rdbuf();
    if (!f) return Fail("cannot read " + path);
    extra[name] = bytes.str();
  }
  int64_t converted_count = 0, bytes_before = 0, bytes_after = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    bytes_before += tensors[i].tensor.nbytes();
    bytes_after += (*converted)[i].tensor.nbytes();
    converted_count += tensors[i].tensor.dtype() != (*converted)[i].tensor.dtype();
  }
  if (absl::Status s = mot::WriteCheckpoint(out, ckpt->config(), *converted, extra,
                                            absl::GetFlag(FLAGS_overwrite));
      !s.ok()) {
    return Fail("--out: " + std::string(s.message()));
  }
  std::printf("mot-quantize: %s -> %s: %lld of %zu tensors to %s; weights %.1f MB -> %.1f MB\n",
              in.c_str(), out.c_str(), static_cast<long long>(converted_count), tensors.size(),
              dtype_name.c_str(), bytes_before / 1e6, bytes_after / 1e6);
  return 0;
}
