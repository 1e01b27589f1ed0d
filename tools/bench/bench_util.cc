#include "tools/bench/bench_util.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kubegrpc::bench {

using json = nlohmann::json;

json Stats::ToJson() const {
  return {{"n", n},
          {"median_ms", median_ms},
          {"p99_ms", p99_ms},
          {"max_ms", max_ms},
          {"mean_ms", mean_ms}};
}

Stats Summarize(std::vector<absl::Duration> sample) {
  Stats s;
  s.n = static_cast<int>(sample.size());
  if (sample.empty()) return s;
  std::sort(sample.begin(), sample.end());
  auto at = [&](double q) {
    // Nearest rank.
    size_t rank = static_cast<size_t>(std::ceil(q * sample.size()));
    rank = std::clamp<size_t>(rank, 1, sample.size());
    return absl::ToDoubleMilliseconds(sample[rank - 1]);
  };
  s.median_ms = at(0.5);
  s.p99_ms = at(0.99);
  s.max_ms = absl::ToDoubleMilliseconds(sample.back());
  absl::Duration total;
  for (absl::Duration d : sample) total += d;
  s.mean_ms = absl::ToDoubleMilliseconds(total / s.n);
  return s;
}

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

json MakeSlice(const std::string& ns, const std::string& service, const std::string& name, int port,
               const std::vector<std::pair<std::string, bool>>& endpoints) {
  json eps = json::array();
  for (const auto& [address, ready] : endpoints) {
    eps.push_back(
        {{"addresses", {address}},
         {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}},
         {"targetRef", {{"kind", "Pod"}, {"name", "pod-" + address}, {"namespace", ns}}}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"resourceVersion", "1"},
            {"labels", {{"kubernetes.io/service-name", service}}}}},
          {"addressType", "IPv4"},
          {"endpoints", eps},
          {"ports", json::array({{{"name", "grpc"}, {"port", port}, {"protocol", "TCP"}}})}};
}

absl::Status WaitFor(const std::function<bool()>& done, absl::Duration timeout,
                     const std::string& what, absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("timed out waiting for " + what);
    absl::SleepFor(poll);
  }
  return absl::OkStatus();
}

SliceService::SliceService(const std::string& ns, const std::string& service,
                           std::vector<json> slices, std::function<void()> before_decode) {
  (void)store_.Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", ns}}}});
  (void)store_.Create(fakek8s::Resource::kServices,
                      {{"metadata", {{"name", service}, {"namespace", ns}}},
                       {"spec", {{"ports", json::array({{{"name", "grpc"}, {"port", 80}}})}}}});
  for (json& slice : slices) {
    slice["metadata"].erase("resourceVersion");
    (void)store_.Create(fakek8s::Resource::kEndpointSlices, std::move(slice));
  }
  client_ = std::make_shared<testing::FakeK8sClient>(
      testing::FakeK8sClient::Options{.store = &store_, .before_decode = std::move(before_decode)});
}

absl::Status SliceService::Replace(json slice) {
  slice["metadata"].erase("resourceVersion");
  return store_.Update(fakek8s::Resource::kEndpointSlices, std::move(slice)).status();
}

}  // namespace kubegrpc::bench
