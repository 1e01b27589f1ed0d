#include "tools/bench/bench_util.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kubegrpc/internal/k8s_json.h"

namespace kubegrpc::bench {

using json = nlohmann::json;

json Stats::ToJson() const {
  return {{"n", n}, {"median_ms", median_ms}, {"p99_ms", p99_ms}, {"max_ms", max_ms},
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

json MakeSlice(const std::string& ns, const std::string& service, const std::string& name,
               int port, const std::vector<std::pair<std::string, bool>>& endpoints) {
  json eps = json::array();
  for (const auto& [address, ready] : endpoints) {
    eps.push_back({{"addresses", {address}},
                   {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}},
                   {"targetRef", {{"kind", "Pod"}, {"name", "pod-" + address}, {"namespace", ns}}}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", "1"},
                        {"labels", {{"kubernetes.io/service-name", service}}}}},
          {"addressType", "IPv4"},
          {"endpoints", eps},
          {"ports", json::array({{{"name", "grpc"}, {"port", port}, {"protocol", "TCP"}}})}};
}

ScriptedSliceClient::ScriptedSliceClient(std::string ns, std::string service, int service_port,
                                         std::vector<json> slices)
    : ns_(std::move(ns)), service_(std::move(service)), service_port_(service_port) {
  json list = {{"apiVersion", "discovery.k8s.io/v1"},
               {"kind", "EndpointSliceList"},
               {"metadata", {{"resourceVersion", "1"}}},
               {"items", std::move(slices)}};
  list_body_ = list.dump();
}

void ScriptedSliceClient::Push(std::string line) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(line));
  ++pushed_;
}

absl::Time ScriptedSliceClient::DecodedAt(size_t n) const {
  absl::MutexLock lock(&mu_);
  return n < decoded_at_.size() ? decoded_at_[n] : absl::InfinitePast();
}

int64_t ScriptedSliceClient::lists() const {
  absl::MutexLock lock(&mu_);
  return lists_;
}

absl::StatusOr<ServiceInfo> ScriptedSliceClient::GetService(const std::string& ns,
                                                            const std::string& name) {
  if (ns != ns_ || name != service_) {
    return absl::NotFoundError(absl::StrCat("services \"", name, "\" not found"));
  }
  return ServiceInfo{ns, name, {{"grpc", service_port_, "TCP"}}};
}

absl::StatusOr<EndpointObjectList> ScriptedSliceClient::ListEndpoints(EndpointSource source,
                                                                      const std::string&,
                                                                      const std::string&) {
  {
    absl::MutexLock lock(&mu_);
    ++lists_;
  }
  return internal::DecodeEndpointList(source, list_body_);
}

absl::Status ScriptedSliceClient::WatchEndpoints(
    EndpointSource source, const std::string&, const std::string&, const WatchRequest& request,
    const std::function<void(const WatchEvent&)>& on_event, Cancellation* cancel) {
  bool cancelled = false;
  cancel->SetCallback([this, &cancelled] {
    absl::MutexLock lock(&mu_);
    cancelled = true;
  });
  const absl::Time end = absl::Now() + request.timeout;
  while (true) {
    std::string line;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&] {
        mu_.AssertReaderHeld();
        return cancelled || !queue_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&ready), end);
      if (cancelled || queue_.empty()) break;
      line = std::move(queue_.front());
      queue_.pop_front();
      decoded_at_.push_back(absl::Now());
    }
    absl::StatusOr<WatchEvent> event = internal::DecodeWatchEvent(source, line);
    if (!event.ok()) {
      cancel->SetCallback(nullptr);
      return event.status();
    }
    on_event(*event);
  }
  cancel->SetCallback(nullptr);
  return absl::OkStatus();
}

}  // namespace kubegrpc::bench
