#include "kubegrpc/picker.h"

#include <utility>

namespace kubegrpc {

int PoolEndpoint::NextCacheSlot() {
  static std::atomic<int> next{0};
  return next.fetch_add(1);
}

StatusCodeMask MaskOf(const std::vector<grpc::StatusCode>& codes) {
  StatusCodeMask mask = 0;
  for (grpc::StatusCode code : codes) {
    const int c = static_cast<int>(code);
    if (c >= 0 && c < 32) mask |= 1u << c;
  }
  return mask;
}

void CallCounters::Finished(grpc::StatusCode code, absl::Duration latency) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  finished_.fetch_add(1, std::memory_order_relaxed);
  if (latency > absl::ZeroDuration()) {
    latency_ns_.fetch_add(absl::ToInt64Nanoseconds(latency), std::memory_order_relaxed);
  }
  const int c = static_cast<int>(code);
  if (c >= 0 && c < kCodes) by_code_[c].fetch_add(1, std::memory_order_relaxed);
  if (code != grpc::StatusCode::OK) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    last_failure_code_.store(c, std::memory_order_relaxed);
    last_failure_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
  }
  if (!InMask(rules_.failure_codes, code)) {
    // Success, or a failure of the request rather than of the endpoint.
    if (code == grpc::StatusCode::OK) interval_successes_.fetch_add(1, std::memory_order_relaxed);
    if (streak_.load(std::memory_order_relaxed) != 0) {
      streak_.store(0, std::memory_order_relaxed);
    }
    return;
  }
  interval_failures_.fetch_add(1, std::memory_order_relaxed);
  const int64_t run = streak_.fetch_add(1, std::memory_order_relaxed) + 1;
  // At the run's threshold, and again after each as many more failures (the
  // pool may have had no room to eject it the first time).
  if (rules_.consecutive_failures > 0 && run % rules_.consecutive_failures == 0 &&
      rules_.on_streak) {
    rules_.on_streak(*this);
  }
}

CallCounters::Interval CallCounters::TakeInterval() {
  Interval out;
  out.successes = interval_successes_.exchange(0, std::memory_order_relaxed);
  out.failures = interval_failures_.exchange(0, std::memory_order_relaxed);
  return out;
}

PoolEndpoint::PoolEndpoint(std::string host_port, std::string pod_name,
                           std::shared_ptr<grpc::Channel> channel,
                           std::shared_ptr<CallCounters> calls, bool counted_by_channel)
    : host_port_(std::move(host_port)),
      pod_name_(std::move(pod_name)),
      channel_(std::move(channel)),
      calls_(calls != nullptr ? std::move(calls) : std::make_shared<CallCounters>()),
      counted_by_channel_(counted_by_channel) {}

PoolEndpoint::~PoolEndpoint() {
  for (int i = 0; i < kCacheSlots; ++i) {
    void* p = cache_[i].load();
    void (*deleter)(void*) = cache_deleters_[i].load();
    if (p != nullptr && deleter != nullptr) deleter(p);
  }
}

PickerLink::~PickerLink() {
  std::shared_ptr<PickerLink> n = std::move(next);
  // Unlink the chain one link at a time while this is its only owner.
  while (n != nullptr && n.use_count() == 1) {
    std::shared_ptr<PickerLink> after = std::move(n->next);
    n = std::move(after);
  }
}

namespace {

std::vector<PoolEndpoint*> Raw(const std::vector<std::shared_ptr<PoolEndpoint>>& endpoints) {
  std::vector<PoolEndpoint*> raw;
  raw.reserve(endpoints.size());
  for (const auto& e : endpoints) raw.push_back(e.get());
  return raw;
}

std::shared_ptr<const PickerLink> Owning(std::vector<std::shared_ptr<PoolEndpoint>> endpoints) {
  auto link = std::make_shared<PickerLink>();
  link->retired = std::move(endpoints);
  return link;
}

}  // namespace

Picker::Picker(std::vector<std::shared_ptr<PoolEndpoint>> endpoints, uint64_t start,
               absl::Status empty_status, PickPolicy policy)
    : endpoints_(Raw(endpoints)),
      keep_(Owning(std::move(endpoints))),
      next_(start),
      empty_status_(std::move(empty_status)),
      policy_(policy) {}

void StateCounts::Add(ChannelState state, int64_t n) {
  switch (state) {
    case ChannelState::kReady:
      ready += n;
      break;
    case ChannelState::kTransientFailure:
    case ChannelState::kShutdown:
      failing += n;
      break;
    case ChannelState::kIdle:
    case ChannelState::kConnecting:
      other += n;
      break;
  }
}

PickTier ChoosePickTier(const StateCounts& counts) {
  if (counts.ready > 0) return PickTier::kReady;
  if (counts.other > 0) return PickTier::kNotFailing;
  return PickTier::kAll;
}

bool InPickTier(PickTier tier, ChannelState state) {
  switch (tier) {
    case PickTier::kReady:
      return state == ChannelState::kReady;
    case PickTier::kNotFailing:
      return state != ChannelState::kTransientFailure && state != ChannelState::kShutdown;
    case PickTier::kAll:
      return true;
  }
  return true;
}

}  // namespace kubegrpc
