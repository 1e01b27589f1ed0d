// File: fakek8s/connection_threads.h
// -----------------------------------------------------------------------------
// ThreadPerConnection: the task queue fakek8s's HTTP server serves connections
// on. One thread per connection: watch streams hold their connection for
// minutes, and a fixed pool would let a few of them starve every other request.
//
// Thread-safety: thread-safe (httplib calls it from its accept loop).

#ifndef FAKEK8S_CONNECTION_THREADS_H_
#define FAKEK8S_CONNECTION_THREADS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"

namespace fakek8s::internal {

class ThreadPerConnection : public httplib::TaskQueue {
 public:
  // Runs `fn` (one connection) on a new thread; finished threads are joined.
  void enqueue(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    // Join the threads that have finished.
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->second->load()) {
        it->first.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.emplace_back(std::thread([fn = std::move(fn), done] {
                            fn();
                            done->store(true);
                          }),
                          done);
  }
  // Waits for every connection's thread.
  void shutdown() override {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      for (auto& t : threads_) threads.push_back(std::move(t.first));
      threads_.clear();
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> threads_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace fakek8s::internal

#endif  // FAKEK8S_CONNECTION_THREADS_H_
