// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/event_pump.h
// EventPump: moves engine events to gRPC streams with a small, fixed set of threads.
//
// Why: RequestHandle::Next blocks, and a thread parked in Next per open stream would
// make thousands of streams cost thousands of threads (stacks, scheduler load), which the
// callback API exists to avoid. Instead each pump thread owns a list of streams and polls
// them with NextUntil(InfinitePast) — a non-blocking take — pulling an event only for a
// stream whose previous write has completed (at most one write in flight per stream, so a
// slow client holds back only its own events, which wait in the engine's per-request
// queue). A round that finds nothing sleeps on a condition variable for at most
// `idle_wait` (1 ms by default) or until a write completes (Wake). The cost: up to
// idle_wait of added latency for an event that arrives while a thread sleeps — small next
// to a decode step — and one mutex take per open stream per idle round, so 10k idle
// streams cost about a millisecond of one core per round. Streams are spread round-robin.
//
// Thread rule: Add and Wake from any thread. A stream's Deliver is called from one pump
// thread only, never concurrently with itself, and only while WantsEvent() is true.
#ifndef MOT_SERVER_EVENT_PUMP_H_
#define MOT_SERVER_EVENT_PUMP_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/engine.h"

namespace mot::server {

// One stream the pump feeds. Implemented by the Generate reactor.
class PumpedStream {
 public:
  virtual ~PumpedStream() = default;
  // True when the stream can take the next event (no write in flight).
  virtual bool WantsEvent() const = 0;
  // True once the stream is over; the pump then drops it (and its handle).
  virtual bool Done() const = 0;
  virtual engine::RequestHandle& handle() = 0;
  // The next event of the request, in order. After kFinished the pump drops the stream.
  virtual void Deliver(engine::Event event) = 0;
};

class EventPump {
 public:
  // REQUIRES: threads >= 1.
  explicit EventPump(int threads, absl::Duration idle_wait = absl::Milliseconds(1));
  // Stops and joins the threads; streams still listed are dropped without more events.
  ~EventPump();
  EventPump(const EventPump&) = delete;
  EventPump& operator=(const EventPump&) = delete;

  // Starts feeding `stream`; returns the worker index to pass to Wake.
  int Add(std::shared_ptr<PumpedStream> stream);
  // Tells worker `worker` that one of its streams may take an event now.
  void Wake(int worker);

  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::shared_ptr<PumpedStream>> inbox;  // guarded by mu
    bool poked = false;                                // guarded by mu
    bool stop = false;                                 // guarded by mu
    std::thread thread;
  };
  void Run(Worker* w);

  absl::Duration idle_wait_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex next_mu_;
  size_t next_ = 0;  // round-robin cursor, guarded by next_mu_
};

}  // namespace mot::server

#endif  // MOT_SERVER_EVENT_PUMP_H_
