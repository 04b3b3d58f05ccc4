// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-server's gRPC service over loopback (127.0.0.1, a free port) with a FakeEngine that
// emits scripted events and a real prompt builder: the mapping of every event kind, the
// table of bad inputs (code + a message naming the field), auth, deadlines and client
// cancellation reaching Engine::Cancel, a full queue, health before and after the model,
// drain, metrics. Every wait is a bounded loop.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mot/v1/mot.grpc.pb.h"
#include "server/server.h"
#include "tests/model_loaders/test_util.h"
#include "tests/server/fake_engine.h"
#include "tests/server/test_model.h"

namespace mot::server {
namespace {

using ::mot::testing::FakeEngine;
using ::testing::HasSubstr;

// Bounded wait for a condition; false on timeout.
template <typename F>
bool WaitFor(F cond, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return cond();
}

// A plain HTTP/1.0 GET over loopback; the whole response (headers and body), or "".
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

struct StreamResult {
  std::vector<v1::GenerateResponse> events;
  grpc::Status status;
};

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new MotConfig;
    builder_for_caps_ = testing::MakeTestPromptBuilder(config_).release();
    ASSERT_NE(builder_for_caps_, nullptr);
  }
  static void TearDownTestSuite() {
    delete builder_for_caps_;
    delete config_;
  }

  void SetUp() override {
    engine_ = std::make_unique<FakeEngine>(testing::MakeTestPromptBuilder());
    ASSERT_NE(&engine_->prompt_builder(), nullptr);
  }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }

  ServerOptions DefaultOptions() {
    ServerOptions o;
    o.address = "127.0.0.1:0";
    o.limits.max_parts = 8;
    o.limits.max_text_bytes = 4096;
    o.limits.max_image_pixels = 1 << 20;
    o.limits.max_audio_seconds = 2.0;
    o.limits.max_new_tokens = 1000;
    o.limits.default_max_new_tokens = 100;
    o.limits.max_prompt_tokens = 512;
    o.stats_interval = absl::Milliseconds(20);
    return o;
  }

  void StartServer(ServerOptions o, bool ready = true) {
    auto s = MotServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    if (ready) server_->SetEngine(engine_.get(), testing::TestModelInfo(*config_), 4096);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::MotService::NewStub(channel_);
  }

  StreamResult Generate(const v1::GenerateRequest& req, const std::string& key = "",
                        absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    if (!key.empty()) ctx.AddMetadata("authorization", "Bearer " + key);
    StreamResult r;
    auto reader = stub_->Generate(&ctx, req);
    v1::GenerateResponse resp;
    while (reader->Read(&resp)) r.events.push_back(resp);
    r.status = reader->Finish();
    return r;
  }

  static v1::GenerateRequest TextRequest(const std::string& text = "hello world") {
    v1::GenerateRequest req;
    req.add_parts()->set_text(text);
    return req;
  }

  static MotConfig* config_;
  static tokenizer::PromptBuilder* builder_for_caps_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<MotServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::MotService::Stub> stub_;
};
MotConfig* ServiceTest::config_ = nullptr;
tokenizer::PromptBuilder* ServiceTest::builder_for_caps_ = nullptr;

TEST_F(ServiceTest, StreamsEveryEventKindInOrder) {
  engine_->set_script([](const engine::GenerateRequest& r) {
    std::vector<engine::Event> ev;
    ev.push_back(testing::TextEvent("A cat: "));
    engine::Event e;
    e.kind = engine::EventKind::kImageStarted;
    e.total = 4;
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kImageProgress;
    e.done = 2, e.total = 4, e.data = "preview-bytes";
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kImageFinished;
    e.token_ids = {3, 400, 401, 402, 403, 4};
    e.data = "png-bytes";
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kAudioStarted;
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kAudioFinished;
    e.token_ids = {5, 500, 6};
    e.data = "wav-bytes";
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kImageStarted;  // a second image: index 1
    e.total = 4;
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kUsage;
    e.usage[0] = {static_cast<int32_t>(r.prompt.ids.size()), 3, 1};
    e.usage[1] = {0, 6, 0};
    e.usage[2] = {0, 3, 0};
    ev.push_back(e);
    ev.push_back(testing::FinishedEvent(engine::FinishReason::kLength));
    return ev;
  });
  StartServer(DefaultOptions());
  v1::GenerateRequest req = TextRequest();
  req.set_request_id("mapping-1");
  req.add_output_modalities(v1::MODALITY_TEXT);
  req.add_output_modalities(v1::MODALITY_IMAGE);
  req.add_output_modalities(v1::MODALITY_AUDIO);
  req.mutable_sampling()->set_temperature(0);
  req.mutable_sampling()->set_seed(7);
  req.mutable_limits()->set_max_new_tokens(50);
  req.mutable_image()->set_preview_every(2);
  StreamResult r = Generate(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.events.size(), 9u);
  for (const auto& e : r.events) EXPECT_EQ(e.request_id(), "mapping-1");
  EXPECT_EQ(r.events[0].text().text(), "A cat: ");
  EXPECT_EQ(r.events[1].image_started().index(), 0);
  EXPECT_EQ(r.events[1].image_started().total_codes(), 4);
  EXPECT_EQ(r.events[2].image_progress().codes_done(), 2);
  EXPECT_EQ(r.events[2].image_progress().preview_png(), "preview-bytes");
  EXPECT_EQ(r.events[3].image().png(), "png-bytes");
  EXPECT_THAT(r.events[3].image().token_ids(), ::testing::ElementsAre(3, 400, 401, 402, 403, 4));
  EXPECT_EQ(r.events[4].event_case(), v1::GenerateResponse::kAudioStarted);
  EXPECT_EQ(r.events[5].audio().wav(), "wav-bytes");
  EXPECT_EQ(r.events[5].audio().index(), 0);
  EXPECT_EQ(r.events[6].image_started().index(), 1);
  EXPECT_EQ(r.events[7].usage().image().generated_tokens(), 6);
  EXPECT_EQ(r.events[7].usage().text().cached_prompt_tokens(), 1);
  EXPECT_EQ(r.events[8].finished().reason(), v1::FINISH_REASON_LENGTH);

  // What the engine was asked for.
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].request_id, "mapping-1");
  EXPECT_EQ(sub[0].sampling.temperature, 0.0f);
  EXPECT_EQ(sub[0].sampling.seed, 7u);
  EXPECT_EQ(sub[0].sampling.max_new_tokens, 50);
  EXPECT_EQ(sub[0].sampling.allowed_modalities,
            sampling::kText | sampling::kImage | sampling::kAudio);
  EXPECT_EQ(sub[0].image_preview_every, 2);
  EXPECT_EQ(sub[0].prompt.ids.front(), engine_->prompt_builder().vocab().bos_id());
  EXPECT_EQ(r.events[7].usage().text().prompt_tokens(),
            static_cast<int32_t>(sub[0].prompt.ids.size()));
}

TEST_F(ServiceTest, InterleavedPartsReachTheEngineInOrder) {
  StartServer(DefaultOptions());
  v1::GenerateRequest req;
  req.add_parts()->set_text("a picture of");
  req.add_parts()->mutable_image()->set_data(testing::TestPng());
  req.add_parts()->set_text("listen");
  auto* audio = req.add_parts()->mutable_audio();
  audio->set_data(testing::TestWav(0.2));
  audio->set_mime_type("audio/wav");
  StreamResult r = Generate(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  const auto& v = engine_->prompt_builder().vocab();
  const auto& ids = sub[0].prompt.ids;
  auto boi = std::find(ids.begin(), ids.end(), v.boi_id());
  auto boa = std::find(ids.begin(), ids.end(), v.boa_id());
  ASSERT_NE(boi, ids.end());
  ASSERT_NE(boa, ids.end());
  EXPECT_LT(boi, boa);
  EXPECT_EQ(ids.back(), v.eoa_id());
  // Unset request ids are assigned and echoed.
  ASSERT_FALSE(r.events.empty());
  EXPECT_THAT(r.events[0].request_id(), HasSubstr("req-"));
  EXPECT_EQ(sub[0].request_id, r.events[0].request_id());
}

struct BadCase {
  const char* name;
  std::function<void(v1::GenerateRequest*)> edit;
  grpc::StatusCode code;
  const char* message;
};

TEST_F(ServiceTest, BadInputsGetTheirCodeAndANamedFieldAndTheServerKeepsServing) {
  StartServer(DefaultOptions());
  const std::string png = testing::TestPng();
  const std::string wav = testing::TestWav(0.2);
  auto image = [](v1::GenerateRequest* r, std::string data, std::string mime = "") {
    auto* m = r->add_parts()->mutable_image();
    m->set_data(std::move(data));
    m->set_mime_type(std::move(mime));
  };
  auto audio = [](v1::GenerateRequest* r, std::string data, std::string mime = "") {
    auto* m = r->add_parts()->mutable_audio();
    m->set_data(std::move(data));
    m->set_mime_type(std::move(mime));
  };
  using C = grpc::StatusCode;
  const std::vector<BadCase> cases = {
      {"empty request", [](v1::GenerateRequest* r) { r->clear_parts(); }, C::INVALID_ARGUMENT,
       "parts: at least one part is required"},
      {"part with nothing set", [](v1::GenerateRequest* r) { r->add_parts(); }, C::INVALID_ARGUMENT,
       "parts[1]: empty part"},
      {"empty text", [](v1::GenerateRequest* r) { r->add_parts()->set_text(""); },
       C::INVALID_ARGUMENT, "parts[1].text: empty"},
      {"text over its limit",
       [](v1::GenerateRequest* r) { r->add_parts()->set_text(std::string(5000, 'a')); },
       C::INVALID_ARGUMENT, "parts[1].text: 5000 bytes, the limit is 4096"},
      {"too many parts",
       [](v1::GenerateRequest* r) {
         for (int i = 0; i < 8; ++i) r->add_parts()->set_text("x");
       },
       C::INVALID_ARGUMENT, "parts: 9 parts, the limit is 8"},
      {"image of width 0", [&](v1::GenerateRequest* r) { image(r, testing::PngWithHeader(0, 16)); },
       C::INVALID_ARGUMENT, "parts[1].image: width 0"},
      {"image of height 0",
       [&](v1::GenerateRequest* r) { image(r, testing::PngWithHeader(16, 0)); },
       C::INVALID_ARGUMENT, "parts[1].image: height 0"},
      {"huge dimensions",
       [&](v1::GenerateRequest* r) { image(r, testing::PngWithHeader(100000, 100000)); },
       C::INVALID_ARGUMENT, "parts[1].image: 100000x100000 is 10000000000 pixels"},
      {"corrupt PNG body",
       [&](v1::GenerateRequest* r) { image(r, testing::PngWithHeader(16, 16)); },
       C::INVALID_ARGUMENT, "parts[1].image"},
      {"truncated PNG header", [&](v1::GenerateRequest* r) { image(r, png.substr(0, 12)); },
       C::INVALID_ARGUMENT, "parts[1].image: PNG header is truncated"},
      {"unknown image MIME type", [&](v1::GenerateRequest* r) { image(r, png, "image/tiff"); },
       C::INVALID_ARGUMENT, "parts[1].image.mime_type: unknown image type \"image/tiff\""},
      {"MIME type disagrees with the bytes",
       [&](v1::GenerateRequest* r) { image(r, png, "image/jpeg"); }, C::INVALID_ARGUMENT,
       "parts[1].image: mime_type says image/jpeg but the data is image/png"},
      {"image bytes that are no image",
       [&](v1::GenerateRequest* r) { image(r, "definitely not an image"); }, C::INVALID_ARGUMENT,
       "parts[1].image.data: not a PNG, JPEG, GIF or BMP image"},
      {"audio sent as an image", [&](v1::GenerateRequest* r) { image(r, wav); },
       C::INVALID_ARGUMENT, "parts[1].image.data: this is audio"},
      {"empty image", [&](v1::GenerateRequest* r) { image(r, ""); }, C::INVALID_ARGUMENT,
       "parts[1].image.data: empty"},
      {"truncated WAV", [&](v1::GenerateRequest* r) { audio(r, wav.substr(0, 30)); },
       C::INVALID_ARGUMENT, "parts[1].audio"},
      {"unknown audio MIME type", [&](v1::GenerateRequest* r) { audio(r, wav, "audio/x-unknown"); },
       C::INVALID_ARGUMENT, "parts[1].audio.mime_type: unknown audio type"},
      {"audio over its duration", [&](v1::GenerateRequest* r) { audio(r, testing::TestWav(3.0)); },
       C::INVALID_ARGUMENT, "parts[1].audio"},
      {"top_p out of range", [](v1::GenerateRequest* r) { r->mutable_sampling()->set_top_p(1.5f); },
       C::INVALID_ARGUMENT, "sampling.top_p: must be in (0, 1], got 1.5"},
      {"negative temperature",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_temperature(-1); },
       C::INVALID_ARGUMENT, "sampling.temperature: must be >= 0, got -1"},
      {"min_p of 1", [](v1::GenerateRequest* r) { r->mutable_sampling()->set_min_p(1); },
       C::INVALID_ARGUMENT, "sampling.min_p"},
      {"repetition penalty 0",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_repetition_penalty(0); },
       C::INVALID_ARGUMENT, "sampling.repetition_penalty: must be > 0"},
      {"logit bias outside the vocabulary",
       [](v1::GenerateRequest* r) { (*r->mutable_sampling()->mutable_logit_bias())[999999] = 1; },
       C::INVALID_ARGUMENT, "sampling.logit_bias[999999]: token id outside the vocabulary"},
      {"negative max_new_tokens",
       [](v1::GenerateRequest* r) { r->mutable_limits()->set_max_new_tokens(-5); },
       C::INVALID_ARGUMENT, "limits.max_new_tokens: must be >= 0, got -5"},
      {"contradictory limits",
       [](v1::GenerateRequest* r) {
         r->mutable_limits()->set_max_new_tokens(100);
         r->mutable_limits()->set_max_text_tokens(500);
       },
       C::INVALID_ARGUMENT, "limits.max_text_tokens: 500 is more than limits.max_new_tokens (100)"},
      {"max_new_tokens over the server's limit",
       [](v1::GenerateRequest* r) { r->mutable_limits()->set_max_new_tokens(100000); },
       C::INVALID_ARGUMENT, "limits.max_new_tokens: 100000 is over this server's limit of 1000"},
      {"forced image start without image output",
       [](v1::GenerateRequest* r) { r->mutable_image()->set_force_start(true); },
       C::INVALID_ARGUMENT, "image.force_start: needs MODALITY_IMAGE"},
      {"two forced starts",
       [](v1::GenerateRequest* r) {
         r->add_output_modalities(v1::MODALITY_IMAGE);
         r->add_output_modalities(v1::MODALITY_AUDIO);
         r->mutable_image()->set_force_start(true);
         r->mutable_audio()->set_force_start(true);
       },
       C::INVALID_ARGUMENT, "audio.force_start: contradicts image.force_start"},
      {"unspecified output modality",
       [](v1::GenerateRequest* r) { r->add_output_modalities(v1::MODALITY_UNSPECIFIED); },
       C::INVALID_ARGUMENT, "output_modalities[0]: not an output modality"},
      {"duplicate output modality",
       [](v1::GenerateRequest* r) {
         r->add_output_modalities(v1::MODALITY_TEXT);
         r->add_output_modalities(v1::MODALITY_TEXT);
       },
       C::INVALID_ARGUMENT, "output_modalities[1]: listed twice"},
      {"stop token outside the vocabulary",
       [](v1::GenerateRequest* r) { r->add_stop_token_ids(-3); }, C::INVALID_ARGUMENT,
       "stop_token_ids[0]: -3 is outside the vocabulary"},
      {"empty stop string", [](v1::GenerateRequest* r) { r->add_stop_strings(""); },
       C::INVALID_ARGUMENT, "stop_strings[0]: empty"},
      {"negative guidance",
       [](v1::GenerateRequest* r) { r->mutable_image()->set_text_guidance(-2); },
       C::INVALID_ARGUMENT, "image.text_guidance: must be >= 0, got -2"},
      {"request id with a space", [](v1::GenerateRequest* r) { r->set_request_id("my id"); },
       C::INVALID_ARGUMENT, "request_id: only printable ASCII"},
      {"prompt over max_prompt_tokens",
       [](v1::GenerateRequest* r) {
         for (int i = 0; i < 2; ++i) r->add_parts()->set_text(std::string(1000, 'z'));
       },
       C::INVALID_ARGUMENT, "parts: the prompt is"},
      {"parts and messages together",
       [](v1::GenerateRequest* r) {
         v1::ChatMessage* m = r->add_messages();
         m->set_role("user");
         m->set_content("hi");
       },
       C::INVALID_ARGUMENT, "messages: give parts or messages, not both"},
      {"messages without a chat template",
       [](v1::GenerateRequest* r) {
         r->clear_parts();
         v1::ChatMessage* m = r->add_messages();
         m->set_role("user");
         m->set_content("hi");
       },
       C::FAILED_PRECONDITION, "messages: the model has no chat template"},
      {"prompt over the model's max_seq_len",
       [](v1::GenerateRequest* r) {
         for (int i = 0; i < 5; ++i) r->add_parts()->set_text(std::string(4000, 'z'));
       },
       C::INVALID_ARGUMENT, "parts[2].text: the prompt reaches"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::GenerateRequest req = TextRequest();
    c.edit(&req);
    StreamResult r = Generate(req);
    EXPECT_EQ(r.status.error_code(), c.code) << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message));
    EXPECT_TRUE(r.events.empty());
  }
  EXPECT_TRUE(engine_->submitted().empty()) << "a bad request reached the engine";
  // Still serving.
  StreamResult ok = Generate(TextRequest());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.events.size(), 4u);
}

TEST_F(ServiceTest, MessagesAreRenderedWithTheChatTemplate) {
  ServerOptions o = DefaultOptions();
  auto server = MotServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ChatSetup chat;
  auto tmpl = tokenizer::ChatTemplate::Parse(
      "{% for m in messages %}{% if m.role == 'bad' %}{{ raise_exception('no bad roles') }}"
      "{% endif %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
      "{% if add_generation_prompt %}[assistant]{% endif %}");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  chat.chat_template = *std::move(tmpl);
  server_->SetEngine(engine_.get(), testing::TestModelInfo(*config_), 4096, std::move(chat));
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  stub_ = v1::MotService::NewStub(channel_);

  auto chat_request = [](const std::string& role, const std::string& content) {
    v1::GenerateRequest req;
    v1::ChatMessage* m = req.add_messages();
    m->set_role(role);
    m->set_content(content);
    return req;
  };
  // The prompt is the rendered text, tokenized without a <bos> of the builder's own.
  StreamResult ok = Generate(chat_request("user", "hi"));
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  ASSERT_EQ(engine_->submitted().size(), 1u);
  const std::vector<tokenizer::Part> rendered = {
      {tokenizer::Modality::kText, "[user] hi\n[assistant]"}};
  auto want = engine_->prompt_builder().Build(
      rendered, tokenizer::PromptOptions{.add_bos = false, .parse_special = true});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(engine_->submitted()[0].prompt.ids, want->ids);
  // The template's own error, and a bad message, name the field.
  StreamResult raised = Generate(chat_request("bad", "x"));
  EXPECT_EQ(raised.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(raised.status.error_message(), HasSubstr("messages: chat template:"));
  EXPECT_THAT(raised.status.error_message(), HasSubstr("no bad roles"));
  StreamResult no_role = Generate(chat_request("", "x"));
  EXPECT_EQ(no_role.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_role.status.error_message(), HasSubstr("messages[0].role: empty"));
  // GetModelInfo says so.
  grpc::ClientContext ctx;
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_TRUE(info.has_chat_template());
}

TEST_F(ServiceTest, OversizeMessageIsRefusedAndTheServerKeepsServing) {
  ServerOptions o = DefaultOptions();
  o.limits.max_message_bytes = 64 << 10;
  StartServer(o);
  v1::GenerateRequest big = TextRequest();
  big.add_parts()->mutable_image()->set_data(std::string(100 << 10, 'x'));
  StreamResult r = Generate(big);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_THAT(r.status.error_message(), HasSubstr("message larger than max"));
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
}

TEST_F(ServiceTest, ApiKeysAreRequiredWhenConfigured) {
  mot::testing::ScratchDir dir;
  const std::string key = "0123456789abcdef0123456789abcdef";
  mot::testing::WriteAllTo(dir.Join("keys"), "# comment\n\n" + key + "\n");
  ServerOptions o = DefaultOptions();
  o.api_keys_file = dir.Join("keys");
  StartServer(o);
  StreamResult missing = Generate(TextRequest());
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.status.error_message(), HasSubstr("missing authorization"));
  StreamResult wrong = Generate(TextRequest(), "0123456789abcdef0123456789abcdeX");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.status.error_message(), HasSubstr("unknown API key"));
  EXPECT_THAT(wrong.status.error_message(), ::testing::Not(HasSubstr("0123456789")));
  StreamResult right = Generate(TextRequest(), key);
  EXPECT_TRUE(right.status.ok()) << right.status.error_message();
  // Unary calls are guarded too.
  grpc::ClientContext ctx;
  v1::ModelInfo info;
  EXPECT_EQ(stub_->GetModelInfo(&ctx, {}, &info).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ServiceTest, HealthIsNotServingUntilTheModelIsReady) {
  StartServer(DefaultOptions(), /*ready=*/false);
  auto health = grpc::health::v1::Health::NewStub(channel_);
  auto check = [&](const std::string& service) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  };
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check("mot.v1.MotService"), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  StreamResult early = Generate(TextRequest());
  EXPECT_EQ(early.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(early.status.error_message(), HasSubstr("loading"));
  server_->SetEngine(engine_.get(), testing::TestModelInfo(*config_), 4096);
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("mot.v1.MotService"), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
}

TEST_F(ServiceTest, ClientCancellationCallsEngineCancel) {
  engine_->set_hold(true);
  StartServer(DefaultOptions());
  grpc::ClientContext ctx;
  v1::GenerateRequest req = TextRequest();
  req.set_request_id("cancel-me");
  auto reader = stub_->Generate(&ctx, req);
  v1::GenerateResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.text().text(), "Hello");
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(WaitFor([&] { return !engine_->cancelled().empty(); }));
  EXPECT_EQ(engine_->cancelled()[0], "cancel-me");
  EXPECT_TRUE(WaitFor([&] { return server_->service().open_streams() == 0; }));
  EXPECT_EQ(engine_->live(), 0);
  engine_->set_hold(false);
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
}

TEST_F(ServiceTest, PassedDeadlineCallsEngineCancel) {
  engine_->set_hold(true);
  StartServer(DefaultOptions());
  v1::GenerateRequest req = TextRequest();
  req.set_request_id("too-slow");
  StreamResult r = Generate(req, "", absl::Milliseconds(300));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(WaitFor([&] { return !engine_->cancelled().empty(); }));
  EXPECT_EQ(engine_->cancelled()[0], "too-slow");
  EXPECT_TRUE(WaitFor([&] { return server_->service().open_streams() == 0; }));
}

TEST_F(ServiceTest, FullQueueIsResourceExhausted) {
  engine_->set_submit_error(absl::ResourceExhaustedError("queue full: 1024 requests waiting"));
  StartServer(DefaultOptions());
  StreamResult r = Generate(TextRequest());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("queue full"));
}

TEST_F(ServiceTest, DuplicateLiveRequestIdIsAlreadyExists) {
  engine_->set_hold(true);
  StartServer(DefaultOptions());
  grpc::ClientContext ctx;
  v1::GenerateRequest req = TextRequest();
  req.set_request_id("same");
  auto reader = stub_->Generate(&ctx, req);
  v1::GenerateResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  StreamResult second = Generate(req);
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(second.status.error_message(), HasSubstr("request_id: same"));
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  reader->Finish();
}

TEST_F(ServiceTest, EngineErrorEndsTheStreamWithItsStatus) {
  engine_->set_script([](const engine::GenerateRequest&) {
    return std::vector<engine::Event>{
        testing::TextEvent("partial"),
        testing::FinishedEvent(engine::FinishReason::kError,
                               absl::InternalError("backend: device lost"))};
  });
  StartServer(DefaultOptions());
  StreamResult r = Generate(TextRequest());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(r.status.error_message(), HasSubstr("device lost"));
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[1].finished().reason(), v1::FINISH_REASON_ERROR);
  EXPECT_THAT(r.events[1].finished().error_message(), HasSubstr("device lost"));
}

TEST_F(ServiceTest, ConcurrentStreamsEachGetTheirWholeOutput) {
  engine_->set_script([](const engine::GenerateRequest& r) {
    std::vector<engine::Event> ev;
    for (int i = 0; i < 50; ++i)
      ev.push_back(testing::TextEvent(absl::StrCat(r.request_id, ":", i, ";")));
    ev.push_back(testing::FinishedEvent(engine::FinishReason::kStop));
    return ev;
  });
  ServerOptions o = DefaultOptions();
  o.pump_threads = 2;
  StartServer(o);
  constexpr int kClients = 16;
  std::vector<std::string> texts(kClients);
  std::vector<grpc::Status> statuses(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      v1::GenerateRequest req = TextRequest();
      req.set_request_id(absl::StrCat("c", c));
      StreamResult r = Generate(req);
      statuses[c] = r.status;
      for (const auto& e : r.events) texts[c] += e.text().text();
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_TRUE(statuses[c].ok()) << statuses[c].error_message();
    std::string want;
    for (int i = 0; i < 50; ++i) want += absl::StrCat("c", c, ":", i, ";");
    EXPECT_EQ(texts[c], want);
  }
}

TEST_F(ServiceTest, DrainCancelsStreamsPastTheGraceAndRefusesNewOnes) {
  engine_->set_hold(true);
  StartServer(DefaultOptions());
  grpc::ClientContext ctx;
  v1::GenerateRequest req = TextRequest();
  req.set_request_id("long");
  auto reader = stub_->Generate(&ctx, req);
  v1::GenerateResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  const int64_t cancelled = server_->Drain(absl::Milliseconds(200));
  EXPECT_EQ(cancelled, 1);
  std::vector<v1::GenerateResponse> rest;
  while (reader->Read(&resp)) rest.push_back(resp);
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("shutting down"));
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back().finished().reason(), v1::FINISH_REASON_CANCELLED);
  EXPECT_THAT(engine_->cancelled(), ::testing::Contains("long"));
  StreamResult after = Generate(TextRequest(), "", absl::Seconds(2));
  EXPECT_EQ(after.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServiceTest, DrainLetsShortStreamsFinish) {
  StartServer(DefaultOptions());
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
  EXPECT_EQ(server_->Drain(absl::Seconds(5)), 0);
  EXPECT_TRUE(engine_->cancelled().empty());
}

TEST_F(ServiceTest, TokenizeDetokenizeAndModelInfo) {
  StartServer(DefaultOptions());
  v1::TokenizeRequest treq;
  treq.add_parts()->set_text("hello world");
  treq.add_parts()->mutable_image()->set_data(testing::TestPng());
  treq.set_add_bos(true);
  v1::TokenizeResponse tresp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Tokenize(&ctx, treq, &tresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const auto& v = engine_->prompt_builder().vocab();
  ASSERT_EQ(tresp.token_ids_size(), tresp.towers_size());
  EXPECT_EQ(tresp.token_ids(0), v.bos_id());
  EXPECT_EQ(tresp.token_ids(tresp.token_ids_size() - 1), v.eoi_id());
  EXPECT_EQ(tresp.towers(tresp.towers_size() - 2), 1);  // an image code

  v1::DetokenizeRequest dreq;
  dreq.mutable_token_ids()->CopyFrom(tresp.token_ids());
  v1::DetokenizeResponse dresp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Detokenize(&ctx, dreq, &dresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(dresp.parts_size(), 2);
  EXPECT_EQ(dresp.parts(0).text(), "hello world");
  EXPECT_EQ(dresp.parts(1).image().mime_type(), "image/png");
  EXPECT_EQ(dresp.parts(1).image().data().substr(1, 3), "PNG");

  dreq.add_token_ids(1 << 30);
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Detokenize(&ctx, dreq, &dresp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(),
                HasSubstr(absl::StrCat("token_ids[", dreq.token_ids_size() - 1, "]")));
  }
  v1::TokenizeRequest bad;
  bad.add_parts()->mutable_image()->set_data(testing::PngWithHeader(0, 5));
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->Tokenize(&ctx, bad, &tresp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("parts[0].image: width 0"));
  }
  v1::ModelInfo info;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetModelInfo(&ctx, {}, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(info.model_name(), "test-model");
  EXPECT_THAT(info.modalities(), ::testing::ElementsAre("text", "image", "audio"));
  EXPECT_EQ(info.vocab_size(), config_->vocab_size);
  EXPECT_EQ(info.limits().max_parts(), 8);
  EXPECT_EQ(info.limits().max_prompt_tokens(), 512);
}

TEST_F(ServiceTest, MetricsCountRequestsLatenciesTokensAndEngineStats) {
  StartServer(DefaultOptions());
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
  v1::GenerateRequest bad = TextRequest();
  bad.mutable_sampling()->set_top_p(2);
  EXPECT_FALSE(Generate(bad).status.ok());
  engine::EngineStats stats;
  stats.pools = {{100, 7, 3, 90}, {50, 2, 0, 48}, {50, 0, 0, 50}};
  stats.queue_depth = 4;
  stats.last_step_rows = 33;
  stats.prefix_queries = 10;
  stats.prefix_hits = 4;
  engine_->set_stats(stats);
  ASSERT_TRUE(WaitFor(
      [&] { return server_->metrics().Render().find("mot_queue_depth 4") != std::string::npos; }));
  ASSERT_TRUE(WaitFor([&] {  // OnDone runs just after the client sees the status
    return server_->metrics().Render().find(
               "mot_requests_total{code=\"INVALID_ARGUMENT\",method=\"Generate\"} 1") !=
           std::string::npos;
  }));
  const std::string m = server_->metrics().Render();
  EXPECT_THAT(m, HasSubstr("mot_requests_total{code=\"OK\",method=\"Generate\"} 1"));
  EXPECT_THAT(m, HasSubstr("mot_time_to_first_token_seconds_count 1"));
  EXPECT_THAT(m, HasSubstr("mot_inter_token_latency_seconds_count 1"));
  EXPECT_THAT(m, HasSubstr("mot_generated_tokens_total{modality=\"text\"} 2"));
  EXPECT_THAT(m, HasSubstr("mot_kv_blocks_in_use{modality=\"text\"} 7"));
  EXPECT_THAT(m, HasSubstr("mot_kv_blocks_in_use{modality=\"image\"} 2"));
  EXPECT_THAT(m, HasSubstr("mot_batch_size 33"));
  EXPECT_THAT(m, HasSubstr("mot_prefix_cache_hit_rate 0.4"));
  EXPECT_THAT(m, HasSubstr("mot_active_streams 0"));
}

TEST_F(ServiceTest, MetricsAreServedOverHttp) {
  ServerOptions o = DefaultOptions();
  o.metrics_address = "127.0.0.1:0";
  StartServer(o);
  EXPECT_TRUE(Generate(TextRequest()).status.ok());
  const int port = server_->metrics().http_port();
  ASSERT_GT(port, 0);
  const std::string body = HttpGet(port, "/metrics");
  EXPECT_THAT(body, HasSubstr("200 OK"));
  EXPECT_THAT(body, HasSubstr("mot_time_to_first_token_seconds_bucket"));
}

}  // namespace
}  // namespace mot::server
