// File: tools/bench/bench_util.h
// -----------------------------------------------------------------------------
// Small helpers shared by the benchmark sections: percentiles over durations,
// resident memory, and a Service of EndpointSlices served in process.
//
// Thread-safety: SliceService is thread-safe; the rest are functions.

#ifndef TOOLS_BENCH_BENCH_UTIL_H_
#define TOOLS_BENCH_BENCH_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fakek8s/object_store.h"
#include "nlohmann/json.hpp"
#include "testing/fake_k8s_client.h"

namespace kubegrpc::bench {

// Summary of a sample of durations, in milliseconds.
struct Stats {
  int n = 0;
  double median_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  nlohmann::json ToJson() const;
};
Stats Summarize(std::vector<absl::Duration> sample);

// Polls `done` every `poll` until it is true; DeadlineExceeded naming `what`
// after `timeout`.
absl::Status WaitFor(const std::function<bool()>& done, absl::Duration timeout,
                     const std::string& what, absl::Duration poll = absl::Microseconds(200));

// This process's resident set size in bytes (0 if unknown).
int64_t ResidentBytes();

// An EndpointSlice named `name` for Service `service` with one port "grpc" and
// the given (address, ready) endpoints.
nlohmann::json MakeSlice(const std::string& ns, const std::string& service, const std::string& name,
                         int port, const std::vector<std::pair<std::string, bool>>& endpoints);

// A Service (port 80 named "grpc", mapped to its slices' port) and its
// EndpointSlices in a fakek8s store, served by the harness's FakeK8sClient in
// real time: lists and watch events are encoded and decoded as HttpK8sClient
// would see them. Replace() writes a new version of a slice (a watch event).
class SliceService {
 public:
  // `before_decode`: see FakeK8sClient::Options.
  SliceService(const std::string& ns, const std::string& service,
               std::vector<nlohmann::json> slices, std::function<void()> before_decode = nullptr);
  // Writes `slice` (by name) over its old version.
  absl::Status Replace(nlohmann::json slice);
  const std::shared_ptr<testing::FakeK8sClient>& client() const { return client_; }

 private:
  fakek8s::ObjectStore store_;
  std::shared_ptr<testing::FakeK8sClient> client_;
};

}  // namespace kubegrpc::bench

#endif  // TOOLS_BENCH_BENCH_UTIL_H_
