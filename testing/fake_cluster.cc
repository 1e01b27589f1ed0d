#include "testing/fake_cluster.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kubegrpc::testing {

using json = nlohmann::json;

absl::StatusOr<std::unique_ptr<FakeCluster>> FakeCluster::Start(Options options) {
  fakek8s::FakeKubernetes::Options k8s_options;
  k8s_options.server.tls = options.tls;
  k8s_options.server.bookmark_interval = options.bookmark_interval;
  auto k8s = fakek8s::FakeKubernetes::Start(k8s_options);
  if (!k8s.ok()) return k8s.status();
  return std::unique_ptr<FakeCluster>(new FakeCluster(*std::move(k8s)));
}

FakeCluster::~FakeCluster() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, pod] : pods_) pod->Crash();
}

ClusterConfig FakeCluster::client_config(const std::string& ns) const {
  ClusterConfig config;
  config.server = k8s_->server().url();
  config.ca_pem = k8s_->server().ca_pem();
  config.ns = ns;
  config.source = "fake cluster";
  return config;
}

absl::Status FakeCluster::CreateDeployment(const DeploymentSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (deployments_.count(spec.name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("deployment ", spec.name, " exists"));
  }
  if (!k8s_->store().Get(fakek8s::Resource::kNamespaces, "", spec.ns).ok()) {
    absl::StatusOr<json> ns =
        k8s_->store().Create(fakek8s::Resource::kNamespaces, {{"metadata", {{"name", spec.ns}}}});
    if (!ns.ok()) return ns.status();
  }
  Deployment& d = deployments_[spec.name];
  d.spec = spec;
  // The first pod picks the port all pods share.
  for (int i = 0; i < spec.replicas; ++i) {
    if (absl::Status s = AddPodLocked(d); !s.ok()) return s;
  }
  absl::StatusOr<json> service = k8s_->store().Create(
      fakek8s::Resource::kServices,
      {{"metadata", {{"name", spec.name}, {"namespace", spec.ns}}},
       {"spec", {{"selector", {{"app", spec.name}}},
                 {"ports", json::array({{{"name", "grpc"},
                                         {"port", spec.service_port},
                                         {"targetPort", d.port}}})}}}});
  return service.status();
}

absl::Status FakeCluster::AddPodLocked(Deployment& d) {
  const std::string name = absl::StrCat(d.spec.name, "-", d.next_index++);
  const std::string ip = subnet_.Next();
  absl::StatusOr<std::unique_ptr<FakePod>> pod = FakePod::Start(name, ip, d.port, name);
  if (!pod.ok()) return pod.status();
  d.port = (*pod)->port();
  absl::StatusOr<json> created = k8s_->store().Create(
      fakek8s::Resource::kPods,
      {{"metadata", {{"name", name}, {"namespace", d.spec.ns}, {"labels", {{"app", d.spec.name}}}}},
       {"spec", {{"nodeName", "fake-node"},
                 {"containers", json::array({{{"name", d.spec.name},
                                              {"ports", json::array({{{"name", "grpc"},
                                                                      {"containerPort", d.port}}})}}})}}},
       {"status", {{"phase", "Running"},
                   {"podIP", ip},
                   {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}}}});
  if (!created.ok()) return created.status();
  pods_[name] = *std::move(pod);
  d.pods.push_back(name);
  RecordLocked(name, ClusterEvent::Kind::kCreated);
  if (d.spec.readiness_delay > absl::ZeroDuration()) absl::SleepFor(d.spec.readiness_delay);
  return SetReadyLocked(d.spec.ns, name, true);
}

const char* ClusterEventName(ClusterEvent::Kind kind) {
  switch (kind) {
    case ClusterEvent::Kind::kCreated: return "created";
    case ClusterEvent::Kind::kReady: return "ready";
    case ClusterEvent::Kind::kNotReady: return "not-ready";
    case ClusterEvent::Kind::kTerminating: return "terminating";
    case ClusterEvent::Kind::kStopped: return "stopped";
    case ClusterEvent::Kind::kDeleted: return "deleted";
    case ClusterEvent::Kind::kCrashed: return "crashed";
    case ClusterEvent::Kind::kRestarted: return "restarted";
    case ClusterEvent::Kind::kHung: return "hung";
  }
  return "?";
}

void FakeCluster::RecordLocked(const std::string& pod, ClusterEvent::Kind kind) {
  auto it = pods_.find(pod);
  ClusterEvent event{absl::Now(), pod, kind};
  if (it != pods_.end()) {
    event.served = it->second->served();
    event.last_call = it->second->last_call_at();
  }
  absl::MutexLock lock(&events_mu_);
  events_.push_back(std::move(event));
}

std::vector<ClusterEvent> FakeCluster::Events() const {
  absl::MutexLock lock(&events_mu_);
  return events_;
}

absl::Status FakeCluster::SetReadyLocked(const std::string& ns, const std::string& pod,
                                         bool ready) {
  RecordLocked(pod, ready ? ClusterEvent::Kind::kReady : ClusterEvent::Kind::kNotReady);
  return k8s_->store()
      .Mutate(fakek8s::Resource::kPods, ns, pod,
              [&](json& p) {
                p["status"]["conditions"] =
                    json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}});
                return absl::OkStatus();
              })
      .status();
}

FakeCluster::Deployment* FakeCluster::OwnerLocked(const std::string& pod) {
  for (auto& [name, d] : deployments_) {
    if (std::find(d.pods.begin(), d.pods.end(), pod) != d.pods.end()) return &d;
  }
  return nullptr;
}

absl::Status FakeCluster::ScaleTo(const std::string& deployment, int replicas) {
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return absl::NotFoundError("no deployment " + deployment);
  Deployment& d = it->second;
  while (static_cast<int>(d.pods.size()) < replicas) {
    if (absl::Status s = AddPodLocked(d); !s.ok()) return s;
  }
  while (static_cast<int>(d.pods.size()) > replicas) {
    if (absl::Status s = DeletePodLocked(d.pods.back(), absl::Milliseconds(200)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status FakeCluster::DeletePod(const std::string& pod, absl::Duration prestop_drain) {
  absl::MutexLock lock(&mu_);
  return DeletePodLocked(pod, prestop_drain);
}

absl::Status FakeCluster::DeletePodLocked(const std::string& pod, absl::Duration prestop_drain) {
  Deployment* d = OwnerLocked(pod);
  if (d == nullptr) return absl::NotFoundError("no pod " + pod);
  const std::string ns = d->spec.ns;
  // Terminating: the API reports it at once; the server drains (preStop) first.
  RecordLocked(pod, ClusterEvent::Kind::kTerminating);
  absl::StatusOr<json> marked = k8s_->store().Mutate(
      fakek8s::Resource::kPods, ns, pod, [](json& p) {
        p["metadata"]["deletionTimestamp"] = absl::FormatTime(
            "%Y-%m-%dT%H:%M:%SZ", absl::Now() + absl::Seconds(30), absl::UTCTimeZone());
        return absl::OkStatus();
      });
  if (!marked.ok()) return marked.status();
  d->pods.erase(std::find(d->pods.begin(), d->pods.end(), pod));
  absl::SleepFor(prestop_drain);
  pods_[pod]->Stop(absl::Seconds(1));
  RecordLocked(pod, ClusterEvent::Kind::kStopped);
  RecordLocked(pod, ClusterEvent::Kind::kDeleted);
  pods_.erase(pod);
  return k8s_->store().Delete(fakek8s::Resource::kPods, ns, pod).status();
}

absl::Status FakeCluster::CrashPod(const std::string& pod, absl::Duration restart_after) {
  absl::MutexLock lock(&mu_);
  Deployment* d = OwnerLocked(pod);
  if (d == nullptr) return absl::NotFoundError("no pod " + pod);
  pods_[pod]->Crash();
  RecordLocked(pod, ClusterEvent::Kind::kCrashed);
  if (absl::Status s = SetReadyLocked(d->spec.ns, pod, false); !s.ok()) return s;
  absl::SleepFor(restart_after);
  if (absl::Status s = pods_[pod]->Restart(); !s.ok()) return s;
  RecordLocked(pod, ClusterEvent::Kind::kRestarted);
  if (d->spec.readiness_delay > absl::ZeroDuration()) absl::SleepFor(d->spec.readiness_delay);
  return SetReadyLocked(d->spec.ns, pod, true);
}

absl::Status FakeCluster::HangPod(const std::string& pod, absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  if (OwnerLocked(pod) == nullptr) return absl::NotFoundError("no pod " + pod);
  RecordLocked(pod, ClusterEvent::Kind::kHung);
  pods_[pod]->Hang(duration);
  return absl::OkStatus();
}

absl::Status FakeCluster::SetPodReady(const std::string& pod, bool ready) {
  absl::MutexLock lock(&mu_);
  Deployment* d = OwnerLocked(pod);
  if (d == nullptr) return absl::NotFoundError("no pod " + pod);
  pods_[pod]->SetServing(ready);
  return SetReadyLocked(d->spec.ns, pod, ready);
}

absl::Status FakeCluster::RecreatePod(const std::string& pod) {
  absl::MutexLock lock(&mu_);
  Deployment* d = OwnerLocked(pod);
  if (d == nullptr) return absl::NotFoundError("no pod " + pod);
  if (absl::Status s = DeletePodLocked(pod, absl::Milliseconds(200)); !s.ok()) return s;
  return AddPodLocked(*d);
}

absl::Status FakeCluster::RollingUpdate(const std::string& deployment, int max_surge,
                                       int max_unavailable) {
  if (max_surge < 0 || max_unavailable < 0 || max_surge + max_unavailable == 0) {
    return absl::InvalidArgumentError("max_surge and max_unavailable must not both be 0");
  }
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return absl::NotFoundError("no deployment " + deployment);
  Deployment& d = it->second;
  std::vector<std::string> old = d.pods;
  size_t next = 0;
  while (next < old.size()) {
    const size_t round = std::min(old.size() - next, static_cast<size_t>(max_surge + max_unavailable));
    const size_t early = std::min(round, static_cast<size_t>(max_unavailable));
    // Up to max_unavailable old pods may go before their replacements are ready...
    for (size_t i = 0; i < early; ++i) {
      if (absl::Status s = DeletePodLocked(old[next + i], absl::Milliseconds(200)); !s.ok()) return s;
    }
    for (size_t i = 0; i < round; ++i) {
      if (absl::Status s = AddPodLocked(d); !s.ok()) return s;
    }
    // ...the rest only once the new pods are ready.
    for (size_t i = early; i < round; ++i) {
      if (absl::Status s = DeletePodLocked(old[next + i], absl::Milliseconds(200)); !s.ok()) return s;
    }
    next += round;
  }
  return absl::OkStatus();
}

std::vector<std::string> FakeCluster::Pods(const std::string& deployment) {
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  return it == deployments_.end() ? std::vector<std::string>() : it->second.pods;
}

FakePod* FakeCluster::pod(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find(name);
  return it == pods_.end() ? nullptr : it->second.get();
}

}  // namespace kubegrpc::testing
