// File: fakek8s/connection_threads.h
// -----------------------------------------------------------------------------
// ThreadPerConnection: the task queue fakek8s's HTTP server serves connections
// on. One thread per connection: watch streams hold their connection for
// minutes, and a fixed pool would let a few of them starve every other request.
// And how a long-lived response notices that its client went away: the socket
// of the request's connection (found by its addresses), and whether its peer
// has closed it.
//
// Thread-safety: thread-safe (httplib calls it from its accept loop).

#ifndef FAKEK8S_CONNECTION_THREADS_H_
#define FAKEK8S_CONNECTION_THREADS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"

namespace fakek8s::internal {

class ThreadPerConnection : public httplib::TaskQueue {
 public:
  // At most `max_connections` connections are served normally at a time; past
  // that a connection is still given a thread, but OverCapacity() is true on it
  // (the handler answers 429 and closes it at once).
  explicit ThreadPerConnection(size_t max_connections) : max_(max_connections) {}

  // Whether the calling thread serves a connection past the cap.
  static bool OverCapacity() { return over_capacity_; }

  // What httplib's enqueue returns: void in 0.11, bool (accepted) in 0.41.
  using EnqueueResult =
      decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>()));

  // Runs `fn` (one connection) on a new thread; finished threads are joined.
  // Always accepted: a connection past the cap is answered 429 on its thread.
  EnqueueResult enqueue(std::function<void()> fn) override {
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
    const bool over = threads_.size() >= max_;
    threads_.emplace_back(std::thread([fn = std::move(fn), done, over] {
                            over_capacity_ = over;
                            fn();
                            done->store(true);
                          }),
                          done);
    return static_cast<EnqueueResult>(true);  // `return void-expression;` under 0.11
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
  static inline thread_local bool over_capacity_ = false;
  const size_t max_;
  absl::Mutex mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> threads_
      ABSL_GUARDED_BY(mu_);
};

// The descriptor of the connection `req` came on (matched by its local and
// remote address and port among this process's sockets), or -1. Valid while
// the request's handler runs (the connection's thread closes it after).
int ConnectionSocket(const httplib::Request& req);
// Whether the peer of socket `fd` has closed its side (or the socket failed).
bool PeerClosed(int fd);
// Shuts down (both directions) every connection this process accepted on
// `host`:`port` (any local address if `host` is a wildcard), as a server that
// dies does: each one's thread sees the connection end at once, instead of
// waiting out a read timeout. Returns how many it shut down.
int ShutdownConnections(const std::string& host, int port);

}  // namespace fakek8s::internal

#endif  // FAKEK8S_CONNECTION_THREADS_H_
