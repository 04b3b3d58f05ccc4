// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/event_stream.h"

#include <utility>

namespace mot::engine {

void EventStream::Pending::Complete(absl::StatusOr<std::string> data) {
  EventStream* s = stream_;
  {
    std::lock_guard<std::mutex> lock(s->mu_);
    if (data.ok()) {
      event_->data = *std::move(data);
    } else {
      event_->status = data.status();
    }
    // The entry owning this Pending is the one whose event_ we point at.
    for (auto& e : s->queue_) {
      if (&e->event == event_) {
        e->ready = true;
        break;
      }
    }
  }
  s->cv_.notify_all();
}

void EventStream::Push(Event event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.kind == EventKind::kFinished) pushed_finish_ = true;
    auto entry = std::make_unique<Entry>();
    entry->event = std::move(event);
    queue_.push_back(std::move(entry));
  }
  cv_.notify_all();
}

EventStream::Pending* EventStream::PushPending(Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  auto entry = std::make_unique<Entry>();
  entry->event = std::move(event);
  entry->ready = false;
  entry->pending.stream_ = this;
  entry->pending.event_ = &entry->event;
  Pending* p = &entry->pending;
  queue_.push_back(std::move(entry));
  return p;
}

std::optional<Event> EventStream::Next(absl::Time deadline, bool* timed_out) {
  if (timed_out != nullptr) *timed_out = false;
  std::unique_lock<std::mutex> lock(mu_);
  if (returned_finish_) return std::nullopt;
  auto ready = [&] { return !queue_.empty() && queue_.front()->ready; };
  if (deadline == absl::InfiniteFuture()) {
    cv_.wait(lock, ready);
  } else {
    while (!ready()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() ||
          cv_.wait_for(lock, absl::ToChronoNanoseconds(left)) == std::cv_status::timeout) {
        if (ready()) break;
        if (timed_out != nullptr) *timed_out = true;
        return std::nullopt;
      }
    }
  }
  Event event = std::move(queue_.front()->event);
  queue_.pop_front();
  if (event.kind == EventKind::kFinished) returned_finish_ = true;
  return event;
}

void EventStream::SetOnAbandon(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  on_abandon_ = std::move(fn);
}

void EventStream::Abandon() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pushed_finish_) return;
    fn = std::move(on_abandon_);
  }
  if (fn) fn();
}

bool EventStream::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pushed_finish_;
}

StreamHandle::~StreamHandle() { stream_->Abandon(); }

}  // namespace mot::engine
