// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/engine.h
// Engine: the batched MoT engine, the one thing the server and the trainer's evaluation
// call. Many requests are decoded together (continuous batching over a paged KV cache with
// one block pool per modality); each request streams its own ordered events.
//
//   auto engine = Engine::Create(options, &checkpoint, backend);   // starts the loop thread
//   GenerateRequest req;
//   req.request_id = "r1";
//   req.prompt = builder.Build(parts).value();                      // ids + towers
//   req.sampling.allowed_modalities = sampling::kText | sampling::kImage;
//   auto handle = (*engine)->Submit(std::move(req));                // or an error naming a field
//   while (auto event = (*handle)->Next()) { ... if (event->kind == EventKind::kFinished) break; }
//
// Threads: one loop thread owns the scheduler, the KV cache and the model and repeats
// schedule -> execute -> sample -> emit. Submit, Cancel and Stats may be called from any
// thread; they talk to the loop only through thread-safe queues. PNG and WAV encoding runs
// on a separate worker pool, never on the loop thread; events of one request still arrive in
// order. Output for a request depends only on the request (its prompt, params and seed),
// never on what else is in the batch, on prefix-cache hits or on preemption.
#ifndef MOT_ENGINE_ENGINE_H_
#define MOT_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/prompt_builder.h"

namespace mot::backend {
class Backend;
}
namespace mot {
class Checkpoint;
}

namespace mot::engine {

struct EngineOptions {
  // KV cache: positions per block; blocks per modality pool, either given per tower
  // (blocks_per_pool, one entry per tower) or derived from a byte budget split by shares
  // (kv_budget_bytes with pool_shares, one per tower; equal shares when empty).
  int32_t block_size = 16;
  std::vector<int32_t> blocks_per_pool;
  // On a device backend (Backend::device_memory) 0 means: whatever the weights leave of the
  // device's memory, less (1 - device_memory_fraction) of its total and a reserve for one
  // step's activations; > 0 caps that. On host memory it must be > 0.
  int64_t kv_budget_bytes = int64_t{256} << 20;
  double device_memory_fraction = 0.9;
  std::vector<double> pool_shares;
  // Storage dtype of K/V per pool ("f32", "bf16", "f16"); empty: f32 everywhere.
  std::vector<DType> pool_dtypes;
  bool prefix_caching = true;

  // Scheduling: rows per step (prefill chunks + decode tokens), running sequences, and
  // the bounded admission queue (Submit returns ResourceExhausted beyond it).
  int32_t max_step_tokens = 256;
  int32_t max_running = 64;
  int32_t max_queue = 1024;

  // Threads that encode PNG / WAV.
  int32_t encode_threads = 1;

  // For tests: after every step, check the block manager's and the scheduler's invariants
  // (O(blocks + sequences)); the first violation is kept in EngineStats::invariant_error.
  bool check_invariants = false;
};

struct GenerateRequest {
  std::string request_id;    // unique among live requests
  tokenizer::Prompt prompt;  // ids and towers (positions must be 0..n-1)
  // Guidance prompts: the image-condition-only prompt and the unconditional prompt (e.g.
  // just <bos>); empty means <bos> alone. The linked guidance rows run when
  // sampling.uses_guidance(), or when an unconditional prompt is given (so that scales of
  // 1 can be checked to give the plain conditional tokens).
  tokenizer::Prompt image_condition_prompt;
  tokenizer::Prompt unconditional_prompt;
  sampling::SamplingParams sampling;
  int32_t priority = 0;  // higher runs first; FCFS within a priority
  // Optional: stream an image preview PNG every this many codes (0: none).
  int32_t image_preview_every = 0;
};

enum class EventKind {
  kTextDelta,      // text: whole UTF-8 characters only
  kImageStarted,   // total: codes the image will have
  kImageProgress,  // done / total codes; preview_png when previews were asked for
  kImageFinished,  // codes and png
  kAudioStarted,
  kAudioFinished,  // codes and wav
  kUsage,          // just before kFinished
  kFinished,       // the last event: reason (and status for kError)
};

enum class FinishReason { kStop, kLength, kCancelled, kError };
const char* FinishReasonName(FinishReason r);

struct ModalityUsage {
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Event {
  EventKind kind = EventKind::kTextDelta;
  std::string text;                           // kTextDelta
  int32_t done = 0, total = 0;                // kImageStarted / kImageProgress
  std::vector<int32_t> token_ids;             // kImageFinished / kAudioFinished: the unified ids
  std::string data;                           // PNG (image) or WAV (audio) bytes; preview PNG
  ModalityUsage usage[3];                     // kUsage: [text, image, audio]
  FinishReason reason = FinishReason::kStop;  // kFinished
  absl::Status status;                        // kFinished with kError
};

// The receiving end of one request's events. Thread-safe; one reader.
class RequestHandle {
 public:
  virtual ~RequestHandle() = default;
  virtual const std::string& request_id() const = 0;
  // Blocks until the next event; nullopt after kFinished was returned.
  virtual std::optional<Event> Next() = 0;
  // As Next, but gives up at `deadline` (nullopt then, with timed_out set).
  virtual std::optional<Event> NextUntil(absl::Time deadline, bool* timed_out) = 0;
};

struct PoolStats {
  int32_t blocks_total = 0, blocks_used = 0, blocks_cached = 0, blocks_free = 0;
};

struct EngineStats {
  std::vector<PoolStats> pools;  // per tower
  int32_t queue_depth = 0;       // waiting to be admitted (incl. preempted)
  int32_t running = 0;           // sequences with blocks
  int32_t last_step_rows = 0;    // rows of the last step
  int64_t steps = 0;
  int64_t tokens_per_tower[3] = {0, 0, 0};  // processed rows per tower since start
  int64_t generated_tokens = 0;
  int64_t prefix_queries = 0, prefix_hits = 0;  // prompt tokens looked up / reused
  int64_t preemptions = 0;
  std::string invariant_error;  // with EngineOptions::check_invariants; empty when none
};

class Engine {
 public:
  // Loads the model and its tokenizers from `checkpoint` (borrowed; must outlive the
  // engine) onto `backend` (borrowed), sizes the KV pools and starts the loop thread.
  // InvalidArgument naming the option for a bad option.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options,
                                                        const Checkpoint* checkpoint,
                                                        backend::Backend* backend);
  virtual ~Engine() = default;  // cancels what is left and joins the loop thread

  // Admits a request, or fails at once naming the field: InvalidArgument for token ids out
  // of range, towers that disagree with the ids, bad sampling params or contradictory
  // limits; AlreadyExists for a live duplicate request_id; ResourceExhausted when the queue
  // is full or the prompt can never fit its pools. Other requests are not affected.
  virtual absl::StatusOr<std::unique_ptr<RequestHandle>> Submit(GenerateRequest request) = 0;

  // Cancels a live request at any moment (queued, prefilling, generating): its blocks are
  // freed at once and its stream ends with kFinished/kCancelled. NotFound for unknown ids.
  virtual absl::Status Cancel(const std::string& request_id) = 0;

  virtual EngineStats Stats() const = 0;
  virtual const tokenizer::PromptBuilder& prompt_builder() const = 0;
};

}  // namespace mot::engine

#endif  // MOT_ENGINE_ENGINE_H_
