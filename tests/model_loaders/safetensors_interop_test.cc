// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Interop with the reference implementation: files written by our writer are read by the
// Python `safetensors` library (and re-saved by it byte for byte the same), and files it
// writes are read by us with equal values. Needs MOT_PYTHON with torch and safetensors;
// skips otherwise.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/safetensors.h"
#include "nlohmann/json.hpp"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::ReadAll;
using ::mot::testing::ScratchDir;
using ::mot::testing::StatusIs;
using ::mot::testing::WriteAllTo;
using ::testing::HasSubstr;
using json = nlohmann::json;

// Runs `script` with MOT_PYTHON and the given arguments; returns stdout, or sets *rc.
std::string RunPython(const ScratchDir& dir, const std::string& script,
                      const std::vector<std::string>& args, int* rc) {
  const std::string script_path = dir.Join("script.py");
  WriteAllTo(script_path, script);
  std::string cmd = std::string(MOT_PYTHON) + " " + script_path;
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *rc = -1;
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *rc = ::pclose(p);
  return out;
}

// Skips the test unless MOT_PYTHON runs and imports torch and safetensors.
#define MOT_REQUIRE_PYTHON(dir)                                                          \
  do {                                                                                   \
    if (::access(MOT_PYTHON, X_OK) != 0) {                                               \
      GTEST_SKIP() << "oracle interpreter MOT_PYTHON=" << MOT_PYTHON                     \
                   << " is missing (run scripts/setup.sh)";                              \
    }                                                                                    \
    int probe_rc = 0;                                                                    \
    const std::string probe =                                                            \
        RunPython(dir, "import torch, safetensors.torch\nprint('ok')\n", {}, &probe_rc); \
    if (probe_rc != 0) {                                                                 \
      GTEST_SKIP() << "MOT_PYTHON=" << MOT_PYTHON                                        \
                   << " cannot import torch and safetensors: " << probe;                 \
    }                                                                                    \
  } while (0)

float ValueAt(const Tensor& t, int64_t i) {
  float f;
  ConvertToF32(t.dtype(), static_cast<const char*>(t.data()) + i * DTypeSize(t.dtype()), 1, &f);
  return f;
}

Tensor Values(DType dtype, std::vector<int64_t> shape, float scale) {
  Tensor f32 = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < f32.numel(); ++i) {
    f32.data_as<float>()[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.1f);
  }
  return f32.To(dtype);
}

// Loads argv[1] with safetensors, prints {"metadata": ..., "tensors": {name: {dtype,
// shape, values}}} and re-saves the tensors and metadata to argv[2].
const char kReadScript[] = R"(
import json, sys, torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
tensors = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework='pt') as f:
    metadata = f.metadata()
names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16'}
out = {'metadata': metadata, 'tensors': {}}
for name, t in tensors.items():
    out['tensors'][name] = {'dtype': names[t.dtype], 'shape': list(t.shape),
                            'values': t.float().flatten().tolist()}
print(json.dumps(out))
save_file(tensors, sys.argv[2], metadata=metadata)
)";

TEST(SafetensorsInteropTest, PythonReadsOurFilesAndRewritesThemIdentically) {
  ScratchDir dir;
  MOT_REQUIRE_PYTHON(dir);
  const std::vector<NamedTensor> tensors = {
      {"layers.0.attention.wq", Values(DType::kBF16, {6, 4}, 3.0f)},
      {"norm.0.weight", Values(DType::kF32, {5}, 1.0f)},
      {"odd.f16", Values(DType::kF16, {3}, 100.0f)},
      {"empty", Tensor::Zeros(DType::kF32, {0, 2})},
  };
  const std::string ours = dir.Join("ours.safetensors");
  ASSERT_THAT(WriteSafetensors(ours, tensors, {{"format", "pt"}}), IsOk());

  int rc = 0;
  const std::string resaved = dir.Join("python.safetensors");
  const std::string out = RunPython(dir, kReadScript, {ours, resaved}, &rc);
  ASSERT_EQ(rc, 0) << out;
  const json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["metadata"], json({{"format", "pt"}}));
  ASSERT_EQ(j["tensors"].size(), tensors.size());
  for (const NamedTensor& t : tensors) {
    SCOPED_TRACE(t.name);
    const json& got = j["tensors"][t.name];
    EXPECT_EQ(got["dtype"], DTypeName(t.tensor.dtype()));
    EXPECT_EQ(got["shape"].get<std::vector<int64_t>>(), t.tensor.shape());
    ASSERT_EQ(got["values"].size(), static_cast<size_t>(t.tensor.numel()));
    for (int64_t i = 0; i < t.tensor.numel(); ++i) {
      EXPECT_EQ(got["values"][i].get<double>(), ValueAt(t.tensor, i)) << "element " << i;
    }
  }
  // The reference writer produces exactly our bytes (ordering, padding, offsets).
  EXPECT_EQ(ReadAll(resaved), ReadAll(ours));
}

// Writes argv[1] with safetensors and prints the values it wrote.
const char kWriteScript[] = R"(
import json, sys, torch
from safetensors.torch import save_file
torch.manual_seed(0)
tensors = {
    'tok_embeddings.weight': torch.randn(7, 3).to(torch.bfloat16),
    'output.weight': torch.randn(2, 5, dtype=torch.float32),
    'half': (torch.randn(9) * 50).to(torch.float16),
    'scalar': torch.tensor(3.25),
}
save_file(tensors, sys.argv[1], metadata={'producer': 'python'})
print(json.dumps({k: {'shape': list(v.shape), 'values': v.float().flatten().tolist()}
                  for k, v in tensors.items()}))
if len(sys.argv) > 2:
    save_file({'ids': torch.arange(4, dtype=torch.int64)}, sys.argv[2])
)";

TEST(SafetensorsInteropTest, WeReadPythonFilesWithEqualValues) {
  ScratchDir dir;
  MOT_REQUIRE_PYTHON(dir);
  const std::string path = dir.Join("python.safetensors");
  const std::string ids_path = dir.Join("ids.safetensors");
  int rc = 0;
  const std::string out = RunPython(dir, kWriteScript, {path, ids_path}, &rc);
  ASSERT_EQ(rc, 0) << out;
  const json want = json::parse(out, nullptr, false);
  ASSERT_FALSE(want.is_discarded()) << out;

  const absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(path);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->metadata().at("producer"), "python");
  ASSERT_EQ(f->entries().size(), want.size());
  for (const auto& [name, w] : want.items()) {
    SCOPED_TRACE(name);
    const absl::StatusOr<Tensor> t = f->Get(name);
    ASSERT_THAT(t, IsOk());
    EXPECT_EQ(t->shape(), w["shape"].get<std::vector<int64_t>>());
    EXPECT_FALSE(t->owns_data()) << "python's layout keeps tensors aligned: expected a view";
    ASSERT_EQ(static_cast<size_t>(t->numel()), w["values"].size());
    double max_diff = 0;
    for (int64_t i = 0; i < t->numel(); ++i) {
      max_diff = std::max(max_diff, std::abs(w["values"][i].get<double>() - ValueAt(*t, i)));
    }
    std::printf("%s: max |diff| = %g\n", name.c_str(), max_diff);
    EXPECT_EQ(max_diff, 0.0);  // the same bits: no tolerance
  }
  EXPECT_EQ(f->Get("tok_embeddings.weight")->dtype(), DType::kBF16);
  EXPECT_EQ(f->Get("half")->dtype(), DType::kF16);

  EXPECT_THAT(SafetensorsFile::Open(ids_path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tensor 'ids': unsupported dtype I64")));
}

}  // namespace
}  // namespace mot
