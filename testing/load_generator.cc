#include "testing/load_generator.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace kubegrpc::testing {

namespace {
const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    default:
      return "OTHER";
  }
}
}  // namespace

int LoadReport::FirstIntervalWith(const std::string& pod, int from) const {
  for (int i = std::max(0, from); i < static_cast<int>(timeline.size()); ++i) {
    auto it = timeline[i].find(pod);
    if (it != timeline[i].end() && it->second > 0) return i;
  }
  return -1;
}

int LoadReport::LastIntervalWith(const std::string& pod) const {
  for (int i = static_cast<int>(timeline.size()) - 1; i >= 0; --i) {
    auto it = timeline[i].find(pod);
    if (it != timeline[i].end() && it->second > 0) return i;
  }
  return -1;
}

LoadGenerator::~LoadGenerator() {
  if (!threads_.empty()) Stop();
}

void LoadGenerator::Start() {
  start_ = absl::Now();
  stop_ = false;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Worker(i); });
}

LoadReport LoadGenerator::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  return Snapshot();
}

int LoadGenerator::CurrentInterval() const {
  return static_cast<int>((absl::Now() - start_) / options_.interval);
}

std::map<std::string, int64_t> LoadGenerator::CallsIn(int interval) const {
  absl::MutexLock lock(&mu_);
  if (interval < 0 || interval >= static_cast<int>(report_.timeline.size())) return {};
  return report_.timeline[interval];
}

void LoadGenerator::Worker(int index) {
  const absl::Duration period =
      options_.rate > 0 ? absl::Seconds(options_.threads / options_.rate) : absl::ZeroDuration();
  absl::Time next = absl::Now() + period * index / std::max(1, options_.threads);
  std::unique_ptr<Echo::Stub> channel_stub =
      channel_ != nullptr ? Echo::NewStub(channel_) : nullptr;
  while (!stop_.load()) {
    if (period > absl::ZeroDuration()) {
      absl::Time now = absl::Now();
      if (next > now) absl::SleepFor(next - now);
      next += period;
    }
    EchoRequest request;
    request.set_message("load");
    EchoResponse response;
    const absl::Time begin = absl::Now();
    grpc::Status status;
    if (channel_stub != nullptr) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
      status = channel_stub->Echo(&context, request, &response);
    } else if (options_.retry) {
      CallOptions call;
      call.idempotent = true;
      call.timeout = options_.call_timeout;
      status = Call(handle_, &Echo::Stub::Echo, request, &response, call);
    } else {
      absl::StatusOr<std::shared_ptr<Echo::Stub>> stub = handle_.Next();
      if (!stub.ok()) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(stub.status().message()));
      } else {
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
        status = (*stub)->Echo(&context, request, &response);
      }
    }
    Record(status, response.pod_name(), absl::Now() - begin);
  }
}

void LoadGenerator::Record(const grpc::Status& status, const std::string& pod,
                           absl::Duration latency) {
  const int interval = CurrentInterval();
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    ++report_.ok;
    ++report_.by_pod[pod];
    if (static_cast<int>(report_.timeline.size()) <= interval) {
      report_.timeline.resize(interval + 1);
    }
    ++report_.timeline[interval][pod];
    latencies_.push_back(latency);
  } else {
    ++report_.failed;
    ++report_.failures[CodeName(status.error_code())];
    if (static_cast<int>(report_.failed_timeline.size()) <= interval) {
      report_.failed_timeline.resize(interval + 1);
    }
    ++report_.failed_timeline[interval];
  }
}

LoadReport LoadGenerator::Snapshot() const {
  absl::MutexLock lock(&mu_);
  LoadReport report = report_;
  report.interval = options_.interval;
  // Both timelines cover the same intervals.
  const size_t n = std::max(report.timeline.size(), report.failed_timeline.size());
  report.timeline.resize(n);
  report.failed_timeline.resize(n);
  std::vector<absl::Duration> sorted = latencies_;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    report.p50 = sorted[sorted.size() / 2];
    report.p99 = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  }
  return report;
}

}  // namespace kubegrpc::testing
