// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace mot::server {
namespace {

constexpr const char* kUsageModalities[3] = {"text", "image", "audio"};

// Latency buckets from 1 ms to ~65 s, doubling: TTFT spans a cached text prompt (ms) to a
// queued image prompt (s); inter-token latency lives in the low buckets.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 0.001; v < 70.0; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

ServerMetrics::ServerMetrics(std::vector<std::string> tower_names)
    : registry_(std::make_shared<prometheus::Registry>()), tower_names_(std::move(tower_names)) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& reg = *registry_;
  requests_ = &BuildCounter()
                   .Name("mot_requests_total")
                   .Help("Finished RPCs by method and gRPC status code")
                   .Register(reg);
  ttft_ = &BuildHistogram()
               .Name("mot_time_to_first_token_seconds")
               .Help("From an admitted Generate call to its first output event")
               .Register(reg)
               .Add({}, LatencyBuckets());
  itl_ = &BuildHistogram()
              .Name("mot_inter_token_latency_seconds")
              .Help("Between consecutive output events of one stream")
              .Register(reg)
              .Add({}, LatencyBuckets());
  auto& prompt = BuildCounter()
                     .Name("mot_prompt_tokens_total")
                     .Help("Prompt tokens of finished requests by modality")
                     .Register(reg);
  auto& generated = BuildCounter()
                        .Name("mot_generated_tokens_total")
                        .Help("Generated tokens of finished requests by modality")
                        .Register(reg);
  for (const char* m : kUsageModalities) {
    prompt_tokens_.push_back(&prompt.Add({{"modality", m}}));
    generated_tokens_.push_back(&generated.Add({{"modality", m}}));
  }
  active_streams_ =
      &BuildGauge().Name("mot_active_streams").Help("Open Generate streams").Register(reg).Add({});
  auto& used = BuildGauge()
                   .Name("mot_kv_blocks_in_use")
                   .Help("KV blocks held by live sequences, per modality pool")
                   .Register(reg);
  auto& cached = BuildGauge()
                     .Name("mot_kv_blocks_cached")
                     .Help("Free KV blocks kept for prefix reuse, per modality pool")
                     .Register(reg);
  auto& total =
      BuildGauge().Name("mot_kv_blocks_total").Help("KV blocks per modality pool").Register(reg);
  for (const std::string& t : tower_names_) {
    blocks_used_.push_back(&used.Add({{"modality", t}}));
    blocks_cached_.push_back(&cached.Add({{"modality", t}}));
    blocks_total_.push_back(&total.Add({{"modality", t}}));
  }
  queue_depth_ = &BuildGauge()
                      .Name("mot_queue_depth")
                      .Help("Requests waiting to be admitted")
                      .Register(reg)
                      .Add({});
  running_ = &BuildGauge()
                  .Name("mot_running_sequences")
                  .Help("Sequences holding KV blocks")
                  .Register(reg)
                  .Add({});
  batch_size_ = &BuildGauge()
                     .Name("mot_batch_size")
                     .Help("Rows (prefill chunks + decode tokens) of the last engine step")
                     .Register(reg)
                     .Add({});
  prefix_hit_rate_ = &BuildGauge()
                          .Name("mot_prefix_cache_hit_rate")
                          .Help("Prompt tokens reused from the prefix cache / looked up")
                          .Register(reg)
                          .Add({});
  steps_ =
      &BuildCounter().Name("mot_engine_steps_total").Help("Engine steps").Register(reg).Add({});
  preemptions_ = &BuildCounter()
                      .Name("mot_preemptions_total")
                      .Help("Sequences preempted for KV blocks")
                      .Register(reg)
                      .Add({});
}

ServerMetrics::~ServerMetrics() = default;

absl::Status ServerMetrics::StartHttp(const std::string& address) {
  if (exposer_ != nullptr) return absl::FailedPreconditionError("metrics: already serving");
  // prometheus-cpp (civetweb) reports a failed bind by throwing; it stops here.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_address: cannot serve on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int ServerMetrics::http_port() const {
  if (exposer_ == nullptr) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

prometheus::Counter& ServerMetrics::Requests(absl::string_view method, absl::string_view code) {
  // Family::Add returns the existing child for known labels; it is thread-safe.
  return requests_->Add({{"method", std::string(method)}, {"code", std::string(code)}});
}

void ServerMetrics::RequestDone(absl::string_view method, absl::string_view code) {
  Requests(method, code).Increment();
}
void ServerMetrics::ObserveTimeToFirstToken(double seconds) { ttft_->Observe(seconds); }
void ServerMetrics::ObserveInterTokenLatency(double seconds) { itl_->Observe(seconds); }

void ServerMetrics::AddUsage(const engine::ModalityUsage usage[3]) {
  for (int m = 0; m < 3; ++m) {
    prompt_tokens_[m]->Increment(usage[m].prompt_tokens);
    generated_tokens_[m]->Increment(usage[m].generated_tokens);
  }
}

void ServerMetrics::StreamOpened() { active_streams_->Increment(); }
void ServerMetrics::StreamClosed() { active_streams_->Decrement(); }

void ServerMetrics::UpdateEngineStats(const engine::EngineStats& stats) {
  std::lock_guard<std::mutex> lock(poll_mu_);
  for (size_t t = 0; t < stats.pools.size() && t < tower_names_.size(); ++t) {
    blocks_used_[t]->Set(stats.pools[t].blocks_used);
    blocks_cached_[t]->Set(stats.pools[t].blocks_cached);
    blocks_total_[t]->Set(stats.pools[t].blocks_total);
  }
  queue_depth_->Set(stats.queue_depth);
  running_->Set(stats.running);
  batch_size_->Set(stats.last_step_rows);
  prefix_hit_rate_->Set(stats.prefix_queries > 0 ? static_cast<double>(stats.prefix_hits) /
                                                       static_cast<double>(stats.prefix_queries)
                                                 : 0.0);
  if (stats.steps >= last_steps_) steps_->Increment(static_cast<double>(stats.steps - last_steps_));
  if (stats.preemptions >= last_preemptions_) {
    preemptions_->Increment(static_cast<double>(stats.preemptions - last_preemptions_));
  }
  last_steps_ = stats.steps;
  last_preemptions_ = stats.preemptions;
}

std::string ServerMetrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace mot::server
