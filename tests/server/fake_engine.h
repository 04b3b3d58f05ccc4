// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/server/fake_engine.h
// FakeEngine: an engine::Engine that answers every Submit with scripted events, for the
// server's tests (mapping, limits, auth, cancellation, streaming) without a model. The
// prompt builder is a real one (tests/server/test_model.h), so tokenization is real.
//   script   (request) -> events; default: "Hello", " world", usage, finished(stop)
//   hold     when set, the handle keeps the stream open after the script (no kFinished)
//            until Cancel, which ends it with kFinished/kCancelled (as the engine does)
//   submit_error  when set, the next Submits fail with it (e.g. a full queue)
// Thread rule: thread-safe, as the real engine.
#ifndef MOT_TESTS_SERVER_FAKE_ENGINE_H_
#define MOT_TESTS_SERVER_FAKE_ENGINE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace mot::testing {

class FakeEventQueue {
 public:
  void Push(engine::Event e);
  std::optional<engine::Event> NextUntil(absl::Time deadline, bool* timed_out);
  bool finished_pushed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<engine::Event> events_;
  bool finished_pushed_ = false;  // a kFinished is queued or was returned
  bool finished_returned_ = false;
};

class FakeEngine final : public engine::Engine {
 public:
  using Script = std::function<std::vector<engine::Event>(const engine::GenerateRequest&)>;

  explicit FakeEngine(std::unique_ptr<tokenizer::PromptBuilder> builder);

  void set_script(Script s);
  void set_hold(bool hold);
  void set_submit_error(absl::Status s);
  void set_stats(const engine::EngineStats& s);

  absl::StatusOr<std::unique_ptr<engine::RequestHandle>> Submit(
      engine::GenerateRequest request) override;
  absl::Status Cancel(const std::string& request_id) override;
  engine::EngineStats Stats() const override;
  const tokenizer::PromptBuilder& prompt_builder() const override { return *builder_; }

  // What happened so far.
  std::vector<engine::GenerateRequest> submitted() const;
  std::vector<std::string> cancelled() const;
  // Requests whose stream has no kFinished queued yet (neither finished nor cancelled).
  int live() const;

  static std::vector<engine::Event> DefaultScript(const engine::GenerateRequest&);

 private:
  std::unique_ptr<tokenizer::PromptBuilder> builder_;
  mutable std::mutex mu_;
  Script script_;
  bool hold_ = false;
  absl::Status submit_error_;
  engine::EngineStats stats_;
  std::vector<engine::GenerateRequest> submitted_;
  std::vector<std::string> cancelled_;
  std::map<std::string, std::shared_ptr<FakeEventQueue>> queues_;
};

// Event builders for scripts.
engine::Event TextEvent(std::string text);
engine::Event FinishedEvent(engine::FinishReason reason, absl::Status status = absl::OkStatus());

}  // namespace mot::testing

#endif  // MOT_TESTS_SERVER_FAKE_ENGINE_H_
