// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/server/fake_engine.h"

#include "absl/strings/str_cat.h"

namespace mot::testing {
namespace {

class FakeHandle final : public engine::RequestHandle {
 public:
  FakeHandle(std::string id, std::shared_ptr<FakeEventQueue> q)
      : id_(std::move(id)), q_(std::move(q)) {}
  const std::string& request_id() const override { return id_; }
  std::optional<engine::Event> Next() override {
    bool timed_out = false;
    return q_->NextUntil(absl::InfiniteFuture(), &timed_out);
  }
  std::optional<engine::Event> NextUntil(absl::Time deadline, bool* timed_out) override {
    return q_->NextUntil(deadline, timed_out);
  }

 private:
  std::string id_;
  std::shared_ptr<FakeEventQueue> q_;
};

}  // namespace

void FakeEventQueue::Push(engine::Event e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_pushed_) return;
  if (e.kind == engine::EventKind::kFinished) finished_pushed_ = true;
  events_.push_back(std::move(e));
  cv_.notify_all();
}

bool FakeEventQueue::finished_pushed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_pushed_;
}

std::optional<engine::Event> FakeEventQueue::NextUntil(absl::Time deadline, bool* timed_out) {
  std::unique_lock<std::mutex> lock(mu_);
  *timed_out = false;
  while (events_.empty()) {
    if (finished_returned_) return std::nullopt;
    if (absl::Now() >= deadline) {
      *timed_out = true;
      return std::nullopt;
    }
    if (deadline == absl::InfiniteFuture()) {
      cv_.wait(lock);
    } else {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(deadline - absl::Now()));
    }
  }
  engine::Event e = std::move(events_.front());
  events_.pop_front();
  if (e.kind == engine::EventKind::kFinished) finished_returned_ = true;
  return e;
}

engine::Event TextEvent(std::string text) {
  engine::Event e;
  e.kind = engine::EventKind::kTextDelta;
  e.text = std::move(text);
  return e;
}

engine::Event FinishedEvent(engine::FinishReason reason, absl::Status status) {
  engine::Event e;
  e.kind = engine::EventKind::kFinished;
  e.reason = reason;
  e.status = std::move(status);
  return e;
}

FakeEngine::FakeEngine(std::unique_ptr<tokenizer::PromptBuilder> builder)
    : builder_(std::move(builder)), script_(&FakeEngine::DefaultScript) {}

std::vector<engine::Event> FakeEngine::DefaultScript(const engine::GenerateRequest& r) {
  engine::Event usage;
  usage.kind = engine::EventKind::kUsage;
  usage.usage[0].prompt_tokens = static_cast<int32_t>(r.prompt.ids.size());
  usage.usage[0].generated_tokens = 2;
  return {TextEvent("Hello"), TextEvent(" world"), usage,
          FinishedEvent(engine::FinishReason::kStop)};
}

void FakeEngine::set_script(Script s) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(s);
}
void FakeEngine::set_hold(bool hold) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = hold;
}
void FakeEngine::set_submit_error(absl::Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  submit_error_ = std::move(s);
}
void FakeEngine::set_stats(const engine::EngineStats& s) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = s;
}

absl::StatusOr<std::unique_ptr<engine::RequestHandle>> FakeEngine::Submit(
    engine::GenerateRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!submit_error_.ok()) return submit_error_;
  if (auto it = queues_.find(request.request_id);
      it != queues_.end() && !it->second->finished_pushed()) {
    return absl::AlreadyExistsError(absl::StrCat("request_id: ", request.request_id, " is live"));
  }
  auto q = std::make_shared<FakeEventQueue>();
  std::vector<engine::Event> events = script_(request);
  for (engine::Event& e : events) {
    if (hold_ && e.kind == engine::EventKind::kFinished) break;
    q->Push(std::move(e));
  }
  queues_[request.request_id] = q;
  submitted_.push_back(request);
  return std::unique_ptr<engine::RequestHandle>(new FakeHandle(request.request_id, q));
}

absl::Status FakeEngine::Cancel(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.push_back(request_id);
  auto it = queues_.find(request_id);
  if (it == queues_.end() || it->second->finished_pushed()) {
    return absl::NotFoundError(absl::StrCat("request ", request_id, " is not live"));
  }
  it->second->Push(FinishedEvent(engine::FinishReason::kCancelled));
  return absl::OkStatus();
}

engine::EngineStats FakeEngine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<engine::GenerateRequest> FakeEngine::submitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return submitted_;
}
std::vector<std::string> FakeEngine::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}
int FakeEngine::live() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, q] : queues_) n += q->finished_pushed() ? 0 : 1;
  return n;
}

}  // namespace mot::testing
