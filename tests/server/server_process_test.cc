// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The mot-server binary as operators run it: a child process on a tiny checkpoint made on
// the spot, TLS with a self-signed certificate made by the openssl program, and SIGTERM
// while streams are open. Checks what no in-process test can: the flags, the health service
// turning SERVING, TLS refusing a plaintext client and serving one that trusts the
// certificate, and the signal path (stop admitting, drain within --drain_grace_s, exit 0).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mot/v1/mot.grpc.pb.h"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/free_port.h"
#include "tests/testing/tiny_checkpoint.h"

namespace mot::server {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::WriteTinyCheckpoint(dir_.Join("ckpt")).ok());
    port_ = testing::FreePort();
    metrics_port_ = testing::FreePort();
    ASSERT_GT(port_, 0);
    ASSERT_GT(metrics_port_, 0);
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Starts mot-server with `extra` flags; its stderr goes to a file shown on failure.
  void Start(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {MOT_SERVER_BINARY,
                                     "--checkpoint=" + dir_.Join("ckpt"),
                                     absl::StrCat("--address=127.0.0.1:", port_),
                                     absl::StrCat("--metrics_address=127.0.0.1:", metrics_port_),
                                     "--threads=1",
                                     "--kv_budget_mb=8",
                                     "--kv_dtype=bf16",
                                     "--drain_grace_s=20"};
    args.insert(args.end(), extra.begin(), extra.end());
    log_ = dir_.Join("server.log");
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  // Polls the health service over `creds` until SERVING (or the process dies).
  bool WaitServing(const std::shared_ptr<grpc::ChannelCredentials>& creds,
                   const grpc::ChannelArguments& args = {}) {
    auto channel = grpc::CreateCustomChannel(Target(), creds, args);
    auto health = grpc::health::v1::Health::NewStub(channel);
    const absl::Time end = absl::Now() + absl::Seconds(60);
    while (absl::Now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "mot-server exited early:\n" << ReadFile(log_);
        return false;
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      if (health->Check(&ctx, req, &resp).ok() &&
          resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "mot-server never became SERVING:\n" << ReadFile(log_);
    return false;
  }

  // Waits for the child to exit; its exit status, or -1 past `limit`.
  int WaitExit(absl::Duration limit) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return -1;
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", port_); }

  static v1::GenerateRequest Text(int max_new) {
    v1::GenerateRequest req;
    req.add_parts()->set_text("hello there");
    req.mutable_limits()->set_max_new_tokens(max_new);
    req.mutable_sampling()->set_seed(7);
    // <eos> (id 2 in the unified vocabulary) suppressed: exactly max_new tokens.
    (*req.mutable_sampling()->mutable_logit_bias())[2] = -100.0f;
    return req;
  }

  mot::testing::ScratchDir dir_;
  int port_ = 0, metrics_port_ = 0;
  pid_t pid_ = -1;
  std::string log_;
};

TEST_F(ServerProcessTest, SigtermDuringStreamsDrainsThemAndExitsZero) {
  Start({});
  ASSERT_TRUE(WaitServing(grpc::InsecureChannelCredentials()));
  auto stub =
      v1::MotService::NewStub(grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials()));

  // Several long streams; SIGTERM once each has produced its first event.
  // Long enough (about a second on the tiny model) to be open when the signal lands, short
  // enough to finish inside --drain_grace_s.
  constexpr int kStreams = 4, kTokens = 900;
  std::atomic<int> started{0}, ended{0};
  std::vector<grpc::Status> status(kStreams);
  std::vector<v1::FinishReason> reason(kStreams, v1::FINISH_REASON_UNSPECIFIED);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      auto reader = stub->Generate(&ctx, Text(kTokens));
      v1::GenerateResponse resp;
      bool first = true;
      while (reader->Read(&resp)) {
        if (first) started.fetch_add(1), first = false;
        if (resp.has_finished()) reason[i] = resp.finished().reason();
      }
      status[i] = reader->Finish();
      ended.fetch_add(1);
    });
  }
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (started.load() < kStreams && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(started.load(), kStreams) << ReadFile(log_);
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int open_at_check = 0;

  // While draining, new work is refused with UNAVAILABLE (or the listener is already gone).
  absl::SleepFor(absl::Milliseconds(50));
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto reader = stub->Generate(&ctx, Text(4));
    v1::GenerateResponse resp;
    while (reader->Read(&resp)) {
    }
    const grpc::Status s = reader->Finish();
    open_at_check = kStreams - ended.load();
    EXPECT_FALSE(s.ok()) << "a request admitted after SIGTERM";
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GT(open_at_check, 0) << "the streams ended before the check; make them longer";
  // Every open stream ran to its end within the grace period (not cut short), and the
  // process exited 0.
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_TRUE(status[i].ok()) << i << ": " << status[i].error_message();
    EXPECT_TRUE(reason[i] == v1::FINISH_REASON_LENGTH || reason[i] == v1::FINISH_REASON_STOP)
        << i << ": " << v1::FinishReason_Name(reason[i]);
  }
  EXPECT_EQ(WaitExit(absl::Seconds(30)), 0) << ReadFile(log_);
}

TEST_F(ServerProcessTest, TlsServesAClientThatTrustsTheCertificateAndRefusesPlaintext) {
  const std::string cert = dir_.Join("cert.pem"), key = dir_.Join("key.pem");
  const std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ",
      key, " -out ", cert, " > ", dir_.Join("openssl.log"), " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir_.Join("openssl.log"));
  Start({"--tls_cert=" + cert, "--tls_key=" + key});

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(cert);
  const auto tls = grpc::SslCredentials(ssl);
  ASSERT_TRUE(WaitServing(tls));
  auto stub = v1::MotService::NewStub(grpc::CreateChannel(Target(), tls));
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto reader = stub->Generate(&ctx, Text(4));
    v1::GenerateResponse resp;
    bool finished = false;
    while (reader->Read(&resp)) finished = finished || resp.has_finished();
    const grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(finished);
  }
  // A plaintext client cannot talk to the TLS port.
  {
    auto plain =
        v1::MotService::NewStub(grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    v1::ModelInfo info;
    EXPECT_FALSE(plain->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info).ok());
  }
  // Nor a TLS client that does not trust the certificate (the system roots only).
  {
    grpc::SslCredentialsOptions untrusted;
    untrusted.pem_root_certs = "";  // system roots
    auto other =
        v1::MotService::NewStub(grpc::CreateChannel(Target(), grpc::SslCredentials(untrusted)));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    v1::ModelInfo info;
    EXPECT_FALSE(other->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info).ok());
  }
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  EXPECT_EQ(WaitExit(absl::Seconds(30)), 0) << ReadFile(log_);
}

TEST_F(ServerProcessTest, BadFlagsAreRefusedByName) {
  Start({"--kv_dtype=f8"});
  EXPECT_EQ(WaitExit(absl::Seconds(30)), 1);
  EXPECT_NE(ReadFile(log_).find("--kv_dtype: unknown dtype \"f8\""), std::string::npos)
      << ReadFile(log_);
}

}  // namespace
}  // namespace mot::server
