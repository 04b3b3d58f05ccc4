// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The server's pieces alone: media sniffing, request conversion, error relabelling, API
// keys, limits and log lines.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api_keys.h"
#include "server/event_mapping.h"
#include "server/log.h"
#include "server/media_sniff.h"
#include "server/request_validation.h"
#include "tests/model_loaders/test_util.h"
#include "tests/server/test_model.h"
#include "tests/testing/status_matchers.h"

namespace mot::server {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

TEST(MediaSniffTest, ReadsPngDimensionsFromTheHeader) {
  auto h = ReadImageHeader(testing::TestPng(40, 24));
  ASSERT_THAT(h, IsOk());
  EXPECT_EQ(h->format, MediaFormat::kPng);
  EXPECT_EQ(h->width, 40);
  EXPECT_EQ(h->height, 24);
  auto big = ReadImageHeader(testing::PngWithHeader(100000, 3));
  ASSERT_THAT(big, IsOk());
  EXPECT_EQ(big->width, 100000);
}

TEST(MediaSniffTest, ReadsJpegGifAndBmpHeaders) {
  // SOI, APP0 (len 4), SOF0: len 17, precision 8, height 0x0102, width 0x0304.
  const std::string jpeg =
      std::string("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x11\x08\x01\x02\x03\x04", 17);
  auto j = ReadImageHeader(jpeg);
  ASSERT_THAT(j, IsOk());
  EXPECT_EQ(j->width, 0x0304);
  EXPECT_EQ(j->height, 0x0102);
  auto g = ReadImageHeader(std::string("GIF89a\x0a\x00\x05\x00", 10));
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->width, 10);
  EXPECT_EQ(g->height, 5);
  std::string bmp(26, '\0');
  bmp[0] = 'B', bmp[1] = 'M', bmp[14] = 40, bmp[18] = 7;
  bmp[22] = static_cast<char>(0xFE), bmp[23] = bmp[24] = bmp[25] = static_cast<char>(0xFF);  // -2
  auto b = ReadImageHeader(bmp);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->width, 7);
  EXPECT_EQ(b->height, 2);  // top-down bitmaps store a negative height
}

TEST(MediaSniffTest, TruncatedHeadersSaySo) {
  EXPECT_THAT(ReadImageHeader(testing::TestPng().substr(0, 20)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PNG header is truncated")));
  EXPECT_THAT(ReadImageHeader(std::string("\xFF\xD8\xFF\xE0\x00\x10", 6)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JPEG")));
  EXPECT_THAT(ReadImageHeader("hello"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PNG")));
}

TEST(MediaSniffTest, MimeTypesAndMagicNumbers) {
  EXPECT_EQ(FormatOfMimeType("IMAGE/JPG; q=1"), MediaFormat::kJpeg);
  EXPECT_EQ(FormatOfMimeType("audio/x-wav"), MediaFormat::kWav);
  EXPECT_EQ(FormatOfMimeType("image/tiff"), MediaFormat::kUnknown);
  EXPECT_EQ(SniffFormat(testing::TestWav(0.1)), MediaFormat::kWav);
  EXPECT_EQ(SniffFormat("fLaC...."), MediaFormat::kFlac);
  EXPECT_STREQ(MimeTypeOf(MediaFormat::kOgg), "audio/ogg");
}

TEST(RequestValidationTest, UnsetFieldsTakeTheDocumentedDefaults) {
  v1::GenerateRequest req;
  ServerLimits limits;
  ModelCaps caps{1000, true, true, 4096};
  auto sp = ConvertSampling(req, limits, caps, 42);
  ASSERT_THAT(sp, IsOk());
  EXPECT_EQ(sp->temperature, 1.0f);
  EXPECT_EQ(sp->top_p, 1.0f);
  EXPECT_EQ(sp->repetition_penalty, 1.0f);
  EXPECT_EQ(sp->seed, 42u);
  EXPECT_EQ(sp->max_new_tokens, limits.default_max_new_tokens);
  EXPECT_EQ(sp->allowed_modalities, sampling::kText);
  EXPECT_FALSE(sp->uses_guidance());
  req.mutable_sampling()->set_temperature(0);  // explicit 0 is greedy, not the default
  req.mutable_sampling()->set_seed(0);
  sp = ConvertSampling(req, limits, caps, 42);
  ASSERT_THAT(sp, IsOk());
  EXPECT_EQ(sp->temperature, 0.0f);
  EXPECT_EQ(sp->seed, 0u);
}

TEST(RequestValidationTest, ModalitiesTheModelLacksAreRefused) {
  v1::GenerateRequest req;
  req.add_output_modalities(v1::MODALITY_AUDIO);
  ModelCaps caps{1000, true, false, 4096};
  EXPECT_THAT(ConvertSampling(req, {}, caps, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("output_modalities[0]: this model cannot generate audio")));
  req.clear_output_modalities();
  req.add_parts()->mutable_audio()->set_data(testing::TestWav(0.1));
  EXPECT_THAT(ConvertParts(req.parts(), {}, caps),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("parts[0].audio: this model does not take audio")));
}

TEST(RequestValidationTest, PromptBuilderLabelsBecomeFieldPaths) {
  EXPECT_THAT(RelabelPromptError(absl::ResourceExhaustedError("part 12 (image): too big")),
              StatusIs(absl::StatusCode::kInvalidArgument, "parts[12].image: too big"));
  EXPECT_THAT(RelabelPromptError(absl::InvalidArgumentError("prompt: no parts")),
              StatusIs(absl::StatusCode::kInvalidArgument, "parts: no parts"));
  EXPECT_THAT(RelabelPromptError(absl::InternalError("other")),
              StatusIs(absl::StatusCode::kInternal, "other"));
}

TEST(RequestValidationTest, LimitsThemselvesAreChecked) {
  ServerLimits l;
  EXPECT_THAT(l.Validate(), IsOk());
  l.default_max_new_tokens = l.max_new_tokens + 1;
  EXPECT_THAT(l.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--default_max_new_tokens")));
  l = {};
  l.max_parts = -1;
  EXPECT_THAT(l.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_parts: must be > 0")));
  l = {};
  l.max_audio_seconds = 0;
  EXPECT_THAT(l.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_audio_seconds")));
}

TEST(ApiKeysTest, AcceptsOnlyListedBearerKeys) {
  auto keys =
      ApiKeys::FromKeys({"# ops team", "  aaaaaaaaaaaaaaaaaaaa  ", "", "bbbbbbbbbbbbbbbbbbbb"});
  ASSERT_THAT(keys, IsOk());
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_THAT(keys->Check("Bearer aaaaaaaaaaaaaaaaaaaa"), IsOk());
  EXPECT_THAT(keys->Check("bearer bbbbbbbbbbbbbbbbbbbb"), IsOk());
  EXPECT_THAT(keys->Check("Bearer aaaaaaaaaaaaaaaaaaab"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown API key")));
  EXPECT_THAT(keys->Check("Bearer aaaaaaaaaaaaaaaaaaaaa"),  // a longer key with the prefix
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown API key")));
  EXPECT_THAT(keys->Check("aaaaaaaaaaaaaaaaaaaa"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expected 'Bearer <key>'")));
  EXPECT_THAT(keys->Check(""),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing authorization")));
}

TEST(ApiKeysTest, WeakOrMissingKeyFilesAreRefused) {
  EXPECT_THAT(ApiKeys::FromKeys({"short"}, "keys.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys.txt: line 1")));
  EXPECT_THAT(ApiKeys::FromKeys({"# only a comment"}, "keys.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no keys")));
  EXPECT_THAT(ApiKeys::FromFile("/nonexistent/keys"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/keys")));
  mot::testing::ScratchDir dir;
  mot::testing::WriteAllTo(dir.Join("k"), "cccccccccccccccccccc\n");
  auto keys = ApiKeys::FromFile(dir.Join("k"));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->Check("Bearer cccccccccccccccccccc"), IsOk());
}

TEST(LogTest, ValuesAreQuotedSoClientTextCannotForgeFields) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, "generate_start", {{"request_id", "r1"}}),
            "level=info event=generate_start request_id=r1");
  EXPECT_EQ(FormatLogLine(LogLevel::kWarning, "x", {{"msg", "a b=c\n\"q\""}}),
            "level=warning event=x msg=\"a b=c\\n\\\"q\\\"\"");
  EXPECT_EQ(FormatLogLine(LogLevel::kError, "x", {{"empty", ""}}),
            "level=error event=x empty=\"\"");
}

TEST(EventMappingTest, StatusCodesMapOneToOne) {
  grpc::Status s = ToGrpcStatus(absl::ResourceExhaustedError("queue full"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "queue full");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(CodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_EQ(ToProto(engine::FinishReason::kCancelled), v1::FINISH_REASON_CANCELLED);
}

}  // namespace
}  // namespace mot::server
