// File: testing/load_generator.h
// -----------------------------------------------------------------------------
// LoadGenerator: threads sending echo calls through a kube-grpc handle at a
// target rate, recording which pod answered each call, failures by status code,
// latency percentiles and a timeline (calls per pod per interval).
//
//   kubegrpc::testing::LoadGenerator load(handle, {.threads = 4, .rate = 500});
//   load.Start();
//   ... scale, crash, roll ...
//   kubegrpc::testing::LoadReport report = load.Stop();
//   EXPECT_EQ(report.failed, 0);
//
// Or through any grpc::Channel, e.g. an xDS channel (xds::XdsChannels):
//   kubegrpc::testing::LoadGenerator load(channel, {.threads = 4, .rate = 500});
// Its calls are plain ones: retries are the channel's (its service config, or
// the xDS route's retry policy), so LoadOptions::retry does not apply.
//
// Thread-safety: Start/Stop from one thread; Snapshot() from any.

#ifndef TESTING_LOAD_GENERATOR_H_
#define TESTING_LOAD_GENERATOR_H_

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/balancer.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc::testing {

struct LoadOptions {
  int threads = 2;
  double rate = 200;  // calls per second over all threads; <= 0: as fast as possible
  // Use the retry helper (idempotent echo calls) rather than plain Next().
  // Over a channel: nothing (the channel's own retry policy applies).
  bool retry = true;
  absl::Duration call_timeout = absl::Seconds(5);
  absl::Duration interval = absl::Milliseconds(100);  // timeline bucket
};

struct LoadReport {
  int64_t ok = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> by_pod;                 // successful calls per pod
  std::map<std::string, int64_t> failures;               // by status code name
  std::vector<std::map<std::string, int64_t>> timeline;  // per interval, per pod
  std::vector<int64_t> failed_timeline;                  // failed calls per interval
  absl::Duration interval = absl::Milliseconds(100);     // of the timelines
  absl::Duration p50 = absl::ZeroDuration();
  absl::Duration p99 = absl::ZeroDuration();
  // The first interval at or after `from` in which `pod` answered (-1: never).
  int FirstIntervalWith(const std::string& pod, int from = 0) const;
  // The last interval in which `pod` answered (-1: never).
  int LastIntervalWith(const std::string& pod) const;
};

class LoadGenerator {
 public:
  LoadGenerator(StubHandle<Echo> handle, LoadOptions options)
      : handle_(std::move(handle)), options_(options) {}
  LoadGenerator(std::shared_ptr<grpc::Channel> channel, LoadOptions options)
      : channel_(std::move(channel)), options_(options) {}
  ~LoadGenerator();

  void Start();
  LoadReport Stop();
  // The report so far (the load keeps running).
  LoadReport Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // The timeline interval now (for marking scenario steps).
  int CurrentInterval() const;
  // Successful calls per pod in timeline interval `interval` (cheaper than
  // Snapshot(): no latency percentiles).
  std::map<std::string, int64_t> CallsIn(int interval) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Worker(int index);
  void Record(const grpc::Status& status, const std::string& pod, absl::Duration latency)
      ABSL_LOCKS_EXCLUDED(mu_);

  StubHandle<Echo> handle_;
  std::shared_ptr<grpc::Channel> channel_;  // set: calls go through it
  const LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Time start_;
  mutable absl::Mutex mu_;
  LoadReport report_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> latencies_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_LOAD_GENERATOR_H_
