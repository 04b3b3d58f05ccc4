// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/mot_service.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/event_mapping.h"
#include "server/log.h"

namespace mot::server {
namespace {

// Our own copy of the names: the server links no engine implementation in its unit tests.
const char* ReasonName(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kStop:
      return "stop";
    case engine::FinishReason::kLength:
      return "length";
    case engine::FinishReason::kCancelled:
      return "cancelled";
    case engine::FinishReason::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace

// One Generate stream. Owned by a shared_ptr that it holds itself (self_) until OnDone and
// that the pump holds while it lists the stream, so neither gRPC's OnDone nor the pump's
// last Deliver can free it under the other.
//
// Write discipline: ready_ is true exactly when no write is in flight and Finish has not
// been called. The pump only delivers while ready_ is true; Deliver clears it before
// StartWrite, OnWriteDone(ok) sets it again. So Deliver, Finish and StartWrite never race.
class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse>,
                              public PumpedStream {
 public:
  GenerateReactor(MotServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), mapper_("") {}

  // Validates, tokenizes and submits; finishes the RPC at once on any error.
  void Start(std::shared_ptr<GenerateReactor> self, const v1::GenerateRequest& request);

  bool WantsEvent() const override { return ready_.load(std::memory_order_acquire); }
  bool Done() const override { return finish_called_.load(std::memory_order_acquire); }
  engine::RequestHandle& handle() override { return *handle_; }
  void Deliver(engine::Event event) override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void FinishOnce(const grpc::Status& status);
  void CancelEngine();
  void ObserveOutput(engine::EventKind kind);

  MotServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  std::shared_ptr<GenerateReactor> self_;
  std::string request_id_;
  bool registered_ = false;
  engine::Engine* engine_ = nullptr;
  std::unique_ptr<engine::RequestHandle> handle_;
  EventMapper mapper_;
  v1::GenerateResponse response_;  // the write in flight; untouched until OnWriteDone
  int worker_ = 0;

  std::atomic<bool> ready_{false};
  std::atomic<bool> finish_called_{false};
  std::atomic<bool> cancelled_{false};

  // Set by the pump thread (Deliver) only, read in OnDone after the last Deliver.
  absl::Time start_ = absl::Now();
  absl::Time last_output_ = absl::InfinitePast();
  bool saw_output_ = false;
  engine::FinishReason reason_ = engine::FinishReason::kStop;
  int32_t generated_tokens_ = 0;
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
};

void GenerateReactor::Start(std::shared_ptr<GenerateReactor> self,
                            const v1::GenerateRequest& request) {
  self_ = std::move(self);
  service_->metrics_->StreamOpened();
  if (grpc::Status s = service_->Admit(context_); !s.ok()) return FinishOnce(s);
  if (!service_->admitting_.load()) {
    return FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "server is shutting down; retry on another replica"));
  }
  engine_ = service_->engine_.load(std::memory_order_acquire);
  const ServerLimits& limits = service_->options_.limits;
  const ModelCaps& caps = service_->caps_;

  if (absl::Status s = ValidateRequestId(request.request_id(), limits); !s.ok()) {
    return FinishOnce(ToGrpcStatus(s));
  }
  request_id_ = request.request_id().empty() ? service_->NewRequestId() : request.request_id();
  mapper_ = EventMapper(request_id_);

  tokenizer::PromptOptions prompt_options;
  absl::StatusOr<std::vector<tokenizer::Part>> parts =
      service_->PromptParts(request.parts(), request.messages(), &prompt_options);
  if (!parts.ok()) return FinishOnce(ToGrpcStatus(parts.status()));
  absl::StatusOr<sampling::SamplingParams> sp =
      ConvertSampling(request, limits, caps, absl::Uniform<uint64_t>(absl::BitGen()));
  if (!sp.ok()) return FinishOnce(ToGrpcStatus(sp.status()));

  // Tokenization decodes images and audio on this gRPC thread; the limits above bound its
  // cost (pixels, seconds) before it starts.
  absl::StatusOr<tokenizer::Prompt> prompt =
      engine_->prompt_builder().Build(*parts, prompt_options);
  if (!prompt.ok()) return FinishOnce(ToGrpcStatus(RelabelPromptError(prompt.status())));
  if (absl::Status s = CheckPromptTokens(prompt->ids.size(), limits, caps); !s.ok()) {
    return FinishOnce(ToGrpcStatus(s));
  }

  if (!service_->Register(request_id_)) {
    return FinishOnce(
        grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                     absl::StrCat("request_id: ", request_id_, " is already streaming")));
  }
  registered_ = true;

  engine::GenerateRequest req;
  req.request_id = request_id_;
  const size_t prompt_tokens = prompt->ids.size();
  req.prompt = *std::move(prompt);
  req.sampling = *std::move(sp);
  req.priority = request.priority();
  req.image_preview_every = request.image().preview_every();
  absl::StatusOr<std::unique_ptr<engine::RequestHandle>> handle = engine_->Submit(std::move(req));
  if (!handle.ok()) return FinishOnce(ToGrpcStatus(handle.status()));
  handle_ = *std::move(handle);

  Log(LogLevel::kInfo, "generate_start",
      {{"request_id", request_id_},
       {"peer", context_->peer()},
       {"parts", absl::StrCat(request.parts_size())},
       {"prompt_tokens", absl::StrCat(prompt_tokens)}});
  ready_.store(true, std::memory_order_release);
  worker_ = service_->pump_.Add(self_);
}

void GenerateReactor::ObserveOutput(engine::EventKind kind) {
  const bool output =
      kind == engine::EventKind::kTextDelta || kind == engine::EventKind::kImageStarted ||
      kind == engine::EventKind::kImageProgress || kind == engine::EventKind::kImageFinished ||
      kind == engine::EventKind::kAudioStarted || kind == engine::EventKind::kAudioFinished;
  if (!output) return;
  const absl::Time now = absl::Now();
  if (!saw_output_) {
    service_->metrics_->ObserveTimeToFirstToken(absl::ToDoubleSeconds(now - start_));
    saw_output_ = true;
  } else {
    service_->metrics_->ObserveInterTokenLatency(absl::ToDoubleSeconds(now - last_output_));
  }
  last_output_ = now;
}

void GenerateReactor::Deliver(engine::Event event) {
  if (cancelled_.load()) {
    // The client is gone: drain the engine's events without writing until its finish.
    if (event.kind == engine::EventKind::kFinished) {
      reason_ = engine::FinishReason::kCancelled;
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
    }
    return;
  }
  ObserveOutput(event.kind);
  if (event.kind == engine::EventKind::kUsage) {
    service_->metrics_->AddUsage(event.usage);
    for (const auto& u : event.usage) generated_tokens_ += u.generated_tokens;
  }
  const engine::EventKind kind = event.kind;
  mapper_.Map(event, &response_);
  ready_.store(false, std::memory_order_release);
  if (kind != engine::EventKind::kFinished) {
    StartWrite(&response_);
    return;
  }
  reason_ = event.reason;
  grpc::Status status = grpc::Status::OK;
  if (event.reason == engine::FinishReason::kError) {
    status = event.status.ok() ? grpc::Status(grpc::StatusCode::INTERNAL, "engine error")
                               : ToGrpcStatus(event.status);
  } else if (event.reason == engine::FinishReason::kCancelled && !service_->admitting_.load()) {
    // Cancelled by the server while draining (the client did not ask): say so, so it can
    // retry elsewhere.
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server is shutting down; the request was cancelled");
  }
  if (!finish_called_.exchange(true)) {
    final_code_ = status.error_code();
    StartWriteAndFinish(&response_, grpc::WriteOptions(), status);
  }
}

void GenerateReactor::OnWriteDone(bool ok) {
  if (!ok) {
    // The stream broke (client gone): stop the engine work and end the RPC.
    cancelled_.store(true);
    CancelEngine();
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "write failed: the client is gone"));
    return;
  }
  ready_.store(true, std::memory_order_release);
  service_->pump_.Wake(worker_);
}

void GenerateReactor::OnCancel() {
  // Client cancellation or a passed deadline. The engine ends the request with kFinished,
  // which the pump still delivers (Deliver drains without writing) and which finishes the
  // RPC; a write in flight completes with ok=false instead.
  cancelled_.store(true);
  CancelEngine();
}

void GenerateReactor::CancelEngine() {
  if (handle_ == nullptr || engine_ == nullptr) return;
  // NotFound means the request already finished: nothing left to free.
  engine_->Cancel(request_id_).IgnoreError();
}

void GenerateReactor::FinishOnce(const grpc::Status& status) {
  if (finish_called_.exchange(true)) return;
  ready_.store(false, std::memory_order_release);
  final_code_ = status.error_code();
  if (!status.ok() && handle_ == nullptr) {
    Log(LogLevel::kInfo, "generate_refused",
        {{"request_id", request_id_},
         {"code", CodeName(status.error_code())},
         {"message", status.error_message()}});
  }
  Finish(status);
}

void GenerateReactor::OnDone() {
  const std::string code = CodeName(final_code_);
  service_->metrics_->RequestDone("Generate", code);
  service_->metrics_->StreamClosed();
  if (handle_ != nullptr) {
    Log(LogLevel::kInfo, "generate_done",
        {{"request_id", request_id_},
         {"code", code},
         {"reason", ReasonName(reason_)},
         {"generated_tokens", absl::StrCat(generated_tokens_)},
         {"duration_ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - start_))}});
  }
  if (registered_) service_->Unregister(request_id_);
  // Last: may destroy this object (unless the pump still lists it).
  std::shared_ptr<GenerateReactor> keep = std::move(self_);
}

MotServiceImpl::MotServiceImpl(ServerMetrics* metrics, ServiceOptions options)
    : metrics_(metrics),
      options_(std::move(options)),
      pump_(options_.pump_threads),
      id_salt_(absl::Uniform<uint64_t>(absl::BitGen())) {}

MotServiceImpl::~MotServiceImpl() = default;

void MotServiceImpl::SetEngine(engine::Engine* engine, v1::ModelInfo info, int32_t max_seq_len,
                               ChatSetup chat) {
  info_ = std::move(info);
  chat_ = std::move(chat);
  info_.set_has_chat_template(chat_.chat_template.has_value());
  const ServerLimits& l = options_.limits;
  v1::ServerLimits* pl = info_.mutable_limits();
  pl->set_max_message_bytes(l.max_message_bytes);
  pl->set_max_parts(l.max_parts);
  pl->set_max_text_bytes(l.max_text_bytes);
  pl->set_max_media_bytes(l.max_media_bytes);
  pl->set_max_image_pixels(l.max_image_pixels);
  pl->set_max_audio_seconds(l.max_audio_seconds);
  pl->set_max_prompt_tokens(l.max_prompt_tokens > 0 ? l.max_prompt_tokens : max_seq_len);
  pl->set_max_new_tokens(l.max_new_tokens);
  pl->set_default_max_new_tokens(l.default_max_new_tokens);
  pl->set_max_stop_strings(l.max_stop_strings);
  caps_ = CapsOf(engine->prompt_builder(), max_seq_len);
  engine_.store(engine, std::memory_order_release);
}

grpc::Status MotServiceImpl::Admit(grpc::CallbackServerContext* context) const {
  if (options_.api_keys != nullptr) {
    const auto& md = context->client_metadata();
    auto it = md.find("authorization");
    absl::string_view value;
    if (it != md.end()) value = absl::string_view(it->second.data(), it->second.size());
    if (absl::Status s = options_.api_keys->Check(value); !s.ok()) return ToGrpcStatus(s);
  }
  if (!ready()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is loading");
  return grpc::Status::OK;
}

std::string MotServiceImpl::NewRequestId() {
  return absl::StrCat("req-", absl::Hex(id_salt_ & 0xffffff, absl::kZeroPad6), "-",
                      next_id_.fetch_add(1));
}

bool MotServiceImpl::Register(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(live_mu_);
  return live_.insert(request_id).second;
}

void MotServiceImpl::Unregister(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(live_mu_);
  live_.erase(request_id);
}

int64_t MotServiceImpl::open_streams() const {
  std::lock_guard<std::mutex> lock(live_mu_);
  return static_cast<int64_t>(live_.size());
}

void MotServiceImpl::CancelAll() {
  engine::Engine* engine = engine_.load(std::memory_order_acquire);
  if (engine == nullptr) return;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    ids.assign(live_.begin(), live_.end());
  }
  for (const std::string& id : ids) engine->Cancel(id).IgnoreError();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* MotServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto reactor = std::make_shared<GenerateReactor>(this, context);
  GenerateReactor* raw = reactor.get();
  raw->Start(std::move(reactor), *request);
  return raw;
}

absl::StatusOr<std::vector<tokenizer::Part>> MotServiceImpl::PromptParts(
    const google::protobuf::RepeatedPtrField<v1::Part>& parts,
    const google::protobuf::RepeatedPtrField<v1::ChatMessage>& messages,
    tokenizer::PromptOptions* options) const {
  if (messages.empty()) return ConvertParts(parts, options_.limits, caps_);
  if (!parts.empty()) {
    return absl::InvalidArgumentError("messages: give parts or messages, not both");
  }
  // The rendered text holds the template's own special tokens (and its <bos>), as
  // transformers' apply_chat_template(tokenize=True) reads it.
  options->add_bos = false;
  options->parse_special = true;
  return RenderMessages(messages, options_.limits, chat_);
}

grpc::ServerUnaryReactor* MotServiceImpl::FinishUnary(grpc::CallbackServerContext* context,
                                                      const char* method,
                                                      const grpc::Status& status) {
  metrics_->RequestDone(method, CodeName(status.error_code()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* MotServiceImpl::Tokenize(grpc::CallbackServerContext* context,
                                                   const v1::TokenizeRequest* request,
                                                   v1::TokenizeResponse* response) {
  if (grpc::Status s = Admit(context); !s.ok()) return FinishUnary(context, "Tokenize", s);
  engine::Engine* engine = engine_.load(std::memory_order_acquire);
  tokenizer::PromptOptions po;
  po.add_bos = request->add_bos();
  absl::StatusOr<std::vector<tokenizer::Part>> parts =
      PromptParts(request->parts(), request->messages(), &po);
  if (!parts.ok()) return FinishUnary(context, "Tokenize", ToGrpcStatus(parts.status()));
  absl::StatusOr<tokenizer::Prompt> prompt = engine->prompt_builder().Build(*parts, po);
  if (!prompt.ok()) {
    return FinishUnary(context, "Tokenize", ToGrpcStatus(RelabelPromptError(prompt.status())));
  }
  response->mutable_token_ids()->Add(prompt->ids.begin(), prompt->ids.end());
  for (uint8_t t : prompt->towers) response->add_towers(t);
  return FinishUnary(context, "Tokenize", grpc::Status::OK);
}

grpc::ServerUnaryReactor* MotServiceImpl::Detokenize(grpc::CallbackServerContext* context,
                                                     const v1::DetokenizeRequest* request,
                                                     v1::DetokenizeResponse* response) {
  if (grpc::Status s = Admit(context); !s.ok()) return FinishUnary(context, "Detokenize", s);
  engine::Engine* engine = engine_.load(std::memory_order_acquire);
  if (request->token_ids_size() > options_.limits.max_detokenize_ids) {
    return FinishUnary(
        context, "Detokenize",
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("token_ids: ", request->token_ids_size(), " ids, the limit is ",
                                  options_.limits.max_detokenize_ids)));
  }
  for (int i = 0; i < request->token_ids_size(); ++i) {
    const int32_t id = request->token_ids(i);
    if (id < 0 || id >= caps_.vocab_size) {
      return FinishUnary(
          context, "Detokenize",
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("token_ids[", i, "]: ", id, " is outside the vocabulary [0, ",
                                    caps_.vocab_size, ")")));
    }
  }
  std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
  absl::StatusOr<std::vector<tokenizer::Part>> parts = engine->prompt_builder().ToParts(ids);
  if (!parts.ok()) {
    // ToParts names "output token i"; the API calls them token_ids[i].
    return FinishUnary(context, "Detokenize",
                       grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    absl::StrCat("token_ids: ", parts.status().message())));
  }
  for (tokenizer::Part& p : *parts) {
    v1::Part* out = response->add_parts();
    switch (p.modality) {
      case tokenizer::Modality::kText:
        out->set_text(std::move(p.data));
        break;
      case tokenizer::Modality::kImage:
        out->mutable_image()->set_data(std::move(p.data));
        out->mutable_image()->set_mime_type("image/png");
        break;
      case tokenizer::Modality::kAudio:
        out->mutable_audio()->set_data(std::move(p.data));
        out->mutable_audio()->set_mime_type("audio/wav");
        break;
    }
  }
  return FinishUnary(context, "Detokenize", grpc::Status::OK);
}

grpc::ServerUnaryReactor* MotServiceImpl::GetModelInfo(grpc::CallbackServerContext* context,
                                                       const v1::GetModelInfoRequest* request,
                                                       v1::ModelInfo* response) {
  if (grpc::Status s = Admit(context); !s.ok()) return FinishUnary(context, "GetModelInfo", s);
  *response = info_;
  return FinishUnary(context, "GetModelInfo", grpc::Status::OK);
}

}  // namespace mot::server
