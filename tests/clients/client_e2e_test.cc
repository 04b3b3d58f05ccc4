// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-cli (the built binary, run as a process) and the Python client (its unittest suite)
// against a MotServer hosted in this process on 127.0.0.1 with a FakeEngine: what they
// print, the files they write, and their exit codes when the server refuses, is down, or
// lets the deadline pass.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/model_loaders/test_util.h"
#include "tests/server/fake_engine.h"
#include "tests/server/test_model.h"

namespace mot::server {
namespace {

using ::mot::testing::FakeEngine;
using ::testing::HasSubstr;

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

RunResult RunCommand(const std::string& command) {
  RunResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Text always; an image (real PNG) when images are allowed; audio (real WAV) when audio is.
std::vector<engine::Event> MediaScript(const engine::GenerateRequest& r) {
  std::vector<engine::Event> ev;
  ev.push_back(testing::TextEvent("Hello"));
  if (r.sampling.allowed_modalities & sampling::kImage) {
    engine::Event e;
    e.kind = engine::EventKind::kImageStarted;
    e.total = 4;
    ev.push_back(e);
    for (int d = 1; d <= 4; ++d) {
      e = {};
      e.kind = engine::EventKind::kImageProgress;
      e.done = d, e.total = 4;
      ev.push_back(e);
    }
    e = {};
    e.kind = engine::EventKind::kImageFinished;
    e.token_ids = {3, 300, 301, 302, 303, 4};
    e.data = testing::TestPng(16, 16);
    ev.push_back(e);
  }
  if (r.sampling.allowed_modalities & sampling::kAudio) {
    engine::Event e;
    e.kind = engine::EventKind::kAudioStarted;
    ev.push_back(e);
    e = {};
    e.kind = engine::EventKind::kAudioFinished;
    e.data = testing::TestWav(0.1);
    ev.push_back(e);
  }
  ev.push_back(testing::TextEvent(" world"));
  engine::Event usage;
  usage.kind = engine::EventKind::kUsage;
  usage.usage[0].generated_tokens = 2;
  ev.push_back(usage);
  ev.push_back(testing::FinishedEvent(engine::FinishReason::kStop));
  return ev;
}

class ClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MotConfig config;
    engine_ = std::make_unique<FakeEngine>(testing::MakeTestPromptBuilder(&config));
    engine_->set_script(&MediaScript);
    ServerOptions o;
    o.address = "127.0.0.1:0";
    auto s = MotServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    server_->SetEngine(engine_.get(), testing::TestModelInfo(config), 4096);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }

  std::string Cli(const std::string& args) {
    return absl::StrCat(MOT_CLI_PATH, " --server=", address_, " ", args);
  }

  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<MotServer> server_;
  std::string address_;
};

TEST_F(ClientE2eTest, CliStreamsTextToStdout) {
  RunResult r = RunCommand(Cli("generate --text 'hello world' --seed=1 --temperature=0"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Hello world"));
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].sampling.seed, 1u);
  EXPECT_EQ(sub[0].sampling.temperature, 0.0f);
}

TEST_F(ClientE2eTest, CliKeepsPartOrderAndWritesImagesAndAudio) {
  mot::testing::ScratchDir dir;
  mot::testing::WriteAllTo(dir.Join("in.png"), testing::TestPng());
  RunResult r =
      RunCommand(Cli(absl::StrCat("generate --text 'a picture of' --image ", dir.Join("in.png"),
                                  " --text 'and' --modalities=text,image,audio --request_id=r7",
                                  " --out_dir=", dir.Join("out"))));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("wrote image"));
  const std::string png = mot::testing::ReadAll(dir.Join("out/r7-image-0.png"));
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const std::string wav = mot::testing::ReadAll(dir.Join("out/r7-audio-0.wav"));
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  const auto& v = engine_->prompt_builder().vocab();
  const auto& ids = sub[0].prompt.ids;
  auto boi = std::find(ids.begin(), ids.end(), v.boi_id());
  ASSERT_NE(boi, ids.end());
  // Text, then the image, then more text: the image is neither first nor last.
  EXPECT_GT(boi - ids.begin(), 1);
  EXPECT_NE(ids.back(), v.eoi_id());
}

TEST_F(ClientE2eTest, CliJsonLinesDescribeEveryEvent) {
  mot::testing::ScratchDir dir;
  RunResult r = RunCommand(
      Cli(absl::StrCat("generate --text hi --force_image --json --out_dir=", dir.path())));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(R"({"text":"Hello","type":"text"})"));
  EXPECT_THAT(r.out, HasSubstr(R"("type":"image_progress")"));
  EXPECT_THAT(r.out, HasSubstr(R"("type":"image")"));
  EXPECT_THAT(r.out, HasSubstr(R"("reason":"stop")"));
  EXPECT_TRUE(engine_->submitted()[0].sampling.force_image_start);
}

TEST_F(ClientE2eTest, CliHealthInfoAndTokenize) {
  RunResult h = RunCommand(Cli("health"));
  EXPECT_EQ(h.exit_code, 0) << h.out;
  EXPECT_THAT(h.out, HasSubstr("SERVING"));
  RunResult i = RunCommand(Cli("info --json"));
  EXPECT_EQ(i.exit_code, 0) << i.out;
  EXPECT_THAT(i.out, HasSubstr("\"model_name\":\"test-model\""));
  RunResult t = RunCommand(Cli("tokenize --text hello --json"));
  EXPECT_EQ(t.exit_code, 0) << t.out;
  EXPECT_THAT(t.out, HasSubstr("\"token_ids\":[1,"));  // <bos> first
}

TEST_F(ClientE2eTest, CliExplainsRefusalsWithTheFieldAndExitsNonZero) {
  mot::testing::ScratchDir dir;
  mot::testing::WriteAllTo(dir.Join("bad.png"), testing::PngWithHeader(0, 8));
  RunResult r = RunCommand(Cli(absl::StrCat("generate --text x --image ", dir.Join("bad.png"))));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("INVALID_ARGUMENT: parts[1].image: width 0"));
  RunResult usage = RunCommand(Cli("generate"));
  EXPECT_EQ(usage.exit_code, 4) << usage.out;
  EXPECT_THAT(usage.out, HasSubstr("at least one --text"));
}

TEST_F(ClientE2eTest, CliSaysWhenTheServerIsDownOrTooSlow) {
  engine_->set_hold(true);
  RunResult slow = RunCommand(Cli("generate --text x --deadline_s=0.3"));
  EXPECT_EQ(slow.exit_code, 3) << slow.out;
  EXPECT_THAT(slow.out, HasSubstr("deadline"));
  server_->Drain(absl::ZeroDuration());
  RunResult down =
      RunCommand(absl::StrCat(MOT_CLI_PATH, " --server=127.0.0.1:1 --deadline_s=5 health"));
  EXPECT_EQ(down.exit_code, 2) << down.out;
  EXPECT_THAT(down.out, HasSubstr("unavailable"));
}

TEST_F(ClientE2eTest, PythonClientSuitePasses) {
  const std::string stubs = MOT_PY_STUBS;
  if (stubs.empty()) GTEST_SKIP() << "MOT_PYTHON lacks grpcio/grpcio-tools (scripts/setup.sh)";
  RunResult r =
      RunCommand(absl::StrCat("cd ", MOT_SOURCE_DIR, " && MOT_SERVER=", address_,
                              " PYTHONPATH=", stubs, ":", MOT_SOURCE_DIR, "/clients/python ",
                              MOT_PYTHON, " -m unittest discover -v -s clients/python/tests"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("skipped")));
  EXPECT_THAT(r.out, HasSubstr("OK"));
}

}  // namespace
}  // namespace mot::server
