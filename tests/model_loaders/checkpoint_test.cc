// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

namespace fs = std::filesystem;
using ::mot::testing::IsOk;
using ::mot::testing::ReadAll;
using ::mot::testing::ScratchDir;
using ::mot::testing::StatusIs;
using ::mot::testing::WriteAllTo;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kDataLoss = absl::StatusCode::kDataLoss;
constexpr auto kNotFound = absl::StatusCode::kNotFound;

MotConfig TinyConfig() {
  MotConfig c;
  c.dim = 8;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.head_dim = 4;
  c.ffn_hidden = 16;
  c.max_seq_len = 32;
  c.qk_norm = true;
  c.modalities = {"text", "image"};
  c.vocab_size = 20;
  c.vocab_ranges = {{"special", 0, 4, 0}, {"text", 4, 12, 0}, {"image", 12, 20, 1}};
  return c;
}

std::vector<NamedTensor> TinyTensors(const MotConfig& c) {
  std::vector<NamedTensor> out;
  int seed = 0;
  for (const weight_names::ExpectedTensor& e : weight_names::ExpectedTensors(c)) {
    Tensor t = Tensor::Empty(DType::kF32, e.shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = 0.01f * (i + seed);
    ++seed;
    out.push_back({e.name, t.To(DType::kBF16)});
  }
  return out;
}

// Recomputes every size and SHA-256 in dir/manifest.json (after a test edited a file).
void RefreshManifest(const std::string& dir) {
  json m = json::parse(ReadAll(dir + "/manifest.json"));
  for (auto& [name, info] : m["files"].items()) {
    const std::string path = dir + "/" + name;
    info["size"] = fs::file_size(path);
    info["sha256"] = *Sha256File(path);
  }
  WriteAllTo(dir + "/manifest.json", m.dump(2));
}

void EditManifest(const std::string& dir, const std::function<void(json&)>& edit) {
  json m = json::parse(ReadAll(dir + "/manifest.json"));
  edit(m);
  WriteAllTo(dir + "/manifest.json", m.dump(2));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ckpt_ = scratch_.Join("ckpt");
    ASSERT_THAT(WriteCheckpoint(ckpt_, config_, tensors_, {{"tokenizer.json", "{\"v\": 1}"}}),
                IsOk());
  }
  // Replaces model.safetensors with `tensors` and refreshes the manifest.
  void ReplaceWeights(const std::vector<NamedTensor>& tensors) {
    ASSERT_THAT(WriteSafetensors(ckpt_ + "/model.safetensors", tensors), IsOk());
    RefreshManifest(ckpt_);
  }

  ScratchDir scratch_;
  std::string ckpt_;
  MotConfig config_ = TinyConfig();
  std::vector<NamedTensor> tensors_ = TinyTensors(config_);
};

TEST_F(CheckpointTest, WriteThenOpenRoundTrips) {
  const absl::StatusOr<Checkpoint> c = Checkpoint::Open(ckpt_);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->config(), config_);
  EXPECT_EQ(c->dir(), ckpt_);
  ASSERT_EQ(c->weights().entries().size(), tensors_.size());
  for (const NamedTensor& t : tensors_) {
    const absl::StatusOr<Tensor> got = c->weights().Get(t.name);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->dtype(), DType::kBF16);
    EXPECT_EQ(std::memcmp(got->data(), t.tensor.data(), t.tensor.nbytes()), 0) << t.name;
  }
  EXPECT_EQ(c->OptionalFile("tokenizer.json"), ckpt_ + "/tokenizer.json");
  EXPECT_EQ(c->OptionalFile("image_tokenizer.safetensors"), "");
  EXPECT_EQ(ReadAll(c->OptionalFile("tokenizer.json")), "{\"v\": 1}");

  const json m = json::parse(ReadAll(ckpt_ + "/manifest.json"));
  EXPECT_EQ(m["format"], "mot-checkpoint");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["files"].size(), 3u);
  EXPECT_EQ(m["files"]["model.safetensors"]["size"], fs::file_size(ckpt_ + "/model.safetensors"));
}

TEST_F(CheckpointTest, WriteLeavesNoTemporaryDirectory) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(scratch_.path())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("ckpt"));
}

TEST_F(CheckpointTest, MissingManifestIsNotFound) {
  fs::remove(ckpt_ + "/manifest.json");
  EXPECT_THAT(Checkpoint::Open(ckpt_), StatusIs(kNotFound, HasSubstr("manifest.json")));
  EXPECT_THAT(Checkpoint::Open(scratch_.Join("nowhere")),
              StatusIs(kNotFound, HasSubstr("nowhere/manifest.json")));
}

TEST_F(CheckpointTest, MissingTensorIsRejectedNamingIt) {
  std::vector<NamedTensor> fewer = tensors_;
  const std::string dropped = fewer[3].name;
  fewer.erase(fewer.begin() + 3);
  ReplaceWeights(fewer);
  EXPECT_THAT(Checkpoint::Open(ckpt_),
              StatusIs(kInvalid,
                       AllOf(HasSubstr("model.safetensors"),
                             HasSubstr("'" + dropped + "' is missing"), HasSubstr("config.json"))));
}

TEST_F(CheckpointTest, WrongShapeIsRejectedNamingBothShapes) {
  std::vector<NamedTensor> wrong = tensors_;
  for (NamedTensor& t : wrong) {
    if (t.name == weight_names::AttentionProj(0, 'k', 1))
      t.tensor = Tensor::Zeros(DType::kF32, {8, 8});
  }
  ReplaceWeights(wrong);
  EXPECT_THAT(
      Checkpoint::Open(ckpt_),
      StatusIs(kInvalid, AllOf(HasSubstr("model.safetensors"),
                               HasSubstr("'" + weight_names::AttentionProj(0, 'k', 1) + "'"),
                               HasSubstr("has shape [8, 8] but config.json implies [4, 8]"))));
}

TEST_F(CheckpointTest, ExtraTensorIsRejected) {
  std::vector<NamedTensor> more = tensors_;
  more.push_back({"layers.5.attention.local_experts_wq.0.weight", Tensor::Zeros(DType::kF32, {1})});
  ReplaceWeights(more);
  EXPECT_THAT(Checkpoint::Open(ckpt_),
              StatusIs(kInvalid, AllOf(HasSubstr("model.safetensors"),
                                       HasSubstr("unexpected tensor 'layers.5.attention"))));
}

TEST_F(CheckpointTest, ManifestSizeMismatchIsDataLoss) {
  EditManifest(ckpt_, [](json& m) { m["files"]["config.json"]["size"] = 3; });
  EXPECT_THAT(
      Checkpoint::Open(ckpt_),
      StatusIs(kDataLoss, AllOf(HasSubstr("config.json"), HasSubstr("but manifest.json says 3"))));
}

TEST_F(CheckpointTest, ShaMismatchIsDataLoss) {
  EditManifest(ckpt_,
               [](json& m) { m["files"]["tokenizer.json"]["sha256"] = std::string(64, 'a'); });
  EXPECT_THAT(Checkpoint::Open(ckpt_),
              StatusIs(kDataLoss, AllOf(HasSubstr("tokenizer.json"), HasSubstr("SHA-256"))));
}

TEST_F(CheckpointTest, TamperedWeightByteIsDataLossUnlessHashingIsOff) {
  const std::string path = ckpt_ + "/model.safetensors";
  std::string bytes = ReadAll(path);
  bytes[bytes.size() - 1] ^= 0x01;  // a data byte: the file still parses
  WriteAllTo(path, bytes);
  EXPECT_THAT(Checkpoint::Open(ckpt_),
              StatusIs(kDataLoss, AllOf(HasSubstr(path), HasSubstr("SHA-256"))));
  EXPECT_THAT(Checkpoint::Open(ckpt_, {.verify_sha256 = false}), IsOk());
}

TEST_F(CheckpointTest, ListedFileMissingIsNotFound) {
  fs::remove(ckpt_ + "/tokenizer.json");
  EXPECT_THAT(
      Checkpoint::Open(ckpt_),
      StatusIs(kNotFound, HasSubstr("tokenizer.json: listed in manifest.json but missing")));
}

TEST_F(CheckpointTest, RequiredFilesMustBeListedAndPresent) {
  EditManifest(ckpt_, [](json& m) { m["files"].erase("model.safetensors"); });
  EXPECT_THAT(Checkpoint::Open(ckpt_),
              StatusIs(kInvalid, HasSubstr("does not list model.safetensors")));
  RefreshManifest(ckpt_);
  EditManifest(ckpt_, [](json& m) { m["files"].erase("config.json"); });
  EXPECT_THAT(Checkpoint::Open(ckpt_), StatusIs(kInvalid, HasSubstr("does not list config.json")));
}

TEST_F(CheckpointTest, BadManifestSchemaIsRejected) {
  const std::string good = ReadAll(ckpt_ + "/manifest.json");
  struct Case {
    std::function<void(json&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {[](json& m) { m["format"] = "zip"; }, "field format"},
      {[](json& m) { m["version"] = 2; }, "field version"},
      {[](json& m) { m["extra"] = 1; }, "unknown field \"extra\""},
      {[](json& m) { m["files"] = json::array(); }, "field files"},
      {[](json& m) { m["files"]["config.json"]["sha256"] = "ABC"; }, "sha256: must be 64"},
      {[](json& m) { m["files"]["config.json"]["size"] = -1; }, "size: must be a non-negative"},
      {[](json& m) { m["files"]["config.json"]["mtime"] = 0; }, "unknown field \"mtime\""},
      {[](json& m) { m["files"]["../escape"] = m["files"]["config.json"]; },
       "not a file name inside the checkpoint"},
      {[](json& m) { m["files"]["manifest.json"] = m["files"]["config.json"]; },
       "not a file name inside the checkpoint"},
  };
  for (const Case& c : cases) {
    WriteAllTo(ckpt_ + "/manifest.json", good);
    EditManifest(ckpt_, c.edit);
    EXPECT_THAT(Checkpoint::Open(ckpt_),
                StatusIs(kInvalid, AllOf(HasSubstr("manifest.json"), HasSubstr(c.message))));
  }
  WriteAllTo(ckpt_ + "/manifest.json", "{\"format\": ");
  EXPECT_THAT(Checkpoint::Open(ckpt_), StatusIs(kInvalid, HasSubstr("not well-formed JSON")));
}

TEST_F(CheckpointTest, InvalidConfigIsRejectedNamingTheFile) {
  json c = json::parse(ReadAll(ckpt_ + "/config.json"));
  c["n_kv_heads"] = 3;
  WriteAllTo(ckpt_ + "/config.json", c.dump());
  RefreshManifest(ckpt_);
  EXPECT_THAT(
      Checkpoint::Open(ckpt_),
      StatusIs(kInvalid, HasSubstr("config.json: field n_kv_heads: must divide n_heads=2")));
}

TEST_F(CheckpointTest, ExistingDirectoryIsKeptWithoutOverwrite) {
  WriteAllTo(ckpt_ + "/marker", "keep me");
  const std::string manifest = ReadAll(ckpt_ + "/manifest.json");
  MotConfig other = config_;
  other.max_seq_len = 64;
  EXPECT_THAT(WriteCheckpoint(ckpt_, other, tensors_),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(ckpt_)));
  EXPECT_EQ(ReadAll(ckpt_ + "/marker"), "keep me");
  EXPECT_EQ(ReadAll(ckpt_ + "/manifest.json"), manifest);
  EXPECT_EQ(Checkpoint::Open(ckpt_)->config().max_seq_len, 32);

  ASSERT_THAT(WriteCheckpoint(ckpt_, other, tensors_, {}, /*overwrite=*/true), IsOk());
  EXPECT_FALSE(fs::exists(ckpt_ + "/marker"));
  const absl::StatusOr<Checkpoint> c = Checkpoint::Open(ckpt_);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->config().max_seq_len, 64);
  EXPECT_EQ(c->OptionalFile("tokenizer.json"), "");
  int entries = 0;
  for (const auto& unused : fs::directory_iterator(scratch_.path())) {
    (void)unused;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "the old checkpoint or a temporary directory was left behind";
}

TEST_F(CheckpointTest, WriteRejectsInconsistentInputWithoutTouchingTheDisk) {
  const std::string dir = scratch_.Join("sub/new");
  std::vector<NamedTensor> fewer(tensors_.begin(), tensors_.end() - 1);
  EXPECT_THAT(WriteCheckpoint(dir, config_, fewer),
              StatusIs(kInvalid, HasSubstr("WriteCheckpoint: tensors")));
  MotConfig bad = config_;
  bad.head_dim = 3;
  EXPECT_THAT(WriteCheckpoint(dir, bad, tensors_), StatusIs(kInvalid, HasSubstr("head_dim")));
  EXPECT_THAT(WriteCheckpoint(dir, config_, tensors_, {{"manifest.json", "{}"}}),
              StatusIs(kInvalid, HasSubstr("manifest.json")));
  EXPECT_THAT(WriteCheckpoint(dir, config_, tensors_, {{"a/b", "x"}}),
              StatusIs(kInvalid, HasSubstr("not allowed")));
  EXPECT_FALSE(fs::exists(scratch_.Join("sub")));
  // A valid write creates the parent directories.
  EXPECT_THAT(WriteCheckpoint(dir, config_, tensors_), IsOk());
  EXPECT_THAT(Checkpoint::Open(dir), IsOk());
}

TEST(Sha256FileTest, MatchesKnownDigests) {
  ScratchDir dir;
  WriteAllTo(dir.Join("abc"), "abc");
  EXPECT_EQ(*Sha256File(dir.Join("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  WriteAllTo(dir.Join("empty"), "");
  EXPECT_EQ(*Sha256File(dir.Join("empty")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Larger than the 1 MiB read buffer (value from coreutils' sha256sum).
  WriteAllTo(dir.Join("big"), std::string(3 << 20, 'a'));
  EXPECT_EQ(*Sha256File(dir.Join("big")),
            "6f850bc94ae6f7de14297c01616c36d712d22864497b28a63b81d776b035e656");
  EXPECT_THAT(Sha256File(dir.Join("missing")), StatusIs(kNotFound, HasSubstr("missing")));
}

}  // namespace
}  // namespace mot
