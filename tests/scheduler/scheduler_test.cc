// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/scheduler/scheduler_test.cc
// The scheduler driven by a fake executor (no model): "running" a plan is OnStepComplete,
// and each sampling group gets a fake token that depends only on (id, length), so any run
// of the same requests — batched, preempted or resumed from the prefix cache — must give
// the same tokens. Every step is checked against the plan's contract and both invariant
// checkers (the block manager's and the scheduler's).
#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::scheduler {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int32_t kVocab = 300;      // towers by range: [0,100) 0, [100,200) 1, [200,300) 2
constexpr int32_t kMaxSteps = 2000;  // every loop is bounded: a stuck scheduler fails, not hangs

uint8_t TowerOf(int32_t token, int32_t num_pools) {
  return static_cast<uint8_t>(std::min(token / 100, num_pools - 1));
}

// The fake model's next token after a sequence of `length` tokens of request `id`.
int32_t FakeToken(const std::string& id, size_t length) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the id, then the length mixed in
  for (char c : id) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  h ^= (length + 1) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return static_cast<int32_t>(h % kVocab);
}

Sequence MakeSeq(std::vector<int32_t> tokens, int32_t num_pools) {
  Sequence s;
  for (int32_t t : tokens) s.towers.push_back(TowerOf(t, num_pools));
  s.tokens = std::move(tokens);
  return s;
}

// `n` text tokens (tower 0) derived from `seed`.
std::vector<int32_t> TextPrompt(int32_t n, int32_t seed) {
  std::vector<int32_t> t(n);
  for (int32_t i = 0; i < n; ++i) t[i] = (seed * 31 + i * 7) % 100;
  return t;
}

kv::BlockManagerConfig Pools(std::vector<int32_t> blocks, int32_t block_size, int32_t max_seqs,
                             bool prefix_caching = true) {
  kv::BlockManagerConfig c;
  c.block_size = block_size;
  c.blocks_per_pool = std::move(blocks);
  c.max_seqs = max_seqs;
  c.prefix_caching = prefix_caching;
  return c;
}

// What one step did, by request id (the plan's pointers may dangle once groups finish).
struct StepInfo {
  int32_t rows = 0;
  int32_t wanted = 0;
  std::vector<std::string> chunk_ids;  // in chunk order
  std::vector<int32_t> chunk_counts;
  std::vector<std::string> sampled;
  std::vector<std::string> preempted;
  std::vector<std::string> stalled;
};

// A fake executor around one BlockManager and one Scheduler.
class Harness {
 public:
  Harness(const SchedulerConfig& sc, const kv::BlockManagerConfig& bc)
      : config_(sc), blocks_(kv::BlockManager::Create(bc).value()), sched_(sc, &blocks_) {}
  Harness(const Harness&) = delete;

  // Queues a request generating `max_new` tokens; members are given as token lists.
  absl::Status Submit(const std::string& id, std::vector<std::vector<int32_t>> members,
                      int32_t max_new, int32_t priority = 0) {
    auto g = std::make_shared<SequenceGroup>();
    g->id = id;
    g->priority = priority;
    for (auto& m : members) g->seqs.push_back(MakeSeq(std::move(m), blocks_.num_pools()));
    const absl::Status s = sched_.Add(g);
    if (s.ok()) live_[id] = Live{g, max_new, {}};
    return s;
  }

  bool Cancel(const std::string& id) {
    live_.erase(id);
    decode_ready_.erase(id);
    admitted_.erase(id);
    return sched_.Remove(id);
  }

  // One step: Schedule, check the plan, "run" it, check the invariants, sample.
  StepInfo Step() {
    StepPlan plan = sched_.Schedule();
    StepInfo info;
    CheckPlan(plan, &info);
    sched_.OnStepComplete(plan);
    EXPECT_THAT(blocks_.CheckInvariants(), IsOk()) << "after step " << steps_;
    EXPECT_THAT(sched_.CheckInvariants(), IsOk()) << "after step " << steps_;
    for (const ScheduledChunk& c : plan.chunks) admitted_.insert(c.group->id);
    for (SequenceGroup* g : plan.preempted) {
      decode_ready_.erase(g->id);
      admitted_.erase(g->id);
    }
    for (SequenceGroup* g : plan.sample) {
      info.sampled.push_back(g->id);
      Live& l = live_.at(g->id);
      const int32_t token = FakeToken(g->id, g->seqs[0].tokens.size());
      l.out.push_back(token);
      if (static_cast<int32_t>(l.out.size()) == l.max_new) {
        Finish(g->id);
      } else {
        sched_.AppendToken(g, token, TowerOf(token, blocks_.num_pools()));
        decode_ready_.insert(g->id);
      }
    }
    for (SequenceGroup* g : plan.stalled) {
      info.stalled.push_back(g->id);
      ++stalled_count_;
      Finish(g->id);
    }
    ++steps_;
    return info;
  }

  // Steps until nothing is left; returns the steps taken (fails the test past max_steps).
  int32_t RunToCompletion(int32_t max_steps = kMaxSteps) {
    int32_t n = 0;
    while (!live_.empty() && n < max_steps) {
      Step();
      ++n;
    }
    EXPECT_TRUE(live_.empty()) << live_.size() << " requests left after " << max_steps;
    return n;
  }

  int32_t BlocksUsed() const {
    int32_t used = 0;
    for (int32_t p = 0; p < blocks_.num_pools(); ++p) used += blocks_.Usage(p).used;
    return used;
  }

  Scheduler& sched() { return sched_; }
  kv::BlockManager& blocks() { return blocks_; }
  const std::map<std::string, std::vector<int32_t>>& finished() const { return finished_; }
  SequenceGroup* group(const std::string& id) { return live_.at(id).group.get(); }
  bool is_live(const std::string& id) const { return live_.count(id) > 0; }
  int32_t stalled_count() const { return stalled_count_; }
  // The tokens a request should generate: FakeToken at each length after its prompt.
  static std::vector<int32_t> Expected(const std::string& id, size_t prompt_len, int32_t n) {
    std::vector<int32_t> out;
    for (int32_t k = 0; k < n; ++k) out.push_back(FakeToken(id, prompt_len + k));
    return out;
  }

 private:
  struct Live {
    std::shared_ptr<SequenceGroup> group;
    int32_t max_new = 0;
    std::vector<int32_t> out;
  };

  void Finish(const std::string& id) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    finished_[id] = it->second.out;
    live_.erase(it);
    decode_ready_.erase(id);
    admitted_.erase(id);
    EXPECT_TRUE(sched_.Remove(id));
  }

  // The plan's contract: budget, decode rows first, rows matching the chunks, logits only
  // at a sequence's newest token, linked members sampling together.
  void CheckPlan(const StepPlan& plan, StepInfo* info) {
    info->rows = static_cast<int32_t>(plan.batch.rows.size());
    info->wanted = static_cast<int32_t>(plan.batch.NumWanted());
    EXPECT_LE(info->rows, config_.max_step_tokens) << "step " << steps_;
    for (SequenceGroup* g : plan.preempted) info->preempted.push_back(g->id);
    size_t row = 0;
    bool seen_prefill = false;
    std::map<const SequenceGroup*, std::vector<bool>> logits_of;
    for (const ScheduledChunk& c : plan.chunks) {
      info->chunk_ids.push_back(c.group->id);
      info->chunk_counts.push_back(c.count);
      // Decode: running since an earlier step, every member at its newest token only.
      bool decode = admitted_.count(c.group->id) > 0;
      for (const Sequence& m : c.group->seqs) {
        decode = decode && static_cast<int32_t>(m.tokens.size()) - m.num_computed == 1;
      }
      EXPECT_TRUE(decode || decode_ready_.count(c.group->id) == 0) << c.group->id;
      if (decode) {
        EXPECT_FALSE(seen_prefill) << "decode row of '" << c.group->id << "' after prefill";
      } else {
        seen_prefill = true;
      }
      const Sequence& s = c.group->seqs[c.member];
      EXPECT_EQ(c.first, s.num_computed);
      EXPECT_GT(c.count, 0);
      EXPECT_EQ(c.want_logits, c.first + c.count == static_cast<int32_t>(s.tokens.size()));
      for (int32_t j = 0; j < c.count; ++j, ++row) {
        if (row >= plan.batch.rows.size()) {
          ADD_FAILURE() << "fewer rows than chunk tokens";
          return;
        }
        const StepRow& r = plan.batch.rows[row];
        EXPECT_EQ(r.seq, s.slot);
        EXPECT_EQ(r.pos, c.first + j);
        EXPECT_EQ(r.token, s.tokens[c.first + j]);
        EXPECT_EQ(r.tower, s.towers[c.first + j]);
        EXPECT_EQ(r.want_logits, c.want_logits && j == c.count - 1);
      }
      auto& v = logits_of[c.group];
      v.resize(c.group->seqs.size(), false);
      if (c.want_logits) v[c.member] = true;
    }
    EXPECT_EQ(row, plan.batch.rows.size());
    for (const auto& [g, v] : logits_of) {
      const bool samples =
          std::find(plan.sample.begin(), plan.sample.end(), g) != plan.sample.end();
      const int32_t n = static_cast<int32_t>(std::count(v.begin(), v.end(), true));
      // Linked members reach their newest token all in one step or not at all.
      EXPECT_TRUE(n == 0 || n == static_cast<int32_t>(v.size())) << "group '" << g->id << "'";
      EXPECT_EQ(samples, n == static_cast<int32_t>(v.size())) << "group '" << g->id << "'";
    }
    for (const SequenceGroup* g : plan.sample) EXPECT_EQ(logits_of.count(g), 1u);
  }

  SchedulerConfig config_;
  kv::BlockManager blocks_;
  Scheduler sched_;
  std::map<std::string, Live> live_;
  std::map<std::string, std::vector<int32_t>> finished_;
  std::set<std::string> decode_ready_;  // sampled and appended, not preempted since
  std::set<std::string> admitted_;      // has run a chunk, not preempted since
  int64_t steps_ = 0;
  int32_t stalled_count_ = 0;
};

SchedulerConfig Sched(int32_t max_step_tokens, int32_t max_running = 64, int32_t max_queue = 1024) {
  return SchedulerConfig{
      .max_step_tokens = max_step_tokens, .max_running = max_running, .max_queue = max_queue};
}

TEST(SchedulerTest, ChunkedPrefillWantsLogitsOnlyAtTheEnd) {
  Harness h(Sched(16), Pools({64}, 16, 4));
  ASSERT_THAT(h.Submit("a", {TextPrompt(50, 1)}, 3), IsOk());
  for (int step = 0; step < 3; ++step) {
    const StepInfo s = h.Step();
    EXPECT_EQ(s.rows, 16);
    EXPECT_EQ(s.wanted, 0);
    EXPECT_TRUE(s.sampled.empty());
    EXPECT_EQ(h.group("a")->seqs[0].num_computed, 16 * (step + 1));
  }
  StepInfo s = h.Step();  // the last 2 prompt tokens, with logits
  EXPECT_EQ(s.rows, 2);
  EXPECT_EQ(s.wanted, 1);
  for (int step = 0; step < 2; ++step) {  // two decode steps
    s = h.Step();
    EXPECT_EQ(s.rows, 1);
    EXPECT_EQ(s.wanted, 1);
  }
  EXPECT_FALSE(h.is_live("a"));
  EXPECT_EQ(h.finished().at("a"), Harness::Expected("a", 50, 3));
  EXPECT_EQ(h.BlocksUsed(), 0);
  EXPECT_EQ(h.sched().running(), 0);
}

TEST(SchedulerTest, TokenBudgetHoldsAndDecodeRowsComeFirst) {
  Harness h(Sched(12), Pools({128}, 8, 8));
  for (int i = 0; i < 6; ++i) {
    ASSERT_THAT(h.Submit(absl::StrCat("r", i), {TextPrompt(5 + 7 * i, i)}, 6), IsOk());
  }
  bool mixed = false;  // a step with decode rows and prefill rows together
  int32_t max_rows = 0;
  for (int i = 0; i < kMaxSteps && h.finished().size() < 6; ++i) {
    const StepInfo s = h.Step();  // the harness checks budget and decode-first order
    max_rows = std::max(max_rows, s.rows);
    std::set<int32_t> counts(s.chunk_counts.begin(), s.chunk_counts.end());
    mixed = mixed || (counts.count(1) > 0 && *counts.rbegin() > 1);
  }
  EXPECT_EQ(max_rows, 12);
  EXPECT_TRUE(mixed);
  EXPECT_EQ(h.BlocksUsed(), 0);
}

TEST(SchedulerTest, FcfsWithinPriorityHigherPriorityFirst) {
  // One sequence slot: groups run one after another in admission order.
  Harness h(Sched(64), Pools({32}, 8, 1));
  ASSERT_THAT(h.Submit("low-1", {TextPrompt(4, 1)}, 1, /*priority=*/0), IsOk());
  ASSERT_THAT(h.Submit("low-2", {TextPrompt(4, 2)}, 1, 0), IsOk());
  ASSERT_THAT(h.Submit("high-1", {TextPrompt(4, 3)}, 1, 5), IsOk());
  ASSERT_THAT(h.Submit("mid-1", {TextPrompt(4, 4)}, 1, 2), IsOk());
  ASSERT_THAT(h.Submit("high-2", {TextPrompt(4, 5)}, 1, 5), IsOk());
  EXPECT_EQ(h.sched().queue_depth(), 5);
  std::vector<std::string> order;
  for (int i = 0; i < kMaxSteps && h.finished().size() < 5; ++i) {
    const StepInfo s = h.Step();
    if (!s.chunk_ids.empty()) order.push_back(s.chunk_ids[0]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"high-1", "high-2", "mid-1", "low-1", "low-2"}));
}

TEST(SchedulerTest, LinkedMembersSampleOnlyTogether) {
  // Members of 10, 3 and 25 tokens with 8 rows per step: the short ones finish their
  // prefill early but hold their last token back until the long one can finish with them.
  Harness h(Sched(8), Pools({64}, 4, 4));
  ASSERT_THAT(h.Submit("cfg", {TextPrompt(10, 1), TextPrompt(3, 2), TextPrompt(25, 3)}, 4), IsOk());
  int32_t steps_before_sample = 0;
  for (int i = 0; i < kMaxSteps; ++i) {
    EXPECT_EQ(h.sched().running() % 3, 0);  // admitted together
    const StepInfo s = h.Step();
    if (s.wanted > 0) {
      EXPECT_EQ(s.wanted, 3);
      break;
    }
    ++steps_before_sample;
  }
  // 8 rows a step: m0 8 | m0 1, m1 2, m2 5 | m2 8 | m2 8 | then m0 1, m1 1, m2 4 with logits.
  EXPECT_EQ(steps_before_sample, 4);
  SequenceGroup* g = h.group("cfg");
  for (const Sequence& s : g->seqs) {
    EXPECT_EQ(s.num_computed + 1, static_cast<int32_t>(s.tokens.size()));
  }
  const StepInfo d = h.Step();  // decode: one row per member
  EXPECT_EQ(d.rows, 3);
  EXPECT_EQ(d.wanted, 3);
  EXPECT_EQ(h.sched().running(), 3);
  EXPECT_TRUE(h.Cancel("cfg"));  // removed together
  EXPECT_EQ(h.sched().running(), 0);
  EXPECT_EQ(h.BlocksUsed(), 0);
  EXPECT_THAT(h.blocks().CheckInvariants(), IsOk());
}

TEST(SchedulerTest, LinkedGroupIsPreemptedAndResumedTogether) {
  // 20 blocks of 4: the high-priority single request grows until the linked group must go.
  Harness h(Sched(32), Pools({20}, 4, 8, /*prefix_caching=*/false));
  ASSERT_THAT(h.Submit("big", {TextPrompt(30, 1)}, 40, /*priority=*/1), IsOk());
  ASSERT_THAT(h.Submit("cfg", {TextPrompt(8, 2), TextPrompt(4, 3), TextPrompt(2, 4)}, 10), IsOk());
  bool preempted = false;
  for (int i = 0; i < kMaxSteps && !h.finished().count("big"); ++i) {
    const int32_t running_before = h.sched().running();
    const StepInfo s = h.Step();
    if (!s.preempted.empty()) {
      EXPECT_EQ(s.preempted, std::vector<std::string>{"cfg"});
      EXPECT_EQ(h.sched().running(), 1);  // all three members let go at once
      EXPECT_EQ(running_before, 4);
      preempted = true;
    }
  }
  EXPECT_TRUE(preempted);
  h.RunToCompletion();
  EXPECT_EQ(h.finished().at("big"), Harness::Expected("big", 30, 40));
  EXPECT_EQ(h.finished().at("cfg"), Harness::Expected("cfg", 8, 10));
  EXPECT_GE(h.sched().preemptions(), 1);
  EXPECT_EQ(h.BlocksUsed(), 0);
}

// Two runs of the same requests: with pools small enough to force preemption, and large.
std::map<std::string, std::vector<int32_t>> RunPair(int32_t blocks, int64_t* preemptions) {
  // One pool, so every fake token is tower 0 and each request alone fits 12 blocks.
  Harness h(Sched(16), Pools({blocks}, 4, 8));
  EXPECT_THAT(h.Submit("a", {TextPrompt(12, 1)}, 30), IsOk());
  EXPECT_THAT(h.Submit("b", {TextPrompt(9, 2)}, 30), IsOk());
  EXPECT_THAT(h.Submit("c", {TextPrompt(5, 3)}, 20), IsOk());
  h.RunToCompletion();
  *preemptions = h.sched().preemptions();
  EXPECT_EQ(h.BlocksUsed(), 0);
  return h.finished();
}

TEST(SchedulerTest, PreemptedGroupResumesWithTheSameTokens) {
  int64_t small_preemptions = 0;
  int64_t large_preemptions = 0;
  const auto small = RunPair(12, &small_preemptions);
  const auto large = RunPair(200, &large_preemptions);
  EXPECT_GT(small_preemptions, 0);
  EXPECT_EQ(large_preemptions, 0);
  EXPECT_EQ(small, large);
  EXPECT_EQ(small.at("a"), Harness::Expected("a", 12, 30));
}

TEST(SchedulerTest, PreemptedGroupResumesBeforeNewerGroupsOfItsPriority) {
  Harness h(Sched(16), Pools({8}, 4, 4, /*prefix_caching=*/false));
  ASSERT_THAT(h.Submit("first", {TextPrompt(6, 1)}, 20, /*priority=*/1), IsOk());
  ASSERT_THAT(h.Submit("second", {TextPrompt(6, 2)}, 20), IsOk());
  std::string preempted;
  for (int i = 0; i < kMaxSteps && preempted.empty(); ++i) {
    const StepInfo s = h.Step();
    if (!s.preempted.empty()) preempted = s.preempted[0];
  }
  EXPECT_EQ(preempted, "second");
  ASSERT_THAT(h.Submit("third", {TextPrompt(3, 3)}, 2), IsOk());
  std::vector<std::string> admitted;
  for (int i = 0; i < kMaxSteps && (h.is_live("second") || h.is_live("third")); ++i) {
    const StepInfo s = h.Step();
    for (const std::string& id : s.chunk_ids) {
      if (id != "first" && std::find(admitted.begin(), admitted.end(), id) == admitted.end()) {
        admitted.push_back(id);
      }
    }
  }
  EXPECT_EQ(admitted, (std::vector<std::string>{"second", "third"}));
}

TEST(SchedulerTest, AddRefusesBeyondTheQueueBound) {
  Harness h(Sched(16, 64, /*max_queue=*/2), Pools({16}, 4, 4));
  ASSERT_THAT(h.Submit("a", {TextPrompt(4, 1)}, 1), IsOk());
  ASSERT_THAT(h.Submit("b", {TextPrompt(4, 2)}, 1), IsOk());
  EXPECT_THAT(h.Submit("c", {TextPrompt(4, 3)}, 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("queue full")));
  EXPECT_EQ(h.sched().queue_depth(), 2);
  h.Step();  // both admitted: the queue has room again
  EXPECT_EQ(h.sched().queue_depth(), 0);
  EXPECT_THAT(h.Submit("c", {TextPrompt(4, 3)}, 1), IsOk());
}

TEST(SchedulerTest, AddRefusesAGroupThatCouldNeverFit) {
  // Pool 1 (image) has 2 blocks of 4: 9 image tokens need 3.
  Harness h(Sched(16, /*max_running=*/2), Pools({16, 2}, 4, 4));
  std::vector<int32_t> prompt = TextPrompt(3, 1);
  for (int i = 0; i < 9; ++i) prompt.push_back(100 + i);
  EXPECT_THAT(h.Submit("img", {prompt}, 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("KV pool 1")));
  // Linked members add up: two members of 4 image tokens take both blocks of pool 1.
  std::vector<int32_t> small = {1, 100, 101, 102, 103};
  EXPECT_THAT(h.Submit("cfg", {small, small}, 1), IsOk());
  std::vector<int32_t> five = {1, 100, 101, 102, 103, 104};
  EXPECT_THAT(h.Submit("cfg2", {small, five}, 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("KV pool 1")));
  EXPECT_THAT(h.Submit("cfg3", {small, small, small}, 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_running")));
  EXPECT_THAT(h.Submit("cfg", {small}, 1),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("cfg")));
  EXPECT_EQ(h.sched().queue_depth(), 1);
}

TEST(SchedulerTest, AddRejectsMalformedGroups) {
  kv::BlockManager blocks = kv::BlockManager::Create(Pools({8}, 4, 2)).value();
  Scheduler sched(Sched(16), &blocks);
  EXPECT_THAT(sched.Add(nullptr), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null")));
  auto g = std::make_shared<SequenceGroup>();
  g->id = "x";
  EXPECT_THAT(sched.Add(g),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no sequences")));
  g->seqs.push_back(Sequence{.tokens = {1, 2}, .towers = {0}});
  EXPECT_THAT(sched.Add(g), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("towers")));
  g->seqs[0].towers = {0, 3};
  EXPECT_THAT(sched.Add(g),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seqs[0].towers[1]")));
  EXPECT_EQ(sched.queue_depth(), 0);
}

TEST(SchedulerTest, CancellationFreesEveryBlockInEveryState) {
  Harness h(Sched(8), Pools({64, 16}, 4, 8));
  ASSERT_THAT(h.Submit("decoding", {TextPrompt(6, 1)}, 100), IsOk());
  ASSERT_THAT(h.Submit("prefilling", {TextPrompt(60, 2)}, 100), IsOk());
  for (int i = 0; i < 3; ++i) h.Step();
  ASSERT_THAT(h.Submit("queued", {TextPrompt(5, 3)}, 100), IsOk());
  EXPECT_EQ(h.sched().queue_depth(), 1);
  const SequenceGroup* p = h.group("prefilling");
  ASSERT_GT(p->seqs[0].num_computed, 0);
  ASSERT_LT(p->seqs[0].num_computed, 59);
  ASSERT_GT(h.group("decoding")->seqs[0].tokens.size(), 6u);  // has generated tokens

  EXPECT_TRUE(h.Cancel("queued"));
  EXPECT_EQ(h.sched().queue_depth(), 0);
  EXPECT_TRUE(h.Cancel("prefilling"));
  EXPECT_THAT(h.sched().CheckInvariants(), IsOk());
  EXPECT_TRUE(h.Cancel("decoding"));
  EXPECT_FALSE(h.Cancel("decoding"));  // unknown now
  EXPECT_EQ(h.sched().running(), 0);
  EXPECT_EQ(h.BlocksUsed(), 0);
  EXPECT_THAT(h.blocks().CheckInvariants(), IsOk());
  EXPECT_TRUE(h.sched().Schedule().empty());
}

TEST(SchedulerTest, RemoveBetweenScheduleAndStepCompleteSkipsItsChunks) {
  kv::BlockManager blocks = kv::BlockManager::Create(Pools({16}, 4, 2)).value();
  Scheduler sched(Sched(16), &blocks);
  auto a = std::make_shared<SequenceGroup>(
      SequenceGroup{.id = "a", .seqs = {Sequence{.tokens = {1, 2, 3}, .towers = {0, 0, 0}}}});
  auto b = std::make_shared<SequenceGroup>(
      SequenceGroup{.id = "b", .seqs = {Sequence{.tokens = {4, 5}, .towers = {0, 0}}}});
  ASSERT_THAT(sched.Add(a), IsOk());
  ASSERT_THAT(sched.Add(b), IsOk());
  std::weak_ptr<SequenceGroup> weak = a;
  const StepPlan plan = sched.Schedule();
  ASSERT_EQ(plan.batch.rows.size(), 5u);
  a.reset();
  EXPECT_TRUE(sched.Remove("a"));
  EXPECT_FALSE(weak.expired());  // the plan still points at it
  sched.OnStepComplete(plan);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(b->seqs[0].num_computed, 2);
  EXPECT_THAT(blocks.CheckInvariants(), IsOk());
  EXPECT_THAT(sched.CheckInvariants(), IsOk());
}

TEST(SchedulerTest, SequenceOutgrowingItsPoolsIsReportedStalled) {
  // 2 blocks of 4: a 7-token prompt can decode one token (8 positions), never a 9th.
  Harness h(Sched(16), Pools({2}, 4, 2));
  ASSERT_THAT(h.Submit("long", {TextPrompt(7, 1)}, 50), IsOk());
  std::vector<std::string> stalled;
  for (int i = 0; i < 5 && stalled.empty(); ++i) stalled = h.Step().stalled;
  EXPECT_EQ(stalled, std::vector<std::string>{"long"});
  EXPECT_EQ(h.finished().at("long").size(), 2u);  // after the prompt, and after 1 decode
  EXPECT_EQ(h.BlocksUsed(), 0);
}

TEST(SchedulerTest, SecondIdenticalPromptReusesTheCachedPrefix) {
  Harness h(Sched(64), Pools({32}, 8, 4));
  const std::vector<int32_t> prompt = TextPrompt(40, 7);
  ASSERT_THAT(h.Submit("first", {prompt}, 2), IsOk());
  const StepInfo first = h.Step();
  EXPECT_EQ(first.rows, 40);
  EXPECT_EQ(h.group("first")->prompt_cached_tokens, 0);
  h.RunToCompletion();
  ASSERT_THAT(h.Submit("second", {prompt}, 2), IsOk());
  const StepInfo second = h.Step();
  const int32_t cached = h.group("second")->prompt_cached_tokens;
  EXPECT_EQ(cached, 32);  // 4 full blocks of 8; the 5th holds the last token
  EXPECT_EQ(second.rows, 40 - cached);
  EXPECT_GT(h.blocks().prefix_hits(), 0);
  h.RunToCompletion();
  EXPECT_EQ(h.finished().at("second"), Harness::Expected("second", 40, 2));
  EXPECT_EQ(h.BlocksUsed(), 0);
}

// 64 requests with mixed lengths, towers, priorities and linked groups, arriving over time,
// with random cancellations and pools small enough to preempt; one instance per seed.
class RandomWorkloadTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RandomWorkloadTest, RunsToCompletionWithInvariantsOnEveryStep) {
  std::mt19937 rng(GetParam());
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  // Small pools (block_size 4) force preemption; the harness checks every step.
  Harness h(Sched(24, /*max_running=*/10, /*max_queue=*/64), Pools({40, 24, 12}, 4, 12));
  // Mixed prompts: text runs with an occasional image (tower 1) or audio (tower 2) run.
  auto prompt = [&](int n) {
    std::vector<int32_t> t;
    while (static_cast<int>(t.size()) < n) {
      const int run = uniform(1, 12);
      const int tower = uniform(0, 5) < 4 ? 0 : uniform(1, 2);
      for (int i = 0; i < run && static_cast<int>(t.size()) < n; ++i) {
        t.push_back(tower * 100 + uniform(0, 99));
      }
    }
    return t;
  };
  std::map<std::string, size_t> prompt_len;
  int submitted = 0;
  int refused = 0;
  int cancelled = 0;
  int steps = 0;
  while ((submitted < 64 || h.sched().queue_depth() > 0 || h.sched().running() > 0) &&
         steps < 5000) {
    for (int k = uniform(0, 3); k > 0 && submitted < 64; --k) {
      const std::string id = absl::StrCat("r", submitted++);
      std::vector<std::vector<int32_t>> members = {prompt(uniform(1, 60))};
      if (uniform(0, 4) == 0) {  // a guidance group: image-only and unconditional prompts
        members.push_back(prompt(uniform(1, 20)));
        members.push_back({1});
      }
      prompt_len[id] = members[0].size();
      const absl::Status s = h.Submit(id, members, uniform(1, 24), uniform(0, 2));
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
        ++refused;
      }
    }
    if (uniform(0, 19) == 0) {  // cancel a random request, in whatever state it is
      const std::string id = absl::StrCat("r", uniform(0, std::max(0, submitted - 1)));
      if (h.is_live(id)) {
        EXPECT_TRUE(h.Cancel(id));
        ++cancelled;
      }
    }
    h.Step();
    ++steps;
  }
  std::cout << "steps " << steps << " submitted " << submitted << " refused " << refused
            << " cancelled " << cancelled << " preemptions " << h.sched().preemptions()
            << " finished " << h.finished().size() << " stalled " << h.stalled_count()
            << " prefix hits " << h.blocks().prefix_hits() << "\n";
  EXPECT_LT(steps, 5000);
  EXPECT_EQ(h.sched().queue_depth(), 0);
  EXPECT_EQ(h.sched().running(), 0);
  EXPECT_EQ(h.BlocksUsed(), 0);
  EXPECT_GT(h.sched().preemptions(), 0);
  EXPECT_GT(cancelled, 0);
  EXPECT_LT(refused, 8);
  // Whatever was preempted or batched, every finished request produced its own tokens.
  int checked = 0;
  for (const auto& [id, out] : h.finished()) {
    EXPECT_EQ(out, Harness::Expected(id, prompt_len.at(id), static_cast<int32_t>(out.size())))
        << id;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomWorkloadTest, ::testing::Values(1234u, 1u, 42u, 2024u));

}  // namespace
}  // namespace mot::scheduler
