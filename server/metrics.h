// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/metrics.h
// ServerMetrics: the Prometheus metrics of mot-server (prometheus-cpp), served over HTTP at
// /metrics by StartHttp. Two sources feed them:
//   per request, from the gRPC handlers: requests by method and status code, time to first
//   token, inter-token latency, prompt and generated tokens per modality, open streams;
//   per poll, from Engine::Stats (UpdateEngineStats, called every --stats_interval by the
//   server): KV blocks in use / cached / total per modality pool, queue depth, running
//   sequences, batch size (rows of the last step), prefix-cache hit rate, preemptions.
// Names: mot_requests_total{method,code}, mot_time_to_first_token_seconds,
// mot_inter_token_latency_seconds, mot_prompt_tokens_total{modality},
// mot_generated_tokens_total{modality}, mot_active_streams, mot_kv_blocks_in_use{modality},
// mot_kv_blocks_cached{modality}, mot_kv_blocks_total{modality}, mot_queue_depth,
// mot_running_sequences, mot_batch_size, mot_prefix_cache_hit_rate,
// mot_engine_steps_total, mot_preemptions_total.
// Thread rule: every method is thread-safe (prometheus-cpp metrics are atomic; the engine
// poll is serialized by a mutex).
#ifndef MOT_SERVER_METRICS_H_
#define MOT_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/engine.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace mot::server {

class ServerMetrics {
 public:
  // `tower_names`: the model's modalities in tower order (labels of the per-pool gauges).
  explicit ServerMetrics(std::vector<std::string> tower_names);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Serves /metrics on `address` ("127.0.0.1:9090"). InvalidArgument naming the address
  // when it cannot be bound. At most once.
  absl::Status StartHttp(const std::string& address);
  // The bound HTTP port (useful with port 0); 0 when not serving.
  int http_port() const;

  void RequestDone(absl::string_view method, absl::string_view code);
  void ObserveTimeToFirstToken(double seconds);
  void ObserveInterTokenLatency(double seconds);
  // usage[3] as in engine::Event: [text, image, audio].
  void AddUsage(const engine::ModalityUsage usage[3]);
  void StreamOpened();
  void StreamClosed();
  void UpdateEngineStats(const engine::EngineStats& stats);

  // The text exposition format of every metric (what /metrics returns).
  std::string Render() const;

 private:
  prometheus::Counter& Requests(absl::string_view method, absl::string_view code);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<std::string> tower_names_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Histogram* ttft_;
  prometheus::Histogram* itl_;
  std::vector<prometheus::Counter*> prompt_tokens_, generated_tokens_;  // [text, image, audio]
  prometheus::Gauge* active_streams_;
  std::vector<prometheus::Gauge*> blocks_used_, blocks_cached_, blocks_total_;  // per tower
  prometheus::Gauge *queue_depth_, *running_, *batch_size_, *prefix_hit_rate_;
  prometheus::Counter *steps_, *preemptions_;

  std::mutex poll_mu_;  // serializes UpdateEngineStats (deltas of cumulative counters)
  int64_t last_steps_ = 0, last_preemptions_ = 0;
};

}  // namespace mot::server

#endif  // MOT_SERVER_METRICS_H_
