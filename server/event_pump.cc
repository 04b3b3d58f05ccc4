// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/event_pump.h"

#include <chrono>
#include <utility>

namespace mot::server {

EventPump::EventPump(int threads, absl::Duration idle_wait) : idle_wait_(idle_wait) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { Run(p); });
}

EventPump::~EventPump() {
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->stop = true;
    w->cv.notify_all();
  }
  for (auto& w : workers_) w->thread.join();
}

int EventPump::Add(std::shared_ptr<PumpedStream> stream) {
  size_t index;
  {
    std::lock_guard<std::mutex> lock(next_mu_);
    index = next_++ % workers_.size();
  }
  Worker& w = *workers_[index];
  std::lock_guard<std::mutex> lock(w.mu);
  w.inbox.push_back(std::move(stream));
  w.cv.notify_one();
  return static_cast<int>(index);
}

void EventPump::Wake(int worker) {
  Worker& w = *workers_[static_cast<size_t>(worker) % workers_.size()];
  std::lock_guard<std::mutex> lock(w.mu);
  w.poked = true;
  w.cv.notify_one();
}

void EventPump::Run(Worker* w) {
  std::vector<std::shared_ptr<PumpedStream>> mine;
  const auto idle = absl::ToChronoNanoseconds(idle_wait_);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(w->mu);
      if (w->stop) return;
      for (auto& s : w->inbox) mine.push_back(std::move(s));
      w->inbox.clear();
      w->poked = false;
    }
    bool progressed = false;
    for (size_t i = 0; i < mine.size();) {
      PumpedStream& s = *mine[i];
      bool drop = s.Done();
      if (!drop && s.WantsEvent()) {
        bool timed_out = false;
        std::optional<engine::Event> ev = s.handle().NextUntil(absl::InfinitePast(), &timed_out);
        if (ev.has_value()) {
          progressed = true;
          const bool last = ev->kind == engine::EventKind::kFinished;
          s.Deliver(std::move(*ev));
          drop = last;
        } else if (!timed_out) {
          // The handle ended without a kFinished we saw: the engine broke its contract.
          // End the stream with an error rather than leave it open forever.
          engine::Event end;
          end.kind = engine::EventKind::kFinished;
          end.reason = engine::FinishReason::kError;
          end.status = absl::InternalError("the engine ended the stream without a finish event");
          s.Deliver(std::move(end));
          drop = true;
        }
      }
      if (drop) {
        mine[i] = std::move(mine.back());
        mine.pop_back();
      } else {
        ++i;
      }
    }
    if (!progressed) {
      std::unique_lock<std::mutex> lock(w->mu);
      w->cv.wait_for(lock, idle, [w] { return w->poked || w->stop || !w->inbox.empty(); });
    }
  }
}

}  // namespace mot::server
