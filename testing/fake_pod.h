// File: testing/fake_pod.h
// -----------------------------------------------------------------------------
// FakePod: a real gRPC server playing one pod of a Deployment. It listens on its
// own loopback address (pods share a port and differ by IP, like pod IPs) and
// serves the echo/identity service (testing/proto/echo.proto: each answer names
// the pod) and grpc.health.v1.
//
//   kubegrpc::testing::LoopbackSubnet subnet;             // 127.a.b.0/24 of this process
//   auto pod = kubegrpc::testing::FakePod::Start("web-0", subnet.Next(), /*port=*/0);
//   (*pod)->FailNextCalls(2, grpc::StatusCode::UNAVAILABLE);
//   (*pod)->Crash();     // connections reset, calls fail
//   (*pod)->Restart();   // same address, incarnation + 1
//
// Thread-safety: thread-safe. Errors: Unavailable when the address cannot be bound.

#ifndef TESTING_FAKE_POD_H_
#define TESTING_FAKE_POD_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace kubegrpc::testing {

// Loopback addresses for one test process: 127.<a>.<b>.<1..254>, with a and b
// derived from the process id, so that tests running in parallel do not collide.
class LoopbackSubnet {
 public:
  LoopbackSubnet();
  // The next unused address of the subnet (wraps after 254).
  std::string Next();
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;  // "127.a.b."
  std::atomic<int> next_{1};
};

class FakePod {
 public:
  // Starts serving on ip:port (port 0: a free port, see port()).
  static absl::StatusOr<std::unique_ptr<FakePod>> Start(std::string name, std::string ip, int port,
                                                        std::string uid = "");
  ~FakePod();

  const std::string& name() const { return name_; }
  const std::string& ip() const { return ip_; }
  int port() const { return port_; }
  std::string address() const;  // "ip:port"

  // Health reported by grpc.health.v1 (the process keeps serving echo calls).
  void SetServing(bool serving);
  // The next `n` echo calls fail with `code`.
  void FailNextCalls(int n, grpc::StatusCode code);
  // Every echo call first waits this long.
  void SetLatency(absl::Duration latency);
  // The process stops answering for `duration` (connections stay open): echo
  // and health calls wait until it ends or their deadline passes, whichever is
  // first. Kubernetes does not notice unless its readiness probe does.
  void Hang(absl::Duration duration);

  // The container dies: the server stops at once, in-flight calls are cancelled.
  void Crash() ABSL_LOCKS_EXCLUDED(mu_);
  // Graceful stop: no new calls, in-flight calls get up to `grace` to finish.
  void Stop(absl::Duration grace = absl::Seconds(5)) ABSL_LOCKS_EXCLUDED(mu_);
  // Serves again on the same address (after Crash or Stop); incarnation + 1.
  absl::Status Restart() ABSL_LOCKS_EXCLUDED(mu_);
  bool running() const ABSL_LOCKS_EXCLUDED(mu_);

  int incarnation() const { return incarnation_.load(); }
  int64_t served() const { return served_.load(); }
  // When this pod answered its first and its latest echo call (InfinitePast: never).
  absl::Time first_call_at() const { return FromNanos(first_call_ns_.load()); }
  absl::Time last_call_at() const { return FromNanos(last_call_ns_.load()); }

  class Impl;  // the services

 private:
  FakePod(std::string name, std::string ip, std::string uid);
  absl::Status Listen(int port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const std::string ip_;
  const std::string uid_;
  int port_ = 0;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> incarnation_{0};
  std::atomic<int64_t> served_{0};
  static absl::Time FromNanos(int64_t ns) {
    return ns == 0 ? absl::InfinitePast() : absl::FromUnixNanos(ns);
  }
  std::atomic<int64_t> first_call_ns_{0};  // Unix ns; 0 = never
  std::atomic<int64_t> last_call_ns_{0};
  mutable absl::Mutex mu_;
  std::unique_ptr<grpc::Server> server_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_POD_H_
