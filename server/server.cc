// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"

namespace mot::server {
namespace {

constexpr char kServiceName[] = "mot.v1.MotService";

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MotServer>> MotServer::Start(const ServerOptions& options) {
  if (absl::Status s = options.limits.Validate(); !s.ok()) return s;
  std::unique_ptr<MotServer> server(new MotServer());
  server->options_ = options;

  if (!options.api_keys_file.empty()) {
    absl::StatusOr<ApiKeys> keys = ApiKeys::FromFile(options.api_keys_file);
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("--api_keys_file: ", keys.status().message()));
    }
    server->api_keys_ = std::make_unique<ApiKeys>(*std::move(keys));
  }

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key: give both or neither");
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "tls_cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "tls_key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }

  server->metrics_ = std::make_unique<ServerMetrics>(options.tower_names);
  if (!options.metrics_address.empty()) {
    if (absl::Status s = server->metrics_->StartHttp(options.metrics_address); !s.ok()) return s;
  }
  ServiceOptions so;
  so.limits = options.limits;
  so.api_keys = server->api_keys_.get();
  so.pump_threads = options.pump_threads;
  server->service_ = std::make_unique<MotServiceImpl>(server->metrics_.get(), so);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, creds, &server->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<int64_t>(options.limits.max_message_bytes, std::numeric_limits<int>::max())));
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--address: cannot listen on ", options.address, " (in use or invalid)"));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(false);
  health->SetServingStatus(kServiceName, false);
  server->poller_ = std::thread([p = server.get()] { p->PollStats(); });
  Log(LogLevel::kInfo, "server_listening",
      {{"address", options.address},
       {"port", absl::StrCat(server->port_)},
       {"tls", options.tls_cert_file.empty() ? "off" : "on"},
       {"auth", server->api_keys_ ? "api_keys" : "off"},
       {"metrics", options.metrics_address.empty() ? "off" : options.metrics_address}});
  return server;
}

MotServer::~MotServer() {
  // A server whose Start failed part-way has nothing to drain.
  if (service_ != nullptr && server_ != nullptr) Drain(absl::ZeroDuration());
  if (poller_.joinable()) poller_.join();
}

void MotServer::SetEngine(engine::Engine* engine, v1::ModelInfo info, int32_t max_seq_len,
                          ChatSetup chat) {
  service_->SetEngine(engine, std::move(info), max_seq_len, std::move(chat));
  engine_.store(engine, std::memory_order_release);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kServiceName, true);
  Log(LogLevel::kInfo, "server_serving", {{"port", absl::StrCat(port_)}});
}

void MotServer::PollStats() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_poll_) {
    cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.stats_interval));
    if (stop_poll_) break;
    engine::Engine* engine = engine_.load(std::memory_order_acquire);
    if (engine == nullptr) continue;
    lock.unlock();
    metrics_->UpdateEngineStats(engine->Stats());
    lock.lock();
  }
}

int64_t MotServer::Drain(absl::Duration grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (drained_) return 0;
  }
  service_->StopAdmitting();
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(false);
  health->SetServingStatus(kServiceName, false);
  const int64_t open_at_start = service_->open_streams();
  Log(LogLevel::kInfo, "server_draining",
      {{"open_streams", absl::StrCat(open_at_start)},
       {"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(grace))}});
  const absl::Time deadline = absl::Now() + grace;
  while (service_->open_streams() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int64_t cancelled = service_->open_streams();
  if (cancelled > 0) service_->CancelAll();
  // Streams cancelled above end within an engine step; anything still open after this
  // deadline (a stuck client) is cancelled by gRPC itself.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  {
    std::lock_guard<std::mutex> lock(mu_);
    drained_ = true;
    stop_poll_ = true;
  }
  cv_.notify_all();
  Log(LogLevel::kInfo, "server_stopped", {{"cancelled_streams", absl::StrCat(cancelled)}});
  return cancelled;
}

void MotServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return drained_; });
}

}  // namespace mot::server
