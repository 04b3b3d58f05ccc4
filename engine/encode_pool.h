// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/encode_pool.h
// EncodePool: worker threads that run the engine's slow, per-request side work (decoding
// image codes to PNG, audio codes to WAV) so that the loop thread never waits on it. Tasks
// run in submission order per worker; the destructor runs every queued task, then joins.
// Thread rule: thread-safe.
#ifndef MOT_ENGINE_ENCODE_POOL_H_
#define MOT_ENGINE_ENCODE_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mot::engine {

class EncodePool {
 public:
  // REQUIRES: num_threads >= 1.
  explicit EncodePool(int num_threads);
  ~EncodePool();
  EncodePool(const EncodePool&) = delete;
  EncodePool& operator=(const EncodePool&) = delete;

  void Run(std::function<void()> task);

 private:
  void Worker();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace mot::engine

#endif  // MOT_ENGINE_ENCODE_POOL_H_
