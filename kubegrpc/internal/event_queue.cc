#include "kubegrpc/internal/event_queue.h"

#include <utility>

namespace kubegrpc::internal {

EventQueue::EventQueue(std::function<void(const BalancerEvent&)> sink, size_t capacity)
    : sink_(std::move(sink)), capacity_(capacity > 0 ? capacity : 1) {
  thread_ = std::thread([this] { Loop(); });
}

EventQueue::~EventQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void EventQueue::Post(BalancerEvent event) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= capacity_) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(event));
}

int64_t EventQueue::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

void EventQueue::Loop() {
  for (;;) {
    std::deque<BalancerEvent> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, everything delivered
      batch.swap(queue_);
    }
    for (const BalancerEvent& e : batch) sink_(e);  // no lock held
  }
}

}  // namespace kubegrpc::internal
