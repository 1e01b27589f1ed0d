// File: kubegrpc/internal/event_queue.h
// -----------------------------------------------------------------------------
// Delivers BalancerEvents to the user's callback on a thread of its own, in
// the order they were posted, with no lock of the balancer held: Post() may be
// called under any lock (it only appends). Bounded: past `capacity` queued
// events the oldest are dropped and counted, so a callback that blocks never
// grows memory without bound or holds up the pools.
//
// Thread-safety: thread-safe. The destructor delivers what is queued, then
// returns.

#ifndef KUBEGRPC_INTERNAL_EVENT_QUEUE_H_
#define KUBEGRPC_INTERNAL_EVENT_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kubegrpc/event.h"

namespace kubegrpc::internal {

class EventQueue {
 public:
  explicit EventQueue(std::function<void(const BalancerEvent&)> sink, size_t capacity = 10000);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void Post(BalancerEvent event) ABSL_LOCKS_EXCLUDED(mu_);
  // Events dropped because the queue was full.
  int64_t dropped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop();

  const std::function<void(const BalancerEvent&)> sink_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<BalancerEvent> queue_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_EVENT_QUEUE_H_
