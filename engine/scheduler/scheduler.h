// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/scheduler/scheduler.h
// Scheduler: continuous batching (DESIGN.md "Scheduling and sampling"). One Schedule() call
// plans one forward step: which sequences run and with how many tokens, within a token
// budget; decode tokens first, then prefill chunks; FCFS within priority (higher first);
// preemption by recomputation when a pool runs out of blocks. It reserves KV slots through
// the BlockManager and knows nothing of the model, so it is tested with a fake executor.
//
// A SequenceGroup is one request: one sequence, or linked sequences (classifier-free
// guidance: the conditional, the image-condition-only and the unconditional one) that are
// admitted, preempted, cancelled and sampled together. A group samples only in a step in
// which every member's newest token is in the batch with its logits wanted.
//
// The engine's step:  plan = Schedule();  run plan.batch;  OnStepComplete(plan);
//                     for each group in plan.sample: sample a token, then AppendToken or
//                     Remove; for each group in plan.stalled: finish it (Remove).
// Thread rule: not thread-safe; the engine thread owns it.
//
// Policy, step by step (vLLM v1's scheduler with linked groups):
//   1. Decode: every running group whose members each have exactly one uncomputed token
//      (their newest) runs one row per member, in priority/arrival order, while the budget
//      lasts. When a pool runs out, the lowest-priority newest running group that comes
//      after it in that order is preempted (all its blocks freed, back to the queue with its
//      arrival kept) and the reservation retried; with no such group it waits this step.
//   2. Prefill of running groups, same order and same preemption rule (it may preempt a
//      lower-ordered group scheduled in step 1, whose rows are then withdrawn).
//   3. Admission from the queue head while budget, sequence slots (max_running and the
//      block manager's max_seqs) and blocks for the first chunk allow; strict FCFS within
//      priority: a head that cannot be admitted stops admission (it never preempts). None
//      in a step that preempted or left a running group waiting for blocks. On admission
//      each member takes its cached prefix (BlockManager::AppendCachedPrefix).
//   A chunk is min(uncomputed tokens, budget left). A multi-member group either finishes
//   every member's prefill in one step (and samples) or holds each member's last token
//   back, so the final tokens of all members run together in a later step.
//
// KV slots are reserved (BlockManager::Append) only for scheduled tokens, so between steps
// every running sequence has NumTokens == NumComputed == Sequence::num_computed.
#ifndef MOT_ENGINE_SCHEDULER_SCHEDULER_H_
#define MOT_ENGINE_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/core/step_batch.h"
#include "engine/kv/block_manager.h"

namespace mot::scheduler {

struct SchedulerConfig {
  int32_t max_step_tokens = 256;  // rows per step (decode tokens + prefill chunks)
  int32_t max_running = 64;       // sequences holding KV slots at once
  int32_t max_queue = 1024;       // waiting groups (preempted ones are not refused)
};

// One sequence: its tokens (prompt, then generated) with their towers.
struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> towers;
  int32_t slot = -1;         // KV sequence slot while running, else -1
  int32_t num_computed = 0;  // tokens whose K/V are in the cache
};

struct SequenceGroup {
  std::string id;
  int32_t priority = 0;
  std::vector<Sequence> seqs;  // 1, or 3 linked for guidance; seqs[0] is the main one
  // Set by the scheduler.
  uint64_t arrival = 0;              // admission order (FCFS key)
  int32_t prompt_cached_tokens = 0;  // of seqs[0] at its first admission
  int32_t num_preemptions = 0;
  void* user = nullptr;  // the engine's per-request state
};

// `count` tokens of member `member` of `group`, from token index `first`.
struct ScheduledChunk {
  SequenceGroup* group = nullptr;
  int32_t member = 0;
  int32_t first = 0;
  int32_t count = 0;
  bool want_logits = false;  // the chunk ends at the sequence's newest token
};

struct StepPlan {
  StepBatch batch;                     // the rows of the chunks, in chunk order
  std::vector<ScheduledChunk> chunks;  // the logits rows follow the chunks with want_logits
  std::vector<SequenceGroup*> sample;  // groups that sample after this step
  std::vector<SequenceGroup*> preempted;
  // Groups that can never continue: their tokens now need more blocks of a pool than the
  // pool has, even with every other block free (a sequence that grew past its pools). They
  // hold their place until the engine removes them; listed on every step until then.
  std::vector<SequenceGroup*> stalled;
  bool empty() const { return batch.rows.empty(); }
};

class Scheduler {
 public:
  // `blocks` is borrowed and must outlive the scheduler; the scheduler is the only user of
  // its sequence slots. REQUIRES: every config field >= 1 (the engine validates options).
  Scheduler(const SchedulerConfig& config, kv::BlockManager* blocks);

  // Queues a group (FCFS key: a new arrival number). Resets the scheduler-set fields and
  // every member's slot / num_computed. On failure nothing changes:
  //   InvalidArgument: null group, no members, a member with no tokens, tokens and towers of
  //     different lengths, or a tower outside the pools (naming member and index);
  //   AlreadyExists: a live group with the same id;
  //   ResourceExhausted ("queue full: ...") when max_queue groups wait;
  //   ResourceExhausted naming the pool when its members' tokens could never fit the pools
  //     even alone, or naming max_running / max_seqs / max_step_tokens when it has more
  //     members than those allow at once.
  absl::Status Add(std::shared_ptr<SequenceGroup> group);

  // Plans the next step (see the policy above). Preempted groups are back in the queue when
  // it returns. REQUIRES: the previous non-empty plan went through OnStepComplete.
  StepPlan Schedule();
  // After the step ran: every scheduled token is computed (BlockManager::MarkComputed).
  // Chunks of groups removed since Schedule are skipped.
  void OnStepComplete(const StepPlan& plan);
  // After `group` sampled `token`: appended to every member (to run in a later step).
  // REQUIRES: `group` is live (added and not removed).
  void AppendToken(SequenceGroup* group, int32_t token, uint8_t tower);
  // Removes a finished or cancelled group wherever it is (queue or running) and frees every
  // block at once. Unknown ids: a no-op returning false. Between Schedule and
  // OnStepComplete the group object stays alive until OnStepComplete (the plan points at
  // it) and its chunks are skipped there, but its blocks are freed at once: do not run a
  // plan after removing one of its groups, and do not sample a removed group.
  bool Remove(const std::string& id);

  int32_t queue_depth() const;
  int32_t running() const;  // sequences holding KV slots
  int64_t preemptions() const;

  // Checks the scheduler's invariants against the block manager between steps: every
  // running sequence holds a unique slot with NumTokens == NumComputed == num_computed,
  // queued ones hold none, the counters match the lists, the lists are ordered. Internal
  // naming the broken one. For tests (O(groups)).
  absl::Status CheckInvariants() const;

 private:
  // A group with the scheduler's own bookkeeping.
  struct Entry {
    std::shared_ptr<SequenceGroup> group;
    bool admitted_before = false;
    // free_epoch_ when admission last failed for lack of blocks; retried only after some
    // blocks were freed since (a retry would repeat the prefix lookup and skew its counters).
    int64_t failed_epoch = -1;
    bool stalled = false;  // can never fit the pools again (see StepPlan::stalled)
  };
  // One member's planned chunk before it is committed to the plan.
  struct MemberChunk {
    int32_t member = 0;
    int32_t first = 0;
    int32_t count = 0;
    bool want_logits = false;
  };
  struct GroupPlan {
    std::vector<MemberChunk> chunks;  // members with count > 0
    int32_t rows = 0;
    bool samples = false;
  };

  enum class Reserve { kReserved, kWait, kSelfPreempted };
  enum class Phase { kDecode, kPrefill };

  static bool Before(const SequenceGroup& a, const SequenceGroup& b);
  static void InsertOrdered(std::vector<Entry>* list, Entry entry);

  // The chunks of `g` within `budget` rows (the all-or-hold-back rule for linked members).
  static GroupPlan PlanChunks(const SequenceGroup& g, int32_t budget);
  // Blocks per pool that reserving all of p's chunks would allocate (members share pools,
  // so BlockManager::CanAppend per member is not enough).
  std::vector<int32_t> BlocksNeeded(const SequenceGroup& g, const GroupPlan& p) const;
  bool Fits(const std::vector<int32_t>& need) const;
  // Blocks per pool that all of `g`'s tokens need from scratch (the segmentation rule).
  std::vector<int32_t> BlocksForAllTokens(const SequenceGroup& g) const;
  // A pool that `g`'s tokens overflow even with every block free; -1 when they fit.
  int32_t OverflowPool(const SequenceGroup& g) const;
  // Reserves p's slots for running_[index], preempting lower-ordered running groups as
  // needed; kWait when it must wait this step.
  Reserve ReserveOrPreempt(size_t index, const GroupPlan& p, StepPlan* plan, int32_t* budget);
  // Appends p's tokens to the block manager. false if an Append fails (the caller then
  // frees the whole group, the only way back to a consistent state).
  bool Commit(SequenceGroup* g, const GroupPlan& p);
  void AddChunks(const std::shared_ptr<SequenceGroup>& g, const GroupPlan& p, StepPlan* plan);
  // Steps 1 and 2 of the policy over running_, in order.
  void ScheduleRunning(Phase phase, StepPlan* plan, int32_t* budget);
  // Frees every member of running_[index], withdraws its rows from `plan`, and parks it in
  // preempted_now_ (requeued at the end of Schedule, so never readmitted in the same step).
  void Preempt(size_t index, StepPlan* plan, int32_t* budget);
  void ReleaseSlots(SequenceGroup* g);
  void TryAdmit(StepPlan* plan, int32_t* budget);
  void BuildBatch(StepPlan* plan) const;

  SchedulerConfig config_;
  kv::BlockManager* blocks_;
  std::vector<Entry> queue_;    // ordered by Before
  std::vector<Entry> running_;  // ordered by Before
  std::vector<Entry> preempted_now_;
  std::vector<int32_t> free_slots_;
  int32_t running_seqs_ = 0;
  uint64_t next_arrival_ = 0;
  int64_t preemptions_ = 0;
  int64_t free_epoch_ = 0;        // bumped whenever blocks are returned (remove, preempt)
  bool short_of_blocks_ = false;  // this step preempted, or a running group waits for blocks
  // Groups of the plan in flight, kept alive until OnStepComplete, and those removed since.
  std::vector<std::shared_ptr<SequenceGroup>> in_flight_;
  std::vector<const SequenceGroup*> removed_in_flight_;
};

}  // namespace mot::scheduler

#endif  // MOT_ENGINE_SCHEDULER_SCHEDULER_H_
