// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/mot_service.h
// MotServiceImpl: the mot.v1.MotService over an engine::Engine, on gRPC's callback API.
//   Generate     a ServerWriteReactor per stream: auth, validation (request_validation.h),
//                tokenization with the engine's prompt builder, Engine::Submit, then the
//                EventPump feeds the engine's events to the stream, one write in flight.
//                Client cancellation, a passed deadline or a failed write call
//                Engine::Cancel, which frees the request's KV blocks at once.
//   Tokenize / Detokenize / GetModelInfo   unary reactors, answered inline.
// Before SetEngine every call fails UNAVAILABLE ("the model is loading");
// after StopAdmitting new Generate calls fail UNAVAILABLE ("server is shutting down")
// while open streams go on.
// Thread rule: gRPC calls the handlers from its threads; SetEngine, StopAdmitting and
// CancelAll from any thread. The engine (borrowed) must outlive this object, and this
// object must outlive the grpc::Server it is registered with (Shutdown first).
#ifndef MOT_SERVER_MOT_SERVICE_H_
#define MOT_SERVER_MOT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "engine/engine.h"
#include "mot/v1/mot.grpc.pb.h"
#include "server/api_keys.h"
#include "server/event_pump.h"
#include "server/metrics.h"
#include "server/request_validation.h"

namespace mot::server {

struct ServiceOptions {
  ServerLimits limits;
  const ApiKeys* api_keys = nullptr;  // borrowed; null: no authentication
  int pump_threads = 2;
};

class MotServiceImpl final : public v1::MotService::CallbackService {
 public:
  // `metrics` is borrowed and must outlive the service.
  MotServiceImpl(ServerMetrics* metrics, ServiceOptions options);
  ~MotServiceImpl() override;

  // Makes the service ready: `engine` (borrowed) serves Generate, its prompt builder
  // Tokenize and Detokenize; `info` is what GetModelInfo returns (its limits are filled in
  // here). `max_seq_len` bounds prompts. Call once.
  // `chat` renders `messages` (default: none, they are refused); info.has_chat_template is
  // set from it.
  void SetEngine(engine::Engine* engine, v1::ModelInfo info, int32_t max_seq_len,
                 ChatSetup chat = {});
  bool ready() const { return engine_.load(std::memory_order_acquire) != nullptr; }

  // New Generate calls fail UNAVAILABLE; open streams continue.
  void StopAdmitting() { admitting_.store(false); }
  // Engine::Cancel for every open stream (they end with FINISH_REASON_CANCELLED).
  void CancelAll();
  int64_t open_streams() const;

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  // The prompt's parts: `parts` checked, or `messages` rendered with the chat template
  // (which also sets `options` as the rendered text needs). InvalidArgument naming the field.
  absl::StatusOr<std::vector<tokenizer::Part>> PromptParts(
      const google::protobuf::RepeatedPtrField<v1::Part>& parts,
      const google::protobuf::RepeatedPtrField<v1::ChatMessage>& messages,
      tokenizer::PromptOptions* options) const;

  friend class GenerateReactor;

  // OK, or the status an unauthenticated / not-ready call gets.
  grpc::Status Admit(grpc::CallbackServerContext* context) const;
  grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, const char* method,
                                        const grpc::Status& status);
  std::string NewRequestId();
  bool Register(const std::string& request_id);
  void Unregister(const std::string& request_id);

  ServerMetrics* metrics_;
  ServiceOptions options_;
  EventPump pump_;
  std::atomic<engine::Engine*> engine_{nullptr};
  v1::ModelInfo info_;  // written once before engine_ is published
  ChatSetup chat_;      // set before engine_ is published (release), read after (acquire)
  ModelCaps caps_;      // likewise
  std::atomic<bool> admitting_{true};
  std::atomic<uint64_t> next_id_{0};
  uint64_t id_salt_;

  mutable std::mutex live_mu_;
  absl::flat_hash_set<std::string> live_;  // request ids of open streams, guarded by live_mu_
};

}  // namespace mot::server

#endif  // MOT_SERVER_MOT_SERVICE_H_
