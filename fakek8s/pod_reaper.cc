#include "fakek8s/pod_reaper.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace fakek8s {

PodReaper::PodReaper(ObjectStore* store, absl::Duration termination_delay)
    : store_(store), termination_delay_(termination_delay), thread_([this] { Loop(); }) {}

PodReaper::~PodReaper() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::StatusOr<json> PodReaper::Delete(const std::string& ns, const std::string& name,
                                       std::optional<int64_t> grace) {
  if (grace && *grace <= 0) return store_->Delete(Resource::kPods, ns, name);
  absl::Time now = absl::Now();
  std::string uid;
  absl::StatusOr<json> marked = store_->Mutate(Resource::kPods, ns, name, [&](json& pod) {
    uid = pod["metadata"].value("uid", "");
    if (pod["metadata"].contains("deletionTimestamp")) return absl::OkStatus();
    int64_t seconds = grace.value_or(30);
    if (!grace && pod.contains("spec") && pod["spec"].is_object() &&
        pod["spec"].contains("terminationGracePeriodSeconds") &&
        pod["spec"]["terminationGracePeriodSeconds"].is_number_integer()) {
      seconds = pod["spec"]["terminationGracePeriodSeconds"].get<int64_t>();
    }
    pod["metadata"]["deletionTimestamp"] =
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now + absl::Seconds(seconds), absl::UTCTimeZone());
    pod["metadata"]["deletionGracePeriodSeconds"] = seconds;
    return absl::OkStatus();
  });
  if (!marked.ok()) return marked.status();
  if (termination_delay_ <= absl::ZeroDuration()) {
    absl::StatusOr<json> gone = store_->Delete(Resource::kPods, ns, name);
    return gone.ok() ? gone : marked;
  }
  absl::MutexLock lock(&mu_);
  removals_.push_back({now + termination_delay_, ns, name, uid});
  return marked;
}

void PodReaper::Loop() {
  while (true) {
    std::vector<PendingRemoval> due;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(20));
      if (stop_) return;
      const absl::Time now = absl::Now();
      auto split = std::partition(removals_.begin(), removals_.end(),
                                  [&](const PendingRemoval& r) { return r.when > now; });
      due.assign(split, removals_.end());
      removals_.erase(split, removals_.end());
    }
    for (const PendingRemoval& r : due) {
      // Only the pod that was deleted: a new pod under the same name stays.
      absl::StatusOr<json> pod = store_->Get(Resource::kPods, r.ns, r.name);
      if (pod.ok() && (*pod)["metadata"].value("uid", "") == r.uid) {
        (void)store_->Delete(Resource::kPods, r.ns, r.name);
      }
    }
  }
}

}  // namespace fakek8s
