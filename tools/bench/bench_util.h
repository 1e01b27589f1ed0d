// File: tools/bench/bench_util.h
// -----------------------------------------------------------------------------
// Small helpers shared by the benchmark sections: percentiles over durations,
// resident memory, and a scripted K8sClient that serves EndpointSlice JSON
// (decoded by the same code HttpK8sClient uses) and lets a benchmark push watch
// events one at a time.
//
// Thread-safety: ScriptedSliceClient is thread-safe; the rest are functions.

#ifndef TOOLS_BENCH_BENCH_UTIL_H_
#define TOOLS_BENCH_BENCH_UTIL_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/k8s_client.h"
#include "nlohmann/json.hpp"

namespace kubegrpc::bench {

// Summary of a sample of durations, in milliseconds.
struct Stats {
  int n = 0;
  double median_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  nlohmann::json ToJson() const;
};
Stats Summarize(std::vector<absl::Duration> sample);

// This process's resident set size in bytes (0 if unknown).
int64_t ResidentBytes();

// An EndpointSlice named `name` for Service `service` with one port "grpc" and
// the given (address, ready) endpoints.
nlohmann::json MakeSlice(const std::string& ns, const std::string& service,
                         const std::string& name, int port,
                         const std::vector<std::pair<std::string, bool>>& endpoints);

// A K8sClient whose list is a fixed set of EndpointSlice objects (kept as JSON
// text and decoded on every call) and whose one watch stream delivers the lines
// pushed with Push(), recording for each the time just before it was decoded.
class ScriptedSliceClient : public K8sClient {
 public:
  ScriptedSliceClient(std::string ns, std::string service, int service_port,
                      std::vector<nlohmann::json> slices);

  // Queues one watch line ({"type": ..., "object": ...}).
  void Push(std::string line) ABSL_LOCKS_EXCLUDED(mu_);
  // When the watch began decoding the n-th pushed line (InfinitePast if not yet).
  absl::Time DecodedAt(size_t n) const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t lists() const ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name) override;
  absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource source, const std::string& ns,
                                                   const std::string& service) override;
  absl::Status WatchEndpoints(EndpointSource source, const std::string& ns,
                              const std::string& service, const WatchRequest& request,
                              const std::function<void(const WatchEvent&)>& on_event,
                              Cancellation* cancel) override;

 private:
  const std::string ns_;
  const std::string service_;
  const int service_port_;
  std::string list_body_;
  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> decoded_at_ ABSL_GUARDED_BY(mu_);
  size_t pushed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t lists_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kubegrpc::bench

#endif  // TOOLS_BENCH_BENCH_UTIL_H_
