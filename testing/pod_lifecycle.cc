#include "testing/pod_lifecycle.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/endpoint_controller.h"

namespace kubegrpc::testing {
namespace {

using json = nlohmann::json;

class WallTimeline : public Timeline {
 public:
  absl::Time Now() override { return absl::Now(); }
  void After(absl::Duration delay, std::function<void()> step) override {
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    step();
  }
};

absl::Status NoPod(const std::string& pod) { return absl::NotFoundError("no pod " + pod); }

}  // namespace

Timeline* RealTimeline() {
  static WallTimeline* const kTimeline = new WallTimeline();
  return kTimeline;
}

const char* ClusterEventName(ClusterEvent::Kind kind) {
  switch (kind) {
    case ClusterEvent::Kind::kCreated:
      return "created";
    case ClusterEvent::Kind::kReady:
      return "ready";
    case ClusterEvent::Kind::kNotReady:
      return "not-ready";
    case ClusterEvent::Kind::kTerminating:
      return "terminating";
    case ClusterEvent::Kind::kStopped:
      return "stopped";
    case ClusterEvent::Kind::kDeleted:
      return "deleted";
    case ClusterEvent::Kind::kCrashed:
      return "crashed";
    case ClusterEvent::Kind::kRestarted:
      return "restarted";
    case ClusterEvent::Kind::kHung:
      return "hung";
  }
  return "?";
}

PodLifecycle::PodLifecycle(fakek8s::ObjectStore* store, PodRuntime* runtime, Timeline* timeline,
                           Options options)
    : store_(store), runtime_(runtime), timeline_(timeline), options_(options) {}

PodLifecycle::Deployment* PodLifecycle::Find(const std::string& deployment) {
  auto it = deployments_.find(deployment);
  return it == deployments_.end() ? nullptr : &it->second;
}

PodLifecycle::Deployment* PodLifecycle::OwnerOf(const std::string& pod) {
  for (auto& [name, d] : deployments_) {
    if (std::find(d.pods.begin(), d.pods.end(), pod) != d.pods.end()) return &d;
  }
  return nullptr;
}

std::vector<std::string> PodLifecycle::Pods(const std::string& deployment) const {
  auto it = deployments_.find(deployment);
  return it == deployments_.end() ? std::vector<std::string>() : it->second.pods;
}

const PodLifecycle::PodStatus* PodLifecycle::Status(const std::string& pod) const {
  auto it = pods_.find(pod);
  return it == pods_.end() ? nullptr : &it->second;
}

std::string PodLifecycle::PodAt(const std::string& address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? "" : it->second;
}

const DeploymentSpec* PodLifecycle::Spec(const std::string& deployment) const {
  auto it = deployments_.find(deployment);
  return it == deployments_.end() ? nullptr : &it->second.spec;
}

std::vector<ClusterEvent> PodLifecycle::Events() const {
  absl::MutexLock lock(&events_mu_);
  return events_;
}

void PodLifecycle::Record(const std::string& pod, ClusterEvent::Kind kind) {
  ClusterEvent event{timeline_->Now(), pod, kind, runtime_->Served(pod), runtime_->LastCall(pod)};
  if (observer_) observer_(event);
  absl::MutexLock lock(&events_mu_);
  events_.push_back(std::move(event));
}

absl::Status PodLifecycle::CreateDeployment(const DeploymentSpec& spec) {
  error_ = absl::OkStatus();
  if (deployments_.count(spec.name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("deployment ", spec.name, " exists"));
  }
  if (!store_->Get(fakek8s::Resource::kNamespaces, "", spec.ns).ok()) {
    absl::StatusOr<json> ns =
        store_->Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", spec.ns}}}});
    if (!ns.ok()) return ns.status();
  }
  Deployment& d = deployments_[spec.name];
  d.spec = spec;
  // The first pod picks the port all pods share.
  for (int i = 0; i < spec.replicas; ++i) {
    if (absl::Status s = AddPod(d, options_.initial_pods_wait_for_readiness, nullptr); !s.ok()) {
      return s;
    }
  }
  json service_spec = {
      {"selector", {{"app", spec.name}}},
      {"ports",
       json::array({{{"name", "grpc"}, {"port", spec.service_port}, {"targetPort", d.port}}})}};
  if (!spec.traffic_distribution.empty()) {
    service_spec["trafficDistribution"] = spec.traffic_distribution;
  }
  json metadata = {{"name", spec.name}, {"namespace", spec.ns}};
  if (!spec.service_annotations.empty()) metadata["annotations"] = spec.service_annotations;
  absl::StatusOr<json> service = store_->Create(fakek8s::Resource::kServices,
                                                {{"metadata", metadata}, {"spec", service_spec}});
  if (!service.ok()) return service.status();
  return error_;
}

absl::Status PodLifecycle::AddPod(Deployment& d, bool wait_for_readiness,
                                  std::function<void()> on_ready) {
  const int index = d.next_index++;
  const std::string name = absl::StrCat(d.spec.name, "-", index);
  const std::string zone =
      d.spec.zones.empty() ? "" : d.spec.zones[static_cast<size_t>(index) % d.spec.zones.size()];
  const std::string node = zone.empty() ? "fake-node" : absl::StrCat("fake-node-", zone);
  if (absl::Status s = EnsureNode(node, zone); !s.ok()) return s;
  const std::string ip = runtime_->NextIp();
  absl::StatusOr<int> port = runtime_->Start(name, ip, d.port);
  if (!port.ok()) return port.status();
  d.port = *port;
  PodStatus& status = pods_[name];
  status.deployment = d.spec.name;
  status.address = absl::StrCat(ip, ":", d.port);
  status.node = node;
  status.zone = zone;
  by_address_[status.address] = name;
  absl::StatusOr<json> created = store_->Create(
      fakek8s::Resource::kPods,
      {{"metadata", {{"name", name}, {"namespace", d.spec.ns}, {"labels", {{"app", d.spec.name}}}}},
       {"spec",
        {{"nodeName", node},
         {"containers", json::array({{{"name", d.spec.name},
                                      {"ports", json::array({{{"name", "grpc"},
                                                              {"containerPort", d.port}}})}}})}}},
       {"status",
        {{"phase", "Running"},
         {"podIP", ip},
         {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}}}});
  if (!created.ok()) return created.status();
  d.pods.push_back(name);
  Record(name, ClusterEvent::Kind::kCreated);
  auto ready = [this, name, on_ready = std::move(on_ready)] {
    const PodStatus* s = Status(name);
    if (s == nullptr || s->terminating || s->deleted) return;
    if (absl::Status w = WriteReady(name, true); !w.ok()) return Fail(w);
    if (on_ready) on_ready();
  };
  if (!wait_for_readiness || d.spec.readiness_delay <= absl::ZeroDuration()) {
    ready();
  } else {
    timeline_->After(d.spec.readiness_delay, ready);
  }
  return absl::OkStatus();
}

absl::Status PodLifecycle::EnsureNode(const std::string& name, const std::string& zone) {
  if (store_->Get(fakek8s::Resource::kNodes, "", name).ok()) return absl::OkStatus();
  absl::StatusOr<json> created =
      store_->Create(fakek8s::Resource::kNodes, fakek8s::ReadyNode(name, zone));
  if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
    return created.status();
  }
  return absl::OkStatus();
}

absl::Status PodLifecycle::WriteReady(const std::string& pod, bool ready) {
  PodStatus& status = pods_[pod];
  const DeploymentSpec& spec = deployments_[status.deployment].spec;
  Record(pod, ready ? ClusterEvent::Kind::kReady : ClusterEvent::Kind::kNotReady);
  status.ready = ready;
  return store_
      ->Mutate(fakek8s::Resource::kPods, spec.ns, pod,
               [&](json& p) {
                 p["status"]["conditions"] =
                     json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}});
                 return absl::OkStatus();
               })
      .status();
}

absl::Status PodLifecycle::Scale(const std::string& deployment, int replicas,
                                 absl::Duration drain) {
  error_ = absl::OkStatus();
  Deployment* d = Find(deployment);
  if (d == nullptr) return absl::NotFoundError("no deployment " + deployment);
  while (static_cast<int>(d->pods.size()) < replicas) {
    if (absl::Status s = AddPod(*d, /*wait_for_readiness=*/true, nullptr); !s.ok()) return s;
  }
  while (static_cast<int>(d->pods.size()) > replicas) {
    if (absl::Status s = Remove(d->pods.back(), drain); !s.ok()) return s;
  }
  return error_;
}

absl::Status PodLifecycle::Delete(const std::string& pod, absl::Duration drain) {
  error_ = absl::OkStatus();
  if (absl::Status s = Remove(pod, drain); !s.ok()) return s;
  return error_;
}

absl::Status PodLifecycle::Remove(const std::string& pod, absl::Duration drain) {
  Deployment* d = OwnerOf(pod);
  if (d == nullptr) return NoPod(pod);
  const std::string ns = d->spec.ns;
  // Terminating: the API reports it at once; the process drains (preStop) first.
  Record(pod, ClusterEvent::Kind::kTerminating);
  pods_[pod].terminating = true;
  const std::string deletion = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", timeline_->Now() + absl::Seconds(30), absl::UTCTimeZone());
  absl::StatusOr<json> marked = store_->Mutate(fakek8s::Resource::kPods, ns, pod, [&](json& p) {
    p["metadata"]["deletionTimestamp"] = deletion;
    return absl::OkStatus();
  });
  if (!marked.ok()) return marked.status();
  d->pods.erase(std::find(d->pods.begin(), d->pods.end(), pod));
  timeline_->After(drain, [this, pod, ns] {
    runtime_->Stop(pod);
    PodStatus& status = pods_[pod];
    status.running = false;
    Record(pod, ClusterEvent::Kind::kStopped);
    status.deleted = true;
    Record(pod, ClusterEvent::Kind::kDeleted);
    Fail(store_->Delete(fakek8s::Resource::kPods, ns, pod).status());
  });
  return absl::OkStatus();
}

absl::Status PodLifecycle::Crash(const std::string& pod, absl::Duration restart_after) {
  error_ = absl::OkStatus();
  Deployment* d = OwnerOf(pod);
  if (d == nullptr) return NoPod(pod);
  const absl::Duration readiness = d->spec.readiness_delay;
  runtime_->Crash(pod);
  pods_[pod].running = false;
  Record(pod, ClusterEvent::Kind::kCrashed);
  if (absl::Status s = WriteReady(pod, false); !s.ok()) return s;
  timeline_->After(restart_after, [this, pod, readiness] {
    if (absl::Status s = runtime_->Restart(pod); !s.ok()) return Fail(s);
    pods_[pod].running = true;
    Record(pod, ClusterEvent::Kind::kRestarted);
    timeline_->After(readiness, [this, pod] {
      const PodStatus& s = pods_[pod];
      if (!s.terminating && !s.deleted) Fail(WriteReady(pod, true));
    });
  });
  return error_;
}

absl::Status PodLifecycle::Hang(const std::string& pod, absl::Duration duration) {
  error_ = absl::OkStatus();
  Deployment* d = OwnerOf(pod);
  if (d == nullptr) return NoPod(pod);
  Record(pod, ClusterEvent::Kind::kHung);
  runtime_->Hang(pod, duration);
  pods_[pod].hung_until = timeline_->Now() + duration;
  const absl::Duration detect = options_.readiness_probe_detects_after;
  if (duration > detect) {
    // The kubelet's readiness probe gives up on it, and sees it again after.
    const absl::Duration back = duration + d->spec.readiness_delay;
    timeline_->After(detect, [this, pod, back, detect] {
      Fail(WriteReady(pod, false));
      timeline_->After(back - detect, [this, pod] {
        const PodStatus& s = pods_[pod];
        if (!s.terminating && !s.deleted) Fail(WriteReady(pod, true));
      });
    });
  }
  return error_;
}

absl::Status PodLifecycle::SetReady(const std::string& pod, bool ready) {
  if (OwnerOf(pod) == nullptr) return NoPod(pod);
  runtime_->SetServing(pod, ready);
  return WriteReady(pod, ready);
}

absl::Status PodLifecycle::Recreate(const std::string& pod, absl::Duration drain) {
  error_ = absl::OkStatus();
  Deployment* d = OwnerOf(pod);
  if (d == nullptr) return NoPod(pod);
  if (absl::Status s = Remove(pod, drain); !s.ok()) return s;
  if (absl::Status s = AddPod(*d, /*wait_for_readiness=*/true, nullptr); !s.ok()) return s;
  return error_;
}

absl::Status PodLifecycle::Rollout(const std::string& deployment, int max_surge,
                                   int max_unavailable, absl::Duration drain) {
  error_ = absl::OkStatus();
  if (max_surge < 0 || max_unavailable < 0 || max_surge + max_unavailable == 0) {
    return absl::InvalidArgumentError("max_surge and max_unavailable must not both be 0");
  }
  Deployment* d = Find(deployment);
  if (d == nullptr) return absl::NotFoundError("no deployment " + deployment);
  RolloutRound(deployment, d->pods, 0, max_surge, max_unavailable, drain);
  return error_;
}

absl::Status PodLifecycle::Apply(const StepAction& action, absl::Duration drain) {
  using Verb = StepAction::Verb;
  switch (action.verb) {
    case Verb::kScale:
      return Scale(action.target, action.replicas, drain);
    case Verb::kDelete:
      return Delete(action.target, drain);
    case Verb::kCrash:
      return Crash(action.target, action.duration);
    case Verb::kRecreate:
      return Recreate(action.target, drain);
    case Verb::kReady:
      return SetReady(action.target, action.ready);
    case Verb::kRollout:
      return Rollout(action.target, 1, 0, drain);
    case Verb::kHang:
      return Hang(action.target, action.duration);
    case Verb::kOutage:
    case Verb::kCompact:
    case Verb::kDropWatches:
      break;
  }
  return absl::InvalidArgumentError("scenario: not an action on pods");
}

void PodLifecycle::RolloutRound(const std::string& deployment, std::vector<std::string> old,
                                size_t next, int max_surge, int max_unavailable,
                                absl::Duration drain) {
  if (next >= old.size()) return;
  Deployment* d = Find(deployment);
  const size_t round =
      std::min(old.size() - next, static_cast<size_t>(max_surge + max_unavailable));
  const size_t early = std::min(round, static_cast<size_t>(max_unavailable));
  // Up to max_unavailable old pods may go before their replacements are ready...
  for (size_t i = 0; i < early; ++i) {
    if (absl::Status s = Remove(old[next + i], drain); !s.ok()) return Fail(s);
  }
  // ...the rest only once the new pods are ready; then the next round.
  auto waiting = std::make_shared<size_t>(round);
  auto round_done = [this, deployment, old, next, round, early, max_surge, max_unavailable, drain,
                     waiting] {
    if (--*waiting > 0) return;
    timeline_->After(options_.rollout_settle, [=] {
      for (size_t i = early; i < round; ++i) {
        if (absl::Status s = Remove(old[next + i], drain); !s.ok()) return Fail(s);
      }
      RolloutRound(deployment, old, next + round, max_surge, max_unavailable, drain);
    });
  };
  for (size_t i = 0; i < round; ++i) {
    if (absl::Status s = AddPod(*d, /*wait_for_readiness=*/true, round_done); !s.ok()) {
      return Fail(s);
    }
  }
}

}  // namespace kubegrpc::testing
