#include "testing/fake_cluster.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kubegrpc::testing {

absl::StatusOr<std::unique_ptr<FakeCluster>> FakeCluster::Start(Options options) {
  fakek8s::FakeKubernetes::Options k8s_options;
  k8s_options.server.tls = options.tls;
  k8s_options.server.bookmark_interval = options.bookmark_interval;
  k8s_options.server.events_namespace = options.events_namespace;
  auto k8s = fakek8s::FakeKubernetes::Start(k8s_options);
  if (!k8s.ok()) return k8s.status();
  return std::unique_ptr<FakeCluster>(new FakeCluster(*std::move(k8s)));
}

FakeCluster::FakeCluster(std::unique_ptr<fakek8s::FakeKubernetes> k8s)
    : k8s_(std::move(k8s)),
      lifecycle_(&k8s_->store(), &runtime_, RealTimeline(), PodLifecycle::Options()) {}

FakeCluster::~FakeCluster() { runtime_.CrashAll(); }

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
  return lifecycle_.CreateDeployment(spec);
}

absl::Status FakeCluster::ScaleTo(const std::string& deployment, int replicas) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.Scale(deployment, replicas, absl::Milliseconds(200));
}

absl::Status FakeCluster::DeletePod(const std::string& pod, absl::Duration prestop_drain) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.Delete(pod, prestop_drain);
}

absl::Status FakeCluster::CrashPod(const std::string& pod, absl::Duration restart_after) {
  RecordFault(StepAction{StepAction::Verb::kCrash, pod, 0, restart_after});
  absl::MutexLock lock(&mu_);
  return lifecycle_.Crash(pod, restart_after);
}

absl::Status FakeCluster::HangPod(const std::string& pod, absl::Duration duration) {
  RecordFault(StepAction{StepAction::Verb::kHang, pod, 0, duration});
  absl::MutexLock lock(&mu_);
  return lifecycle_.Hang(pod, duration);
}

void FakeCluster::RecordFault(const StepAction& action) {
  std::string what;
  if (action.verb == StepAction::Verb::kCrash) {
    what = absl::StrCat("crash: the pod's server stops at once; it restarts on the same IP after ",
                        absl::FormatDuration(action.duration));
  } else if (action.verb == StepAction::Verb::kHang) {
    what = absl::StrCat("hang: the pod's server accepts calls but answers none for ",
                        absl::FormatDuration(action.duration), " (the API still reports it ready)");
  } else {
    return;
  }
  // The pod, wherever its namespace: the event is about it.
  for (const fakek8s::json& p : k8s_->store().List(fakek8s::Resource::kPods, "").items) {
    if (p["metadata"].value("name", "") != action.target) continue;
    fakek8s::EventRecord record;
    record.involved = fakek8s::EventRecorder::ReferenceTo(p);
    record.type = "Warning";
    record.reason = "FaultInjected";
    record.message = what;
    record.component = "kube-grpc testing";
    k8s_->events().Record(record);
    return;
  }
}

absl::Status FakeCluster::SetPodReady(const std::string& pod, bool ready) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.SetReady(pod, ready);
}

absl::Status FakeCluster::RecreatePod(const std::string& pod) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.Recreate(pod, absl::Milliseconds(200));
}

absl::Status FakeCluster::RollingUpdate(const std::string& deployment, int max_surge,
                                        int max_unavailable) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.Rollout(deployment, max_surge, max_unavailable, absl::Milliseconds(200));
}

absl::Status FakeCluster::Apply(const StepAction& action) {
  RecordFault(action);
  absl::MutexLock lock(&mu_);
  return lifecycle_.Apply(action, absl::Milliseconds(200));
}

std::vector<std::string> FakeCluster::Pods(const std::string& deployment) {
  absl::MutexLock lock(&mu_);
  return lifecycle_.Pods(deployment);
}

FakePod* FakeCluster::pod(const std::string& name) { return runtime_.Find(name); }

// --- Runtime -------------------------------------------------------------------------

absl::StatusOr<int> FakeCluster::Runtime::Start(const std::string& pod, const std::string& ip,
                                                int port) {
  absl::StatusOr<std::unique_ptr<FakePod>> started = FakePod::Start(pod, ip, port, pod);
  if (!started.ok()) return started.status();
  const int bound = (*started)->port();
  absl::MutexLock lock(&mu_);
  pods_[pod] = *std::move(started);
  return bound;
}

FakePod* FakeCluster::Runtime::Find(const std::string& pod) {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find(pod);
  return it == pods_.end() ? nullptr : it->second.get();
}

void FakeCluster::Runtime::Stop(const std::string& pod) {
  FakePod* p = Find(pod);
  if (p == nullptr) return;
  p->Stop(absl::Seconds(1));
  absl::MutexLock lock(&mu_);
  gone_[pod] = std::move(pods_[pod]);
  pods_.erase(pod);
}

void FakeCluster::Runtime::Crash(const std::string& pod) {
  if (FakePod* p = Find(pod)) p->Crash();
}

absl::Status FakeCluster::Runtime::Restart(const std::string& pod) {
  FakePod* p = Find(pod);
  if (p == nullptr) return absl::NotFoundError("no pod " + pod);
  return p->Restart();
}

void FakeCluster::Runtime::Hang(const std::string& pod, absl::Duration duration) {
  if (FakePod* p = Find(pod)) p->Hang(duration);
}

void FakeCluster::Runtime::SetServing(const std::string& pod, bool serving) {
  if (FakePod* p = Find(pod)) p->SetServing(serving);
}

int64_t FakeCluster::Runtime::Served(const std::string& pod) {
  absl::MutexLock lock(&mu_);
  for (auto* pods : {&pods_, &gone_}) {
    if (auto it = pods->find(pod); it != pods->end()) return it->second->served();
  }
  return 0;
}

absl::Time FakeCluster::Runtime::LastCall(const std::string& pod) {
  absl::MutexLock lock(&mu_);
  for (auto* pods : {&pods_, &gone_}) {
    if (auto it = pods->find(pod); it != pods->end()) return it->second->last_call_at();
  }
  return absl::InfinitePast();
}

void FakeCluster::Runtime::CrashAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, pod] : pods_) pod->Crash();
}

}  // namespace kubegrpc::testing
