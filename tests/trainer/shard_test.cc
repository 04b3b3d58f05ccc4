// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/shard.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/shard_format.h"

namespace mot::trainer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

struct Example {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers, loss;
};

std::vector<Example> RandomExamples(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Example> out(static_cast<size_t>(n));
  for (Example& e : out) {
    const int len = 1 + static_cast<int>(rng() % 40);
    for (int t = 0; t < len; ++t) {
      e.ids.push_back(static_cast<int32_t>(rng() % 1000));
      e.towers.push_back(static_cast<uint8_t>(rng() % 3));
      e.loss.push_back(static_cast<uint8_t>(rng() % 2));
    }
  }
  return out;
}

absl::Status WriteAll(const std::string& dir, const std::vector<Example>& examples,
                      int64_t max_shard_tokens) {
  absl::StatusOr<std::unique_ptr<ShardWriter>> w = ShardWriter::Create(
      dir, {.vocab_size = 1000, .num_towers = 3, .max_shard_tokens = max_shard_tokens});
  if (!w.ok()) return w.status();
  for (const Example& e : examples) {
    if (absl::Status s = (*w)->Add(e.ids, e.towers, e.loss); !s.ok()) return s;
  }
  return (*w)->Finish();
}

TEST(ShardTest, RoundTripThroughMmapAcrossSeveralShards) {
  testing::TempDir tmp;
  const std::string dir = tmp.path("shards");
  const std::vector<Example> examples = RandomExamples(300, 7);
  ASSERT_THAT(WriteAll(dir, examples, /*max_shard_tokens=*/500), IsOk());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files += entry.path().extension() == ".bin";
  }
  EXPECT_GT(files, 3);  // ~6000 tokens cut every >= 500
  absl::StatusOr<std::unique_ptr<ShardReader>> r = ShardReader::Open(dir);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ((*r)->num_examples(), 300);
  EXPECT_EQ((*r)->vocab_size(), 1000);
  EXPECT_EQ((*r)->num_towers(), 3);
  int64_t tokens = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const ExampleView v = (*r)->example(static_cast<int64_t>(i));
    EXPECT_THAT(v.ids, ElementsAreArray(examples[i].ids)) << "example " << i;
    EXPECT_THAT(v.towers, ElementsAreArray(examples[i].towers)) << "example " << i;
    EXPECT_THAT(v.loss, ElementsAreArray(examples[i].loss)) << "example " << i;
    tokens += static_cast<int64_t>(examples[i].ids.size());
  }
  EXPECT_EQ((*r)->num_tokens(), tokens);
  // No temporary directory is left beside the set.
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(entry.path().filename(), "shards");
  }
}

TEST(ShardTest, AddRejectsBadExamplesAndKeepsNothingOfThem) {
  testing::TempDir tmp;
  absl::StatusOr<std::unique_ptr<ShardWriter>> w =
      ShardWriter::Create(tmp.path("s"), {.vocab_size = 10, .num_towers = 2});
  ASSERT_THAT(w, IsOk());
  const std::vector<uint8_t> one = {0}, two = {0, 0};
  EXPECT_THAT((*w)->Add(std::vector<int32_t>{10}, one, one),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("id 10")));
  EXPECT_THAT((*w)->Add(std::vector<int32_t>{1}, std::vector<uint8_t>{2}, one),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tower 2")));
  EXPECT_THAT((*w)->Add(std::vector<int32_t>{1}, two, one),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("differ in length")));
  EXPECT_THAT((*w)->Add({}, {}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no tokens")));
  ASSERT_THAT((*w)->Add(std::vector<int32_t>{3, 4}, two, std::vector<uint8_t>{0, 1}), IsOk());
  ASSERT_THAT((*w)->Finish(), IsOk());
  absl::StatusOr<std::unique_ptr<ShardReader>> r = ShardReader::Open(tmp.path("s"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ((*r)->num_examples(), 1);
  EXPECT_EQ((*r)->num_tokens(), 2);
}

TEST(ShardTest, AnUnfinishedWriterLeavesNoDirectory) {
  testing::TempDir tmp;
  {
    absl::StatusOr<std::unique_ptr<ShardWriter>> w =
        ShardWriter::Create(tmp.path("s"), {.vocab_size = 10, .num_towers = 1});
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT(
        (*w)->Add(std::vector<int32_t>{1}, std::vector<uint8_t>{0}, std::vector<uint8_t>{1}),
        IsOk());
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

TEST(ShardTest, ExistingOutputNeedsOverwrite) {
  testing::TempDir tmp;
  ASSERT_THAT(WriteAll(tmp.path("s"), RandomExamples(3, 1), 100), IsOk());
  EXPECT_THAT(ShardWriter::Create(tmp.path("s"), {.vocab_size = 1000, .num_towers = 3}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("--overwrite")));
  absl::StatusOr<std::unique_ptr<ShardWriter>> w =
      ShardWriter::Create(tmp.path("s"), {.vocab_size = 1000, .num_towers = 3, .overwrite = true});
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Add(std::vector<int32_t>{5}, std::vector<uint8_t>{1}, std::vector<uint8_t>{1}),
              IsOk());
  ASSERT_THAT((*w)->Finish(), IsOk());
  absl::StatusOr<std::unique_ptr<ShardReader>> r = ShardReader::Open(tmp.path("s"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ((*r)->num_examples(), 1);
}

class ShardCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(WriteAll(dir_, RandomExamples(20, 3), 1 << 20), IsOk()); }
  std::string shard() const { return dir_ + "/shard-00000.bin"; }
  // Overwrites bytes of the shard at `offset`.
  void Poke(uint64_t offset, const void* data, size_t n) {
    std::fstream f(shard(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  }
  testing::TempDir tmp_;
  std::string dir_ = tmp_.path("s");
};

TEST_F(ShardCorruptionTest, MissingIndexIsNotFound) {
  std::filesystem::remove(dir_ + "/shards.json");
  EXPECT_THAT(ShardReader::Open(dir_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("shards.json")));
}

TEST_F(ShardCorruptionTest, TruncatedShardIsRejectedNamingTheFile) {
  std::filesystem::resize_file(shard(), std::filesystem::file_size(shard()) - 1);
  EXPECT_THAT(ShardReader::Open(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shard-00000.bin: size")));
}

TEST_F(ShardCorruptionTest, BadMagicIsRejected) {
  Poke(0, "XXXX", 4);
  EXPECT_THAT(ShardReader::Open(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad magic")));
}

TEST_F(ShardCorruptionTest, OffsetsOutOfOrderAreRejected) {
  const int64_t big = 1 << 30;
  Poke(shard_format::kHeaderBytes + 8 * 5, &big, sizeof(big));
  EXPECT_THAT(ShardReader::Open(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offsets")));
}

TEST_F(ShardCorruptionTest, IdOutOfVocabularyIsRejected) {
  const int32_t bad = 5000;
  Poke(shard_format::kHeaderBytes + shard_format::OffsetsBytes(20), &bad, sizeof(bad));
  EXPECT_THAT(ShardReader::Open(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("id 5000")));
  // Without the scan the structure is still valid.
  EXPECT_THAT(ShardReader::Open(dir_, {.verify_tokens = false}), IsOk());
}

}  // namespace
}  // namespace mot::trainer
