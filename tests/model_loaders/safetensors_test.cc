// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/safetensors.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/safetensors_format.h"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::RawSafetensors;
using ::mot::testing::ReadAll;
using ::mot::testing::ScratchDir;
using ::mot::testing::StatusIs;
using ::mot::testing::WriteAllTo;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kDataLoss = absl::StatusCode::kDataLoss;

Tensor Ramp(DType dtype, std::vector<int64_t> shape, float start = -1.0f, float step = 0.25f) {
  Tensor f32 = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < f32.numel(); ++i) f32.data_as<float>()[i] = start + step * i;
  return f32.To(dtype);
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

absl::StatusOr<SafetensorsFile> Parse(const std::string& bytes) {
  return SafetensorsFile::FromBuffer(bytes, "test.safetensors");
}

// A valid one-tensor header for "w": F32 [2] at [0, 8].
const char kOneTensor[] = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
const std::string kEightBytes(8, '\x01');

class SafetensorsRoundTripTest : public ::testing::TestWithParam<DType> {};

TEST_P(SafetensorsRoundTripTest, SerializeThenParseGivesTheSameTensors) {
  const DType dtype = GetParam();
  const std::vector<NamedTensor> tensors = {{"b", Ramp(dtype, {3, 5})},
                                            {"a", Ramp(dtype, {7}, 2.0f, -0.5f)},
                                            {"scalar", Ramp(dtype, {})}};
  const absl::StatusOr<std::string> bytes = SerializeSafetensors(tensors);
  ASSERT_THAT(bytes, IsOk());
  const absl::StatusOr<SafetensorsFile> f = Parse(*bytes);
  ASSERT_THAT(f, IsOk());
  ASSERT_EQ(f->entries().size(), 3u);
  for (const NamedTensor& t : tensors) {
    const absl::StatusOr<Tensor> got = f->Get(t.name);
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(SameBytes(*got, t.tensor)) << t.name << " " << got->DebugString();
  }
}

TEST_P(SafetensorsRoundTripTest, WriteThenOpenMapsTheSameTensors) {
  const DType dtype = GetParam();
  ScratchDir dir;
  const std::string path = dir.Join("w.safetensors");
  const std::vector<NamedTensor> tensors = {{"x", Ramp(dtype, {4, 4})}, {"y", Ramp(dtype, {1})}};
  ASSERT_THAT(WriteSafetensors(path, tensors), IsOk());
  const absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(path);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->size(), std::filesystem::file_size(path));
  for (const NamedTensor& t : tensors) {
    const absl::StatusOr<Tensor> got = f->Get(t.name);
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(SameBytes(*got, t.tensor)) << t.name;
    EXPECT_FALSE(got->owns_data()) << "expected a zero-copy view into the mapping";
  }
  // The same bytes as the in-memory serializer.
  EXPECT_EQ(ReadAll(path), *SerializeSafetensors(tensors));
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, SafetensorsRoundTripTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(SafetensorsTest, ViewsOutliveTheFileObjectWhileTheMappingIsHeld) {
  ScratchDir dir;
  const std::string path = dir.Join("w.safetensors");
  const Tensor want = Ramp(DType::kF32, {16});
  ASSERT_THAT(WriteSafetensors(path, {{"w", want}}), IsOk());
  std::shared_ptr<const void> mapping;
  Tensor view;
  {
    absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(path);
    ASSERT_THAT(f, IsOk());
    mapping = f->mapping();
    view = *f->Get("w");
  }
  ASSERT_NE(mapping, nullptr);
  EXPECT_TRUE(SameBytes(view, want));
}

TEST(SafetensorsTest, MetadataRoundTrips) {
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "100"}};
  const absl::StatusOr<std::string> bytes =
      SerializeSafetensors({{"w", Ramp(DType::kF32, {2})}}, metadata);
  ASSERT_THAT(bytes, IsOk());
  const absl::StatusOr<SafetensorsFile> f = Parse(*bytes);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->metadata(), metadata);
}

TEST(SafetensorsTest, EmptyFileAndZeroSizedTensorsRoundTrip) {
  const absl::StatusOr<std::string> empty = SerializeSafetensors({});
  ASSERT_THAT(empty, IsOk());
  const absl::StatusOr<SafetensorsFile> e = Parse(*empty);
  ASSERT_THAT(e, IsOk());
  EXPECT_TRUE(e->entries().empty());

  const absl::StatusOr<std::string> bytes = SerializeSafetensors(
      {{"z", Tensor::Zeros(DType::kF32, {0, 3})}, {"w", Ramp(DType::kF32, {2})}});
  ASSERT_THAT(bytes, IsOk());
  const absl::StatusOr<SafetensorsFile> f = Parse(*bytes);
  ASSERT_THAT(f, IsOk());
  const absl::StatusOr<Tensor> z = f->Get("z");
  ASSERT_THAT(z, IsOk());
  EXPECT_THAT(z->shape(), ElementsAre(0, 3));
  EXPECT_EQ(z->numel(), 0);
}

TEST(SafetensorsTest, WriterPadsTheHeaderAndAlignsEveryTensor) {
  // Odd element counts in mixed dtypes: only the dtype-size ordering keeps F32 aligned.
  const absl::StatusOr<std::string> bytes =
      SerializeSafetensors({{"a_half", Ramp(DType::kF16, {3})},
                            {"b_bf16", Ramp(DType::kBF16, {5})},
                            {"c_float", Ramp(DType::kF32, {3})},
                            {"d_float", Ramp(DType::kF32, {1})}});
  ASSERT_THAT(bytes, IsOk());
  uint64_t n = 0;
  std::memcpy(&n, bytes->data(), 8);  // little-endian host
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes->at(8), '{');
  const std::string header = bytes->substr(8, n);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
  const absl::StatusOr<SafetensorsFile> f = Parse(*bytes);
  ASSERT_THAT(f, IsOk());
  std::vector<std::string> order;
  for (const SafetensorsEntry& e : f->entries()) {
    order.push_back(e.name);
    EXPECT_EQ(e.begin % DTypeSize(e.dtype), 0u) << e.name;
  }
  EXPECT_THAT(order, ElementsAre("c_float", "d_float", "b_bf16", "a_half"));
}

TEST(SafetensorsTest, JsonOrderDoesNotMatterOnlyTheDataLayout) {
  const std::string header = R"({"late":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                             R"("early":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const absl::StatusOr<SafetensorsFile> f = Parse(RawSafetensors(header, kEightBytes));
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->entries()[0].name, "early");
  EXPECT_EQ(f->entries()[1].name, "late");
}

TEST(SafetensorsTest, MisalignedTensorIsReturnedAsAnAlignedCopy) {
  // F16 [1] at [0, 2], then F32 [1] at [2, 6]: the float is misaligned in the buffer.
  std::string header = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                       R"("f":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  ASSERT_EQ(header.size() % 8, 0u);
  const float value = 1.5f;
  std::string data(6, '\0');
  std::memcpy(data.data() + 2, &value, 4);
  const std::string bytes = RawSafetensors(header, data);
  const absl::StatusOr<SafetensorsFile> f = Parse(bytes);
  ASSERT_THAT(f, IsOk());
  const absl::StatusOr<Tensor> t = f->Get("f");
  ASSERT_THAT(t, IsOk());
  EXPECT_TRUE(t->owns_data());
  EXPECT_EQ(t->data_as<float>()[0], 1.5f);
}

TEST(SafetensorsTest, GetUnknownTensorIsNotFound) {
  const absl::StatusOr<SafetensorsFile> f = Parse(RawSafetensors(kOneTensor, kEightBytes));
  ASSERT_THAT(f, IsOk());
  EXPECT_TRUE(f->Contains("w"));
  EXPECT_FALSE(f->Contains("v"));
  EXPECT_THAT(f->Get("v"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("test.safetensors: no tensor 'v'")));
}

TEST(SafetensorsTest, OpenMissingFileIsNotFound) {
  ScratchDir dir;
  EXPECT_THAT(SafetensorsFile::Open(dir.Join("nope.safetensors")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.safetensors")));
}

// ---- Bad input ----

TEST(SafetensorsBadInputTest, FileShorterThanTheLengthFieldIsDataLoss) {
  EXPECT_THAT(Parse("\x10\x00\x00"), StatusIs(kDataLoss, HasSubstr("too short")));
  ScratchDir dir;
  WriteAllTo(dir.Join("tiny"), "abc");
  EXPECT_THAT(SafetensorsFile::Open(dir.Join("tiny")),
              StatusIs(kDataLoss, HasSubstr("tiny: file is 3 bytes")));
  WriteAllTo(dir.Join("empty"), "");
  EXPECT_THAT(SafetensorsFile::Open(dir.Join("empty")), StatusIs(kDataLoss, HasSubstr("empty")));
}

TEST(SafetensorsBadInputTest, TruncatedDataIsDataLossNamingTheTensor) {
  const absl::StatusOr<std::string> bytes = SerializeSafetensors({{"w", Ramp(DType::kF32, {8})}});
  ASSERT_THAT(bytes, IsOk());
  ScratchDir dir;
  const std::string path = dir.Join("cut.safetensors");
  WriteAllTo(path, bytes->substr(0, bytes->size() - 5));
  EXPECT_THAT(
      SafetensorsFile::Open(path),
      StatusIs(kDataLoss, AllOf(HasSubstr(path), HasSubstr("tensor 'w'"), HasSubstr("truncated"))));
}

TEST(SafetensorsBadInputTest, HeaderLengthBeyondTheFileIsDataLoss) {
  EXPECT_THAT(Parse(RawSafetensors(kOneTensor, kEightBytes, 5000)),
              StatusIs(kDataLoss, HasSubstr("header length 5000 exceeds")));
}

TEST(SafetensorsBadInputTest, HeaderLengthOverTheLimitIsRejected) {
  EXPECT_THAT(Parse(RawSafetensors(kOneTensor, kEightBytes, 100'000'001)),
              StatusIs(kInvalid, HasSubstr("exceeds the limit of 100000000")));
  EXPECT_THAT(Parse(RawSafetensors(kOneTensor, kEightBytes, ~uint64_t{0})),
              StatusIs(kInvalid, HasSubstr("exceeds the limit")));
}

TEST(SafetensorsBadInputTest, HeaderThatLiesAboutTheSizeIsRejected) {
  // Shape [3] of F32 needs 12 bytes, the offsets say 8.
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                   kEightBytes)),
              StatusIs(kInvalid, AllOf(HasSubstr("tensor 'w'"), HasSubstr("span 8 bytes"),
                                       HasSubstr("needs 12"))));
}

TEST(SafetensorsBadInputTest, OverlappingOffsetsAreRejected) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_THAT(
      Parse(RawSafetensors(header, kEightBytes)),
      StatusIs(kInvalid, AllOf(HasSubstr("tensor 'b'"), HasSubstr("overlap"), HasSubstr("'a'"))));
}

TEST(SafetensorsBadInputTest, BeginAfterEndIsRejected) {
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})",
                                   kEightBytes)),
              StatusIs(kInvalid, HasSubstr("begin 8 > end 0")));
}

TEST(SafetensorsBadInputTest, HolesAndTrailingBytesAreRejected) {
  const std::string hole = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_THAT(Parse(RawSafetensors(hole, std::string(12, '\0'))),
              StatusIs(kInvalid, AllOf(HasSubstr("tensor 'b'"), HasSubstr("hole of 4 bytes"))));
  const std::string starts_late = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_THAT(Parse(RawSafetensors(starts_late, kEightBytes)),
              StatusIs(kInvalid, HasSubstr("hole")));
  EXPECT_THAT(Parse(RawSafetensors(kOneTensor, kEightBytes + "xx")),
              StatusIs(kInvalid, HasSubstr("trailing bytes")));
}

TEST(SafetensorsBadInputTest, UnsupportedAndUnknownDTypesNameTheTensor) {
  for (const char* dtype : {"I64", "U8", "F64", "BOOL"}) {
    const std::string header =
        std::string(R"({"ids":{"dtype":")") + dtype + R"(","shape":[1],"data_offsets":[0,8]}})";
    EXPECT_THAT(Parse(RawSafetensors(header, kEightBytes)),
                StatusIs(kInvalid, AllOf(HasSubstr("tensor 'ids'"),
                                         HasSubstr(std::string("unsupported dtype ") + dtype))));
  }
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})",
                                   kEightBytes)),
              StatusIs(kInvalid, HasSubstr("unknown dtype 'Q4'")));
  EXPECT_THAT(
      Parse(RawSafetensors(R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
      StatusIs(kInvalid, HasSubstr("'dtype' is not a string")));
}

TEST(SafetensorsBadInputTest, BadShapesAreRejected) {
  auto with_shape = [](const std::string& shape) {
    return RawSafetensors(R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,8]}})",
                          kEightBytes);
  };
  EXPECT_THAT(Parse(with_shape("[-2]")), StatusIs(kInvalid, HasSubstr("-2")));
  EXPECT_THAT(Parse(with_shape("[2.0]")), StatusIs(kInvalid, HasSubstr("non-negative")));
  EXPECT_THAT(Parse(with_shape(R"(["2"])")), StatusIs(kInvalid, HasSubstr("non-negative")));
  EXPECT_THAT(Parse(with_shape("2")), StatusIs(kInvalid, HasSubstr("'shape' is not an array")));
  // Larger than int64.
  EXPECT_THAT(Parse(with_shape("[18446744073709551615]")),
              StatusIs(kInvalid, HasSubstr("non-negative 64-bit")));
  // Each dimension fits, the product overflows.
  EXPECT_THAT(Parse(with_shape("[4294967296,4294967296]")),
              StatusIs(kInvalid, HasSubstr("overflows")));
  // The element count fits, the byte count does not.
  EXPECT_THAT(Parse(with_shape("[4611686018427387904]")),
              StatusIs(kInvalid, HasSubstr("overflows")));
}

TEST(SafetensorsBadInputTest, BadOffsetsAreRejected) {
  auto with_offsets = [](const std::string& offsets) {
    return RawSafetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + offsets + "}}",
                          kEightBytes);
  };
  EXPECT_THAT(Parse(with_offsets("[0,8,16]")), StatusIs(kInvalid, HasSubstr("[begin, end]")));
  EXPECT_THAT(Parse(with_offsets("[-1,7]")), StatusIs(kInvalid, HasSubstr("non-negative")));
  EXPECT_THAT(Parse(with_offsets(R"({"a":1})")), StatusIs(kInvalid, HasSubstr("[begin, end]")));
  // End far past the data, with a consistent size.
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                   kEightBytes)),
              StatusIs(kDataLoss, HasSubstr("past the end")));
}

TEST(SafetensorsBadInputTest, MalformedHeadersAreRejected) {
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"dtype":"F32",)", kEightBytes)),
              StatusIs(kInvalid, HasSubstr("not well-formed JSON")));
  EXPECT_THAT(Parse(RawSafetensors("[1,2]")), StatusIs(kInvalid, HasSubstr("start with '{'")));
  EXPECT_THAT(Parse(RawSafetensors("")), StatusIs(kInvalid, HasSubstr("start with '{'")));
  EXPECT_THAT(Parse(RawSafetensors(std::string("{\"w\xff\":1}"))),
              StatusIs(kInvalid, HasSubstr("not well-formed JSON")));
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":[1]})")),
              StatusIs(kInvalid, HasSubstr("not a JSON object")));
  EXPECT_THAT(Parse(RawSafetensors(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kEightBytes)),
              StatusIs(kInvalid, HasSubstr("missing 'dtype'")));
  EXPECT_THAT(
      Parse(RawSafetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})",
                           kEightBytes)),
      StatusIs(kInvalid, HasSubstr("unknown key 'extra'")));
}

TEST(SafetensorsBadInputTest, DuplicateNamesAreRejected) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_THAT(Parse(RawSafetensors(header, kEightBytes)),
              StatusIs(kInvalid, HasSubstr("\"w\" more than once")));
}

TEST(SafetensorsBadInputTest, MetadataMustBeAStringMap) {
  EXPECT_THAT(Parse(RawSafetensors(R"({"__metadata__":{"step":100}})")),
              StatusIs(kInvalid, HasSubstr("__metadata__ value of 'step' is not a string")));
  EXPECT_THAT(Parse(RawSafetensors(R"({"__metadata__":"x"})")),
              StatusIs(kInvalid, HasSubstr("__metadata__ is not a JSON object")));
}

TEST(SafetensorsWriterTest, RejectsDuplicateAndReservedNames) {
  const Tensor t = Ramp(DType::kF32, {2});
  EXPECT_THAT(SerializeSafetensors({{"w", t}, {"w", t}}),
              StatusIs(kInvalid, HasSubstr("'w' given twice")));
  EXPECT_THAT(SerializeSafetensors({{"__metadata__", t}}),
              StatusIs(kInvalid, HasSubstr("__metadata__")));
  EXPECT_THAT(SerializeSafetensors({{"w", Tensor::View(DType::kF32, {2}, nullptr)}}),
              StatusIs(kInvalid, HasSubstr("no data")));
  EXPECT_THAT(SerializeSafetensors({{"bad\xff", t}}), StatusIs(kInvalid, HasSubstr("UTF-8")));
}

TEST(SafetensorsWriterTest, WriteIsAtomicAndLeavesNoTemporaryFiles) {
  ScratchDir dir;
  const std::string path = dir.Join("w.safetensors");
  WriteAllTo(path, "old contents");
  // A failing write leaves the old file as it was.
  const Tensor t = Ramp(DType::kF32, {2});
  EXPECT_THAT(WriteSafetensors(path, {{"w", t}, {"w", t}}), StatusIs(kInvalid, HasSubstr(path)));
  EXPECT_EQ(ReadAll(path), "old contents");
  // A successful one replaces it.
  ASSERT_THAT(WriteSafetensors(path, {{"w", t}}), IsOk());
  EXPECT_THAT(SafetensorsFile::Open(path), IsOk());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "w.safetensors");
  }
  EXPECT_EQ(files, 1);
  // A missing directory is an error naming the path.
  EXPECT_THAT(WriteSafetensors(dir.Join("no/such/dir.safetensors"), {{"w", t}}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no/such/dir.safetensors")));
}

TEST(SafetensorsFormatTest, CheckedNumElementsDetectsOverflowAndNegatives) {
  EXPECT_EQ(CheckedNumElements({2, 3, 4}), 24);
  EXPECT_EQ(CheckedNumElements({}), 1);
  EXPECT_EQ(CheckedNumElements({0, int64_t{1} << 62}), 0);
  EXPECT_EQ(CheckedNumElements({-1}), std::nullopt);
  EXPECT_EQ(CheckedNumElements({int64_t{1} << 32, int64_t{1} << 32}), std::nullopt);
  EXPECT_EQ(safetensors_format::CheckedNumBytes({int64_t{1} << 62}, 4), std::nullopt);
}

}  // namespace
}  // namespace mot
