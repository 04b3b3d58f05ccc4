// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/scheduler/scheduler.cc
#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <cassert>
#include <span>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"

namespace mot::scheduler {
namespace {

int32_t Uncomputed(const Sequence& s) {
  return static_cast<int32_t>(s.tokens.size()) - s.num_computed;
}

// Every member has exactly one uncomputed token, its newest (sampled in the last step).
bool IsDecode(const SequenceGroup& g) {
  for (const Sequence& s : g.seqs) {
    if (Uncomputed(s) != 1) return false;
  }
  return true;
}

// Members present, non-empty, one tower per token, towers within the pools.
absl::Status CheckShape(const SequenceGroup& g, int32_t num_pools) {
  if (g.seqs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("group '", g.id, "': no sequences"));
  }
  for (size_t m = 0; m < g.seqs.size(); ++m) {
    const Sequence& s = g.seqs[m];
    if (s.tokens.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", g.id, "': seqs[", m, "].tokens: empty"));
    }
    if (s.towers.size() != s.tokens.size()) {
      return absl::InvalidArgumentError(absl::StrCat("group '", g.id, "': seqs[", m,
                                                     "].towers: ", s.towers.size(), " entries for ",
                                                     s.tokens.size(), " tokens"));
    }
    for (size_t i = 0; i < s.towers.size(); ++i) {
      if (s.towers[i] >= num_pools) {
        return absl::InvalidArgumentError(absl::StrCat("group '", g.id, "': seqs[", m, "].towers[",
                                                       i, "]: ", s.towers[i], " is outside the ",
                                                       num_pools, " KV pools"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, kv::BlockManager* blocks)
    : config_(config), blocks_(blocks) {
  assert(blocks_ != nullptr);
  assert(config_.max_step_tokens >= 1 && config_.max_running >= 1 && config_.max_queue >= 1);
  // A stack popped from the back: slot 0 first, which keeps plans reproducible.
  for (int32_t s = blocks_->max_seqs() - 1; s >= 0; --s) free_slots_.push_back(s);
}

bool Scheduler::Before(const SequenceGroup& a, const SequenceGroup& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.arrival < b.arrival;
}

void Scheduler::InsertOrdered(std::vector<Entry>* list, Entry entry) {
  auto it = std::upper_bound(list->begin(), list->end(), entry, [](const Entry& a, const Entry& b) {
    return Before(*a.group, *b.group);
  });
  list->insert(it, std::move(entry));
}

std::vector<int32_t> Scheduler::BlocksForAllTokens(const SequenceGroup& g) const {
  std::vector<int32_t> need(blocks_->num_pools(), 0);
  for (const Sequence& s : g.seqs) {
    for (const kv::Segment& seg : kv::BlockManager::Segments(s.towers, blocks_->block_size())) {
      ++need[seg.tower];
    }
  }
  return need;
}

int32_t Scheduler::OverflowPool(const SequenceGroup& g) const {
  const std::vector<int32_t> need = BlocksForAllTokens(g);
  for (int32_t p = 0; p < static_cast<int32_t>(need.size()); ++p) {
    if (need[p] > blocks_->Usage(p).total) return p;
  }
  return -1;
}

absl::Status Scheduler::Add(std::shared_ptr<SequenceGroup> group) {
  if (group == nullptr) return absl::InvalidArgumentError("scheduler: group is null");
  const SequenceGroup& g = *group;
  MOT_RETURN_IF_ERROR(CheckShape(g, blocks_->num_pools()));
  for (const std::vector<Entry>* list : {&queue_, &running_}) {
    for (const Entry& e : *list) {
      if (e.group->id == g.id) {
        return absl::AlreadyExistsError(absl::StrCat("group '", g.id, "': id already live"));
      }
    }
  }
  if (static_cast<int32_t>(queue_.size()) >= config_.max_queue) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "queue full: ", queue_.size(), " groups wait (max_queue=", config_.max_queue, ")"));
  }
  const int32_t n = static_cast<int32_t>(g.seqs.size());
  const std::pair<const char*, int32_t> limits[] = {{"max_running", config_.max_running},
                                                    {"max_seqs", blocks_->max_seqs()},
                                                    {"max_step_tokens", config_.max_step_tokens}};
  for (const auto& [name, limit] : limits) {
    if (n > limit) {
      return absl::ResourceExhaustedError(absl::StrCat("group '", g.id, "': ", n,
                                                       " linked sequences can never run together (",
                                                       name, "=", limit, ")"));
    }
  }
  const std::vector<int32_t> need = BlocksForAllTokens(g);
  for (int32_t p = 0; p < static_cast<int32_t>(need.size()); ++p) {
    const int32_t total = blocks_->Usage(p).total;
    if (need[p] > total) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "group '", g.id, "': KV pool ", p, " has ", total, " blocks but the group's tokens need ",
          need[p], " (block_size=", blocks_->block_size(), ")"));
    }
  }

  group->arrival = next_arrival_++;
  group->prompt_cached_tokens = 0;
  group->num_preemptions = 0;
  for (Sequence& s : group->seqs) {
    s.slot = -1;
    s.num_computed = 0;
  }
  InsertOrdered(&queue_, Entry{.group = std::move(group)});
  return absl::OkStatus();
}

// A single sequence runs min(uncomputed, budget) tokens. Linked members either all reach
// their newest token in this step (the group samples) or none does: each keeps its last
// token back, so the members' final rows always share a step and their logits are
// combined from one forward pass.
Scheduler::GroupPlan Scheduler::PlanChunks(const SequenceGroup& g, int32_t budget) {
  GroupPlan p;
  int32_t total = 0;
  bool all_pending = true;
  for (const Sequence& s : g.seqs) {
    total += Uncomputed(s);
    all_pending = all_pending && Uncomputed(s) > 0;
  }
  if (total == 0 || budget <= 0) return p;
  if (all_pending && total <= budget) {
    for (int32_t m = 0; m < static_cast<int32_t>(g.seqs.size()); ++m) {
      const Sequence& s = g.seqs[m];
      p.chunks.push_back({m, s.num_computed, Uncomputed(s), /*want_logits=*/true});
    }
    p.rows = total;
    p.samples = true;
    return p;
  }
  const bool single = g.seqs.size() == 1;
  for (int32_t m = 0; m < static_cast<int32_t>(g.seqs.size()) && budget > 0; ++m) {
    const Sequence& s = g.seqs[m];
    const int32_t count = std::min(single ? Uncomputed(s) : Uncomputed(s) - 1, budget);
    if (count <= 0) continue;
    p.chunks.push_back({m, s.num_computed, count, /*want_logits=*/false});
    p.rows += count;
    budget -= count;
  }
  return p;
}

std::vector<int32_t> Scheduler::BlocksNeeded(const SequenceGroup& g, const GroupPlan& p) const {
  std::vector<int32_t> need(blocks_->num_pools(), 0);
  for (const MemberChunk& c : p.chunks) {
    const Sequence& s = g.seqs[c.member];
    const std::vector<int32_t> member =
        blocks_->BlocksNeeded(s.slot, std::span<const uint8_t>(s.towers).subspan(c.first, c.count));
    for (size_t p = 0; p < need.size(); ++p) need[p] += member[p];
  }
  return need;
}

bool Scheduler::Fits(const std::vector<int32_t>& need) const {
  for (int32_t p = 0; p < static_cast<int32_t>(need.size()); ++p) {
    if (need[p] > blocks_->Usage(p).free) return false;
  }
  return true;
}

bool Scheduler::Commit(SequenceGroup* g, const GroupPlan& p) {
  for (const MemberChunk& c : p.chunks) {
    const Sequence& s = g->seqs[c.member];
    // Slots are reserved only for scheduled tokens, so the reservation ends where the
    // computed tokens end.
    assert(blocks_->NumTokens(s.slot) == c.first);
    const absl::Status st =
        blocks_->Append(s.slot, std::span<const int32_t>(s.tokens).subspan(c.first, c.count),
                        std::span<const uint8_t>(s.towers).subspan(c.first, c.count));
    // Fits() summed the same BlocksNeeded over the members, so this is not expected; the
    // caller recovers by freeing the whole group.
    if (!st.ok()) return false;
  }
  return true;
}

void Scheduler::AddChunks(const std::shared_ptr<SequenceGroup>& g, const GroupPlan& p,
                          StepPlan* plan) {
  // The plan points at g until OnStepComplete, even if it is removed meanwhile.
  in_flight_.push_back(g);
  for (const MemberChunk& c : p.chunks) {
    plan->chunks.push_back({.group = g.get(),
                            .member = c.member,
                            .first = c.first,
                            .count = c.count,
                            .want_logits = c.want_logits});
  }
  if (p.samples) plan->sample.push_back(g.get());
}

void Scheduler::ReleaseSlots(SequenceGroup* g) {
  for (Sequence& s : g->seqs) {
    if (s.slot < 0) continue;
    blocks_->Free(s.slot);
    free_slots_.push_back(s.slot);
    s.slot = -1;
    s.num_computed = 0;
  }
}

void Scheduler::Preempt(size_t index, StepPlan* plan, int32_t* budget) {
  Entry e = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  SequenceGroup* g = e.group.get();
  // Withdraw whatever it was given earlier in this step (its reservation goes with Free).
  auto& chunks = plan->chunks;
  for (const ScheduledChunk& c : chunks) {
    if (c.group == g) *budget += c.count;
  }
  std::erase_if(chunks, [g](const ScheduledChunk& c) { return c.group == g; });
  std::erase(plan->sample, g);
  running_seqs_ -= static_cast<int32_t>(g->seqs.size());
  ReleaseSlots(g);
  ++free_epoch_;
  ++preemptions_;
  ++g->num_preemptions;
  plan->preempted.push_back(g);
  in_flight_.push_back(e.group);
  short_of_blocks_ = true;
  e.failed_epoch = -1;
  preempted_now_.push_back(std::move(e));
}

Scheduler::Reserve Scheduler::ReserveOrPreempt(size_t index, const GroupPlan& p, StepPlan* plan,
                                               int32_t* budget) {
  SequenceGroup* g = running_[index].group.get();
  while (true) {
    if (Fits(BlocksNeeded(*g, p))) {
      if (Commit(g, p)) return Reserve::kReserved;
      Preempt(index, plan, budget);
      return Reserve::kSelfPreempted;
    }
    // running_ is in priority/arrival order, so the back is the lowest-priority newest
    // group; only groups after this one may be taken, never a higher-ordered one.
    if (running_.size() - 1 > index) {
      Preempt(running_.size() - 1, plan, budget);
      continue;
    }
    short_of_blocks_ = true;
    // Tokens only grow and a stalled group samples no more, so this is for good.
    if (OverflowPool(*g) >= 0) running_[index].stalled = true;
    return Reserve::kWait;
  }
}

void Scheduler::TryAdmit(StepPlan* plan, int32_t* budget) {
  size_t qi = 0;
  while (qi < queue_.size() && *budget > 0) {
    Entry& e = queue_[qi];
    SequenceGroup* g = e.group.get();
    if (e.stalled) {  // reported by Schedule; never blocks the queue
      ++qi;
      continue;
    }
    const int32_t n = static_cast<int32_t>(g->seqs.size());
    if (running_seqs_ + n > config_.max_running || static_cast<int32_t>(free_slots_.size()) < n) {
      break;
    }
    // Nothing was freed since it last failed: it would fail again.
    if (e.failed_epoch == free_epoch_) break;
    for (Sequence& s : g->seqs) {
      s.slot = free_slots_.back();
      free_slots_.pop_back();
      s.num_computed = blocks_->AppendCachedPrefix(s.slot, s.tokens, s.towers);
    }
    const GroupPlan p = PlanChunks(*g, *budget);
    if (!Fits(BlocksNeeded(*g, p)) || !Commit(g, p)) {
      // Undo the prefix references and any reservation: the group stays queued as it was.
      ReleaseSlots(g);
      e.failed_epoch = free_epoch_;
      if (OverflowPool(*g) >= 0) {
        e.stalled = true;
        ++qi;
        continue;
      }
      break;  // strict FCFS: nobody overtakes the head
    }
    if (!e.admitted_before) {
      g->prompt_cached_tokens = g->seqs[0].num_computed;
      e.admitted_before = true;
    }
    running_seqs_ += n;
    AddChunks(e.group, p, plan);
    *budget -= p.rows;
    Entry admitted = std::move(e);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(qi));
    InsertOrdered(&running_, std::move(admitted));
  }
}

void Scheduler::ScheduleRunning(Phase phase, StepPlan* plan, int32_t* budget) {
  for (size_t i = 0; i < running_.size() && *budget > 0;) {
    const Entry& e = running_[i];
    const std::shared_ptr<SequenceGroup> g = e.group;
    GroupPlan p;
    // Decode groups get their chance in kDecode only; kPrefill takes the rest.
    if (!e.stalled && IsDecode(*g) == (phase == Phase::kDecode)) p = PlanChunks(*g, *budget);
    // A decode group with fewer rows left than members waits (its rows go together).
    if (p.rows == 0 || (phase == Phase::kDecode && !p.samples)) {
      ++i;
      continue;
    }
    const Reserve r = ReserveOrPreempt(i, p, plan, budget);
    if (r == Reserve::kSelfPreempted) continue;  // running_[i] is now the next group
    if (r == Reserve::kReserved) {
      AddChunks(g, p, plan);
      *budget -= p.rows;
    }
    ++i;
  }
}

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  in_flight_.clear();
  removed_in_flight_.clear();
  short_of_blocks_ = false;
  int32_t budget = config_.max_step_tokens;

  ScheduleRunning(Phase::kDecode, &plan, &budget);
  ScheduleRunning(Phase::kPrefill, &plan, &budget);
  // Admitting while running groups lose or wait for blocks would only feed the next
  // preemption (vLLM admits nothing in a step that preempted).
  if (!short_of_blocks_) TryAdmit(&plan, &budget);

  for (Entry& e : preempted_now_) InsertOrdered(&queue_, std::move(e));
  preempted_now_.clear();
  for (const std::vector<Entry>* list : {&running_, &queue_}) {
    for (const Entry& e : *list) {
      if (!e.stalled) continue;
      plan.stalled.push_back(e.group.get());
      in_flight_.push_back(e.group);
    }
  }
  BuildBatch(&plan);
  return plan;
}

void Scheduler::BuildBatch(StepPlan* plan) const {
  int32_t rows = 0;
  for (const ScheduledChunk& c : plan->chunks) rows += c.count;
  plan->batch.rows.reserve(rows);
  for (const ScheduledChunk& c : plan->chunks) {
    const Sequence& s = c.group->seqs[c.member];
    plan->batch.AddSequence(std::span<const int32_t>(s.tokens).subspan(c.first, c.count),
                            std::span<const uint8_t>(s.towers).subspan(c.first, c.count), s.slot,
                            c.first);
    // AddSequence asks for the last row's logits; a chunk short of the newest token has none.
    plan->batch.rows.back().want_logits = c.want_logits;
  }
}

void Scheduler::OnStepComplete(const StepPlan& plan) {
  for (const ScheduledChunk& c : plan.chunks) {
    if (std::find(removed_in_flight_.begin(), removed_in_flight_.end(), c.group) !=
        removed_in_flight_.end()) {
      continue;
    }
    Sequence& s = c.group->seqs[c.member];
    assert(s.num_computed == c.first);
    s.num_computed += c.count;
    blocks_->MarkComputed(s.slot, s.num_computed);
  }
  in_flight_.clear();
  removed_in_flight_.clear();
}

void Scheduler::AppendToken(SequenceGroup* group, int32_t token, uint8_t tower) {
  for (Sequence& s : group->seqs) {
    s.tokens.push_back(token);
    s.towers.push_back(tower);
  }
}

bool Scheduler::Remove(const std::string& id) {
  auto find = [&id](std::vector<Entry>& list) {
    return std::find_if(list.begin(), list.end(),
                        [&id](const Entry& e) { return e.group->id == id; });
  };
  SequenceGroup* removed = nullptr;
  if (auto it = find(queue_); it != queue_.end()) {
    removed = it->group.get();
    queue_.erase(it);
  } else if (auto it = find(running_); it != running_.end()) {
    removed = it->group.get();
    running_seqs_ -= static_cast<int32_t>(removed->seqs.size());
    ReleaseSlots(removed);
    ++free_epoch_;
    running_.erase(it);
  } else {
    return false;
  }
  for (const auto& g : in_flight_) {
    if (g.get() == removed) removed_in_flight_.push_back(removed);
  }
  return true;
}

int32_t Scheduler::queue_depth() const { return static_cast<int32_t>(queue_.size()); }
int32_t Scheduler::running() const { return running_seqs_; }
int64_t Scheduler::preemptions() const { return preemptions_; }

absl::Status Scheduler::CheckInvariants() const {
  std::vector<bool> used(blocks_->max_seqs(), false);
  int32_t seqs = 0;
  for (size_t i = 0; i < running_.size(); ++i) {
    const SequenceGroup& g = *running_[i].group;
    if (i > 0 && Before(g, *running_[i - 1].group)) {
      return absl::InternalError(absl::StrCat("running list out of order at '", g.id, "'"));
    }
    for (size_t m = 0; m < g.seqs.size(); ++m) {
      const Sequence& s = g.seqs[m];
      const std::string where = absl::StrCat("group '", g.id, "' seqs[", m, "]");
      if (s.slot < 0 || s.slot >= blocks_->max_seqs()) {
        return absl::InternalError(absl::StrCat(where, ": running without a slot"));
      }
      if (used[s.slot]) {
        return absl::InternalError(absl::StrCat(where, ": slot ", s.slot, " used twice"));
      }
      used[s.slot] = true;
      if (blocks_->NumComputed(s.slot) != s.num_computed ||
          blocks_->NumTokens(s.slot) != s.num_computed) {
        return absl::InternalError(absl::StrCat(
            where, ": num_computed ", s.num_computed, " but the block manager has ",
            blocks_->NumComputed(s.slot), " computed of ", blocks_->NumTokens(s.slot)));
      }
      if (s.num_computed > static_cast<int32_t>(s.tokens.size())) {
        return absl::InternalError(absl::StrCat(where, ": more computed than tokens"));
      }
      ++seqs;
    }
  }
  if (seqs != running_seqs_) {
    return absl::InternalError(
        absl::StrCat("running counter ", running_seqs_, " but ", seqs, " sequences run"));
  }
  for (int32_t slot : free_slots_) {
    if (used[slot]) {
      return absl::InternalError(absl::StrCat("slot ", slot, " both free and used"));
    }
    if (blocks_->NumTokens(slot) != 0) {
      return absl::InternalError(absl::StrCat("free slot ", slot, " holds tokens"));
    }
    used[slot] = true;
  }
  if (static_cast<int32_t>(free_slots_.size()) + seqs != blocks_->max_seqs()) {
    return absl::InternalError("slots leaked: free + running != max_seqs");
  }
  for (size_t i = 0; i < queue_.size(); ++i) {
    const SequenceGroup& g = *queue_[i].group;
    if (i > 0 && Before(g, *queue_[i - 1].group)) {
      return absl::InternalError(absl::StrCat("queue out of order at '", g.id, "'"));
    }
    for (const Sequence& s : g.seqs) {
      if (s.slot != -1 || s.num_computed != 0) {
        return absl::InternalError(
            absl::StrCat("queued group '", g.id, "' holds a slot or computed tokens"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mot::scheduler
