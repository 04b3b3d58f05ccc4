// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/server.h
// MotServer: the gRPC server of mot-server — MotServiceImpl, the standard grpc.health.v1
// service, server reflection, Prometheus metrics over HTTP, TLS and the message-size limit —
// and its life cycle:
//   Start()      listen; health NOT_SERVING, calls fail UNAVAILABLE "the model is loading"
//   SetEngine()  the engine is loaded and warmed: health SERVING
//   Drain()      (SIGTERM) health NOT_SERVING, new Generate calls UNAVAILABLE, open streams
//                get up to `grace` to finish, then are cancelled; the server shuts down.
// Engine::Stats is polled every stats_interval into the metrics.
// Thread rule: Start, SetEngine and Drain from one controlling thread; the engine
// (borrowed) must outlive the server's Drain (or destruction, which drains with no grace).
#ifndef MOT_SERVER_SERVER_H_
#define MOT_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "server/api_keys.h"
#include "server/metrics.h"
#include "server/mot_service.h"

namespace mot::server {

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see MotServer::port()).
  std::string address = "127.0.0.1:50051";
  std::string metrics_address;              // empty: no HTTP metrics endpoint
  std::string tls_cert_file, tls_key_file;  // both or neither: PEM files
  std::string api_keys_file;                // empty: no authentication
  ServerLimits limits;
  int pump_threads = 2;
  absl::Duration stats_interval = absl::Seconds(1);
  // The model's tower names (metric labels); may be empty before the model is known.
  std::vector<std::string> tower_names = {"text", "image", "audio"};
};

class MotServer {
 public:
  // Checks the options (limits, TLS files readable, API keys file), binds the address and
  // starts serving (NOT_SERVING). InvalidArgument / NotFound naming the flag; Unavailable
  // when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MotServer>> Start(const ServerOptions& options);
  ~MotServer();

  // The model is loaded and warmed: serve it. `info` is what GetModelInfo returns.
  // `chat`: the chat template `messages` are rendered with (default: none).
  void SetEngine(engine::Engine* engine, v1::ModelInfo info, int32_t max_seq_len,
                 ChatSetup chat = {});

  // Stops admitting, waits up to `grace` for open streams, cancels the rest, shuts down.
  // Idempotent. Returns the number of streams that had to be cancelled.
  int64_t Drain(absl::Duration grace);

  // Blocks until Drain has completed (e.g. from a signal-watching thread).
  void Wait();

  int port() const { return port_; }
  ServerMetrics& metrics() { return *metrics_; }
  MotServiceImpl& service() { return *service_; }

 private:
  MotServer() = default;
  void PollStats();

  ServerOptions options_;
  std::unique_ptr<ApiKeys> api_keys_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<MotServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool drained_ = false;    // guarded by mu_
  bool stop_poll_ = false;  // guarded by mu_
  std::thread poller_;
  std::atomic<engine::Engine*> engine_{nullptr};
};

}  // namespace mot::server

#endif  // MOT_SERVER_SERVER_H_
