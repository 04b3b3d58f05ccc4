// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// EngineImpl: the loop thread that owns the scheduler, the paged KV cache and the model,
// and repeats schedule -> execute -> sample -> emit (vLLM v1's EngineCore.step). Requests
// and cancellations reach it through the Inbox, the only state shared with other threads
// besides the per-request EventStreams and the stats snapshot.
#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/backend/buffer.h"
#include "engine/core/status_macros.h"
#include "engine/encode_pool.h"
#include "engine/event_stream.h"
#include "engine/kv/paged_kv_cache.h"
#include "engine/model/mot_model.h"
#include "engine/request_state.h"
#include "engine/scheduler/scheduler.h"
#include "model_loaders/checkpoint.h"

namespace mot::engine {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "unknown";
}

namespace {

// What other threads hand to the loop. Shared (shared_ptr) with every request's stream so
// that a handle dropped after the engine is gone finds a closed inbox, not a dangling one.
struct Inbox {
  struct Command {
    std::shared_ptr<scheduler::SequenceGroup> group;  // a submit when set
    std::unique_ptr<RequestState> state;
    std::string cancel_id;  // a cancel otherwise
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Command> commands;
  absl::flat_hash_set<std::string> live_ids;  // submitted and not yet finished
  int32_t pending_submits = 0;
  int32_t queued = 0;  // the scheduler's queue depth after the last step
  bool closed = false;

  // Queues a cancel; false when the id is not live or the engine is gone.
  bool PostCancel(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed || !live_ids.contains(id)) return false;
      Command c;
      c.cancel_id = id;
      commands.push_back(std::move(c));
    }
    cv.notify_one();
    return true;
  }
};

absl::Status CheckPrompt(const tokenizer::UnifiedVocab& vocab, const tokenizer::Prompt& prompt,
                         absl::string_view field, int32_t max_seq_len) {
  if (prompt.ids.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".ids: the prompt is empty"));
  }
  if (static_cast<int64_t>(prompt.ids.size()) >= max_seq_len) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".ids: ", prompt.ids.size(),
                                                   " tokens leave no room to generate within "
                                                   "max_seq_len=",
                                                   max_seq_len));
  }
  if (!prompt.towers.empty() && prompt.towers.size() != prompt.ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".towers: ", prompt.towers.size(),
                                                   " towers for ", prompt.ids.size(), " ids"));
  }
  for (size_t i = 0; i < prompt.ids.size(); ++i) {
    const int32_t id = prompt.ids[i];
    if (!vocab.InRange(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".ids[", i, "]: ", id, " is outside the vocabulary [0, ", vocab.size(), ")"));
    }
    if (!prompt.towers.empty() && prompt.towers[i] != vocab.TowerOf(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".towers[", i, "]: modality ", int{prompt.towers[i]}, " disagrees with id ", id,
          ", which belongs to modality ", int{vocab.TowerOf(id)}));
    }
  }
  if (!prompt.positions.empty()) {
    for (size_t i = 0; i < prompt.positions.size(); ++i) {
      if (prompt.positions[i] != static_cast<int32_t>(i)) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".positions[", i, "]: ", prompt.positions[i], ", expected ", i,
                         " (a request's prompt starts at position 0)"));
      }
    }
  }
  return absl::OkStatus();
}

scheduler::Sequence MakeSequence(const tokenizer::UnifiedVocab& vocab,
                                 const tokenizer::Prompt& prompt) {
  scheduler::Sequence s;
  if (prompt.ids.empty()) {
    s.tokens = {vocab.bos_id()};
  } else {
    s.tokens = prompt.ids;
  }
  s.towers.reserve(s.tokens.size());
  for (int32_t id : s.tokens) s.towers.push_back(vocab.TowerOf(id));
  return s;
}

class EngineImpl final : public Engine {
 public:
  using StepPlan = scheduler::StepPlan;

  EngineImpl(const EngineOptions& options, const Checkpoint* checkpoint)
      : options_(options), checkpoint_(checkpoint), inbox_(std::make_shared<Inbox>()) {}

  ~EngineImpl() override {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      inbox_->closed = true;
    }
    inbox_->cv.notify_all();
    if (loop_.joinable()) loop_.join();
    encoder_.reset();  // runs every queued encode, so no stream waits forever
  }

  absl::Status Init(backend::Backend* backend);

  absl::StatusOr<std::unique_ptr<RequestHandle>> Submit(GenerateRequest request) override;
  absl::Status Cancel(const std::string& request_id) override;
  EngineStats Stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }
  const tokenizer::PromptBuilder& prompt_builder() const override { return *builder_; }

 private:
  void Loop();
  // Runs one step; false when there was nothing to run.
  bool Step();
  void Apply(Inbox::Command cmd);
  // Ends a live request: its last events, its blocks, its id.
  void Finish(RequestState* state, FinishReason reason, absl::Status status = absl::OkStatus());
  void UpdateStats(const StepPlan* plan);
  void CheckInvariants();
  absl::Status CheckFits(const scheduler::SequenceGroup& group) const;
  // The KV cache's byte budget (EngineOptions.kv_budget_bytes, device_memory_fraction).
  absl::StatusOr<int64_t> KvBudget(backend::Backend* backend) const;

  EngineOptions options_;
  const Checkpoint* checkpoint_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<model::MotModel> model_;
  std::unique_ptr<tokenizer::PromptBuilder> builder_;
  std::unique_ptr<kv::PagedKvCache> cache_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<EncodePool> encoder_;
  std::vector<int32_t> pool_blocks_;
  std::thread loop_;

  // Loop thread only.
  absl::flat_hash_map<std::string, std::unique_ptr<RequestState>> states_;
  std::vector<float> logits_;
  std::vector<float*> rows_;

  mutable std::mutex stats_mu_;
  EngineStats stats_;
};

absl::Status EngineImpl::Init(backend::Backend* backend) {
  const MotConfig& config = checkpoint_->config();
  const int towers = config.num_towers();
  auto bad = [](absl::string_view field, const auto&... why) {
    return absl::InvalidArgumentError(absl::StrCat("EngineOptions.", field, ": ", why...));
  };
  if (options_.block_size < 1) return bad("block_size", "must be >= 1, got ", options_.block_size);
  if (options_.max_step_tokens < 1) {
    return bad("max_step_tokens", "must be >= 1, got ", options_.max_step_tokens);
  }
  if (options_.max_running < 1)
    return bad("max_running", "must be >= 1, got ", options_.max_running);
  if (options_.max_queue < 1) return bad("max_queue", "must be >= 1, got ", options_.max_queue);
  if (options_.encode_threads < 1) {
    return bad("encode_threads", "must be >= 1, got ", options_.encode_threads);
  }
  if (!options_.pool_dtypes.empty() && static_cast<int>(options_.pool_dtypes.size()) != towers) {
    return bad("pool_dtypes", "has ", options_.pool_dtypes.size(), " entries for ", towers,
               " towers");
  }
  auto dtype_of = [&](int m) {
    return options_.pool_dtypes.empty() ? DType::kF32 : options_.pool_dtypes[m];
  };

  MOT_ASSIGN_OR_RETURN(builder_, tokenizer::PromptBuilder::FromCheckpoint(*checkpoint_));
  MOT_ASSIGN_OR_RETURN(model_, model::MotModel::Create(checkpoint_, backend));

  kv::PagedKvCacheConfig kv;
  kv.num_layers = config.n_layers;
  kv.kv_dim = config.kv_dim();
  kv.block_size = options_.block_size;
  kv.max_seqs = options_.max_running;
  kv.prefix_caching = options_.prefix_caching;
  if (!options_.blocks_per_pool.empty()) {
    if (static_cast<int>(options_.blocks_per_pool.size()) != towers) {
      return bad("blocks_per_pool", "has ", options_.blocks_per_pool.size(), " entries for ",
                 towers, " towers");
    }
    for (int m = 0; m < towers; ++m) {
      kv.pools.push_back(kv::PoolConfig{options_.blocks_per_pool[m], dtype_of(m)});
    }
  } else {
    if (!options_.pool_shares.empty() && static_cast<int>(options_.pool_shares.size()) != towers) {
      return bad("pool_shares", "has ", options_.pool_shares.size(), " entries for ", towers,
                 " towers");
    }
    std::vector<kv::PoolShare> shares;
    for (int m = 0; m < towers; ++m) {
      shares.push_back(
          kv::PoolShare{options_.pool_shares.empty() ? 1.0 : options_.pool_shares[m], dtype_of(m)});
    }
    MOT_ASSIGN_OR_RETURN(const int64_t budget, KvBudget(backend));
    absl::StatusOr<std::vector<kv::PoolConfig>> pools =
        kv::PagedKvCache::SplitBudget(budget, shares, kv.num_layers, kv.kv_dim, kv.block_size);
    if (!pools.ok()) return Annotate(pools.status(), "EngineOptions.kv_budget_bytes: ");
    kv.pools = *std::move(pools);
  }
  for (const kv::PoolConfig& p : kv.pools) pool_blocks_.push_back(p.num_blocks);
  kv.storage = backend::KvStorageOn(backend);
  MOT_ASSIGN_OR_RETURN(cache_, kv::PagedKvCache::Create(kv));

  scheduler::SchedulerConfig sc;
  sc.max_step_tokens = options_.max_step_tokens;
  sc.max_running = options_.max_running;
  sc.max_queue = options_.max_queue;
  scheduler_ = std::make_unique<scheduler::Scheduler>(sc, &cache_->blocks());
  encoder_ = std::make_unique<EncodePool>(options_.encode_threads);
  UpdateStats(nullptr);
  loop_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EngineImpl::KvBudget(backend::Backend* backend) const {
  const int64_t cap = options_.kv_budget_bytes;
  if (!backend->device_memory()) return cap;
  if (options_.device_memory_fraction <= 0 || options_.device_memory_fraction > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("EngineOptions.device_memory_fraction: must be in (0, 1], got ",
                     options_.device_memory_fraction));
  }
  absl::StatusOr<backend::Backend::MemoryInfo> mem = backend->QueryMemory();
  if (!mem.ok()) {
    if (cap > 0) return cap;
    return Annotate(mem.status(),
                    "EngineOptions.kv_budget_bytes: 0 needs the device's free "
                    "memory: ");
  }
  // One step's activations at most: the model's scratch rows, the wanted logits, and the
  // backend's own GEMM scratch; plus a fixed margin for the library's workspaces.
  const MotConfig& c = checkpoint_->config();
  const int64_t rows = options_.max_step_tokens;
  const int64_t row_floats =
      3 * int64_t{c.dim} + c.q_dim() + 2 * c.kv_dim() + c.q_dim() + 2 * int64_t{c.ffn_hidden};
  const int64_t reserve = rows * row_floats * 4 + rows * 2 * int64_t{c.ffn_hidden} * 2 +
                          int64_t{options_.max_running} * c.vocab_size * 4 + (int64_t{512} << 20);
  const int64_t keep = static_cast<int64_t>((1 - options_.device_memory_fraction) *
                                            static_cast<double>(mem->total_bytes));
  const int64_t avail = mem->free_bytes - keep - reserve;
  if (avail <= 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat(std::string(backend->name()), ": the weights leave ", mem->free_bytes,
                     " bytes free of ", mem->total_bytes, "; one step's activations need ", reserve,
                     " and ", keep, " are kept free (device_memory_fraction ",
                     options_.device_memory_fraction, "): nothing is left for the KV cache"));
  }
  return cap > 0 ? std::min(cap, avail) : avail;
}

absl::Status EngineImpl::CheckFits(const scheduler::SequenceGroup& group) const {
  std::vector<int32_t> need(pool_blocks_.size(), 0);
  for (const scheduler::Sequence& s : group.seqs) {
    for (const kv::Segment& seg : kv::BlockManager::Segments(s.towers, options_.block_size)) {
      ++need[seg.tower];
    }
  }
  for (size_t m = 0; m < need.size(); ++m) {
    if (need[m] > pool_blocks_[m]) {
      return absl::ResourceExhaustedError(
          absl::StrCat("prompt: needs ", need[m], " KV blocks of pool ", m, " (",
                       checkpoint_->config().modalities[m], "), which holds only ", pool_blocks_[m],
                       " in all; the prompt can never run on this server"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RequestHandle>> EngineImpl::Submit(GenerateRequest request) {
  const tokenizer::UnifiedVocab& vocab = builder_->vocab();
  const int32_t max_seq_len = checkpoint_->config().max_seq_len;
  if (request.request_id.empty()) {
    return absl::InvalidArgumentError("request_id: must not be empty");
  }
  MOT_RETURN_IF_ERROR(CheckPrompt(vocab, request.prompt, "prompt", max_seq_len));
  if (request.image_preview_every < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image_preview_every: must be >= 0, got ", request.image_preview_every));
  }
  auto group = std::make_shared<scheduler::SequenceGroup>();
  group->id = request.request_id;
  group->priority = request.priority;
  group->seqs.push_back(MakeSequence(vocab, request.prompt));
  if (request.sampling.uses_guidance() || !request.unconditional_prompt.ids.empty()) {
    for (auto [prompt, field] :
         {std::pair{&request.image_condition_prompt, "image_condition_prompt"},
          std::pair{&request.unconditional_prompt, "unconditional_prompt"}}) {
      if (!prompt->ids.empty())
        MOT_RETURN_IF_ERROR(CheckPrompt(vocab, *prompt, field, max_seq_len));
      group->seqs.push_back(MakeSequence(vocab, *prompt));
    }
  }
  MOT_RETURN_IF_ERROR(CheckFits(*group));

  auto stream = std::make_shared<EventStream>();
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<RequestState> state,
                       RequestState::Create(request, builder_.get(), stream, encoder_.get()));
  group->user = state.get();
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    if (inbox_->closed) return absl::UnavailableError("engine: shutting down");
    if (inbox_->live_ids.contains(request.request_id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("request_id: '", request.request_id, "' is already in use"));
    }
    if (inbox_->queued + inbox_->pending_submits >= options_.max_queue) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full: ", options_.max_queue, " requests are waiting; retry later"));
    }
    inbox_->live_ids.insert(request.request_id);
    ++inbox_->pending_submits;
    Inbox::Command c;
    c.group = std::move(group);
    c.state = std::move(state);
    inbox_->commands.push_back(std::move(c));
  }
  inbox_->cv.notify_one();
  // A reader that walks away cancels its request.
  stream->SetOnAbandon([inbox = std::weak_ptr<Inbox>(inbox_), id = request.request_id] {
    if (std::shared_ptr<Inbox> in = inbox.lock()) in->PostCancel(id);
  });
  return std::make_unique<StreamHandle>(request.request_id, std::move(stream));
}

absl::Status EngineImpl::Cancel(const std::string& request_id) {
  if (!inbox_->PostCancel(request_id)) {
    return absl::NotFoundError(absl::StrCat("request_id: no live request '", request_id, "'"));
  }
  return absl::OkStatus();
}

void EngineImpl::Apply(Inbox::Command cmd) {
  if (cmd.group != nullptr) {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      --inbox_->pending_submits;
    }
    RequestState* state = cmd.state.get();
    const std::string id = cmd.group->id;
    states_[id] = std::move(cmd.state);
    if (absl::Status s = scheduler_->Add(std::move(cmd.group)); !s.ok()) {
      Finish(state, FinishReason::kError, s);
    }
    return;
  }
  auto it = states_.find(cmd.cancel_id);
  if (it == states_.end()) return;  // finished meanwhile
  Finish(it->second.get(), FinishReason::kCancelled);
}

void EngineImpl::Finish(RequestState* state, FinishReason reason, absl::Status status) {
  const std::string id = state->id();
  scheduler_->Remove(id);
  // The id is free before the reader can see the finish: a client that resubmits it (or
  // cancels it) after the last event finds it gone.
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    inbox_->live_ids.erase(id);
  }
  state->Finish(reason, std::move(status));
  states_.erase(id);
}

void EngineImpl::Loop() {
  bool idle = true;
  for (;;) {
    std::vector<Inbox::Command> commands;
    bool closed = false;
    {
      std::unique_lock<std::mutex> lock(inbox_->mu);
      if (idle) {
        // Nothing runnable: sleep until a command arrives (bounded, in case blocks free up
        // through a path that posts nothing).
        inbox_->cv.wait_for(lock, std::chrono::milliseconds(states_.empty() ? 1000 : 2),
                            [&] { return inbox_->closed || !inbox_->commands.empty(); });
      }
      commands.swap(inbox_->commands);
      closed = inbox_->closed;
    }
    for (Inbox::Command& c : commands) Apply(std::move(c));
    if (!commands.empty()) UpdateStats(nullptr);  // cancellations free blocks at once
    if (closed) {
      while (!states_.empty()) {
        Finish(states_.begin()->second.get(), FinishReason::kCancelled,
               absl::CancelledError("engine shut down"));
      }
      return;
    }
    idle = !Step();
  }
}

bool EngineImpl::Step() {
  if (states_.empty()) return false;
  StepPlan plan = scheduler_->Schedule();
  // A sequence that grew past what its pools can ever hold ends here: its output so far
  // stands, like a request that reached max_seq_len.
  for (scheduler::SequenceGroup* g : plan.stalled) {
    Finish(static_cast<RequestState*>(g->user), FinishReason::kLength);
  }
  if (plan.empty()) {
    UpdateStats(nullptr);
    return false;
  }
  const int64_t v = checkpoint_->config().vocab_size;
  const int64_t wanted = plan.batch.NumWanted();
  if (static_cast<int64_t>(logits_.size()) < wanted * v) {
    logits_.resize(static_cast<size_t>(wanted * v));
  }
  absl::Status s = model_->Forward(plan.batch, cache_.get(), logits_.data());
  scheduler_->OnStepComplete(plan);
  if (!s.ok()) {
    // A model failure is the engine's fault, not the request's: fail what ran, keep serving.
    absl::flat_hash_set<RequestState*> failed;
    for (const scheduler::ScheduledChunk& c : plan.chunks) {
      failed.insert(static_cast<RequestState*>(c.group->user));
    }
    for (RequestState* st : failed) {
      Finish(st, FinishReason::kError,
             absl::InternalError(absl::StrCat("forward step: ", s.message())));
    }
    UpdateStats(&plan);
    return true;
  }
  // Prefix-cache hits of newly admitted requests, for their usage. (Before sampling: a
  // group that finishes below is freed at once, and plan.chunks would point at it.)
  for (const scheduler::ScheduledChunk& c : plan.chunks) {
    static_cast<RequestState*>(c.group->user)
        ->set_cached_prompt_tokens(c.group->prompt_cached_tokens);
  }
  // Logits rows follow the chunks that want them, in chunk order.
  absl::flat_hash_map<const scheduler::SequenceGroup*, std::array<int32_t, 3>> row_of;
  int32_t row = 0;
  for (const scheduler::ScheduledChunk& c : plan.chunks) {
    if (c.want_logits) row_of[c.group][static_cast<size_t>(c.member)] = row++;
  }
  const tokenizer::UnifiedVocab& vocab = builder_->vocab();
  const int32_t max_seq_len = checkpoint_->config().max_seq_len;
  int64_t generated = 0;
  for (scheduler::SequenceGroup* g : plan.sample) {
    auto* state = static_cast<RequestState*>(g->user);
    const std::array<int32_t, 3>& rows = row_of[g];
    rows_.clear();
    for (size_t m = 0; m < g->seqs.size(); ++m) rows_.push_back(logits_.data() + rows[m] * v);
    absl::StatusOr<int32_t> token = state->Sample(rows_);
    if (!token.ok()) {
      Finish(state, FinishReason::kError, token.status());
      continue;
    }
    ++generated;
    const int32_t length = static_cast<int32_t>(g->seqs[0].tokens.size()) + 1;
    if (std::optional<FinishReason> done = state->OnToken(*token, length, max_seq_len)) {
      Finish(state, *done);
      continue;
    }
    scheduler_->AppendToken(g, *token, vocab.TowerOf(*token));
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.generated_tokens += generated;
  }
  UpdateStats(&plan);
  if (options_.check_invariants) CheckInvariants();
  return true;
}

void EngineImpl::CheckInvariants() {
  absl::Status s = cache_->blocks().CheckInvariants();
  if (s.ok()) s = scheduler_->CheckInvariants();
  if (s.ok()) return;
  std::lock_guard<std::mutex> lock(stats_mu_);
  if (stats_.invariant_error.empty()) stats_.invariant_error = std::string(s.message());
}

void EngineImpl::UpdateStats(const StepPlan* plan) {
  const kv::BlockManager& blocks = cache_->blocks();
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.pools.resize(static_cast<size_t>(blocks.num_pools()));
  for (int32_t p = 0; p < blocks.num_pools(); ++p) {
    const kv::PoolUsage u = blocks.Usage(p);
    stats_.pools[p] = PoolStats{u.total, u.used, u.cached, u.free};
  }
  stats_.running = scheduler_->running();
  stats_.preemptions = scheduler_->preemptions();
  stats_.prefix_queries = blocks.prefix_queries();
  stats_.prefix_hits = blocks.prefix_hits();
  if (plan != nullptr) {
    ++stats_.steps;
    stats_.last_step_rows = static_cast<int32_t>(plan->batch.rows.size());
    for (const StepRow& r : plan->batch.rows) {
      if (r.tower < 3) ++stats_.tokens_per_tower[r.tower];
    }
  }
  int32_t pending = 0;
  {
    std::lock_guard<std::mutex> inbox_lock(inbox_->mu);
    inbox_->queued = scheduler_->queue_depth();
    pending = inbox_->pending_submits;
  }
  stats_.queue_depth = scheduler_->queue_depth() + pending;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options,
                                                       const Checkpoint* checkpoint,
                                                       backend::Backend* backend) {
  if (checkpoint == nullptr || backend == nullptr) {
    return absl::InvalidArgumentError("Engine::Create: checkpoint and backend must be non-null");
  }
  auto engine = std::make_unique<EngineImpl>(options, checkpoint);
  MOT_RETURN_IF_ERROR(engine->Init(backend));
  return engine;
}

}  // namespace mot::engine
