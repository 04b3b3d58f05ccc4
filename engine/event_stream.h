// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/event_stream.h
// EventStream: the ordered queue of one request's events between the engine's loop thread
// (the writer) and the request's reader (RequestHandle::Next). An event may be pushed before
// its payload exists: an image's PNG or an audio's WAV is encoded on a worker thread, so the
// loop pushes a pending event and the worker completes it later. The reader never sees an
// event before every earlier one is complete, so events stay in order although encoding
// runs off the loop thread.
// Thread rule: thread-safe; one reader.
#ifndef MOT_ENGINE_EVENT_STREAM_H_
#define MOT_ENGINE_EVENT_STREAM_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/engine.h"

namespace mot::engine {

class EventStream {
 public:
  // A slot that a worker completes once (Complete), from any thread.
  class Pending {
   public:
    // Sets the payload (PNG/WAV bytes) and makes the event visible to the reader. A failed
    // encode leaves `data` empty and puts the error in the event's `status`.
    void Complete(absl::StatusOr<std::string> data);

   private:
    friend class EventStream;
    EventStream* stream_ = nullptr;
    Event* event_ = nullptr;
  };

  EventStream() = default;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Appends a complete event.
  void Push(Event event);
  // Appends an event whose `data` a worker fills in later through the returned handle; the
  // stream must outlive the Complete call (the engine holds it by shared_ptr in the task).
  Pending* PushPending(Event event);

  // Blocks until the next event is complete and returns it; nullopt once kFinished has
  // been returned. With a deadline, returns nullopt and sets *timed_out when it passes.
  std::optional<Event> Next(absl::Time deadline = absl::InfiniteFuture(),
                            bool* timed_out = nullptr);

  // Calls `fn` (from the writer's thread) when the reader drops its handle before the
  // finish: the engine cancels the request then.
  void SetOnAbandon(std::function<void()> fn);
  void Abandon();

  // True once a kFinished event has been pushed.
  bool finished() const;

 private:
  struct Entry {
    Event event;
    bool ready = true;
    Pending pending;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Entry>> queue_;
  bool pushed_finish_ = false;
  bool returned_finish_ = false;
  std::function<void()> on_abandon_;
};

// The RequestHandle over an EventStream; dropping it before the finish cancels the request.
class StreamHandle final : public RequestHandle {
 public:
  StreamHandle(std::string id, std::shared_ptr<EventStream> stream)
      : id_(std::move(id)), stream_(std::move(stream)) {}
  ~StreamHandle() override;
  const std::string& request_id() const override { return id_; }
  std::optional<Event> Next() override { return stream_->Next(); }
  std::optional<Event> NextUntil(absl::Time deadline, bool* timed_out) override {
    return stream_->Next(deadline, timed_out);
  }

 private:
  std::string id_;
  std::shared_ptr<EventStream> stream_;
};

}  // namespace mot::engine

#endif  // MOT_ENGINE_EVENT_STREAM_H_
