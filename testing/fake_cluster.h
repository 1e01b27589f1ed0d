// File: testing/fake_cluster.h
// -----------------------------------------------------------------------------
// FakeCluster: fakek8s, its endpoint controller and FakePods as one object, with
// a Kubernetes vocabulary, so that a test can scale, crash, restart and roll a
// Service's pods while a Balancer sends calls to them.
//
//   auto cluster = kubegrpc::testing::FakeCluster::Start();
//   (*cluster)->CreateDeployment({.name = "web", .replicas = 3});
//   auto balancer = kubegrpc::Balancer::Create((*cluster)->client_config());
//   ... load through "web.demo:80" ...
//   (*cluster)->ScaleTo("web", 6);
//   (*cluster)->CrashPod("web-2", /*restart_after=*/absl::Milliseconds(300));
//   (*cluster)->RollingUpdate("web");
//
// Pods are named <deployment>-<n> (n counts up, never reused), get the next
// loopback address of the process's subnet, and serve on the Deployment's
// target port. Operations are synchronous: they return when the API shows the
// result (a readiness delay is waited out), except where noted.
//
// Thread-safety: thread-safe; operations are serialized.

#ifndef TESTING_FAKE_CLUSTER_H_
#define TESTING_FAKE_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/fake_kubernetes.h"
#include "kubegrpc/config.h"
#include "testing/fake_pod.h"

namespace kubegrpc::testing {

struct DeploymentSpec {
  std::string name = "web";
  std::string ns = "demo";
  int replicas = 3;
  int service_port = 80;
  // How long a new or restarted pod takes to turn Ready.
  absl::Duration readiness_delay = absl::ZeroDuration();
};

// One change the cluster made, as the API reported it (timestamped just before
// the API write) or as the pod's container did it.
struct ClusterEvent {
  enum class Kind {
    kCreated,      // pod object created (not ready yet)
    kReady,        // Ready=True written
    kNotReady,     // Ready=False written
    kTerminating,  // deletionTimestamp written; the server drains
    kStopped,      // the pod's server stopped (after its drain)
    kDeleted,      // pod object removed
    kCrashed,      // the container died (the server stopped at once)
    kRestarted,    // the container serves again on the same address
    kHung,         // the process stopped answering (the API still says ready)
  };
  absl::Time at;
  std::string pod;
  Kind kind;
  int64_t served = 0;  // echo calls the pod had answered by then
  absl::Time last_call = absl::InfinitePast();  // the pod's latest answered call by then
};
const char* ClusterEventName(ClusterEvent::Kind kind);

class FakeCluster {
 public:
  struct Options {
    bool tls = true;
    absl::Duration bookmark_interval = absl::Seconds(60);
  };
  static absl::StatusOr<std::unique_ptr<FakeCluster>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<FakeCluster>> Start() { return Start(Options()); }
  ~FakeCluster();

  // A namespace (if new), a Service <name> selecting app=<name> with port
  // `service_port` -> the pods' port, and `replicas` ready pods.
  absl::Status CreateDeployment(const DeploymentSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  // Adds pods (ready after the readiness delay) or deletes the newest ones.
  absl::Status ScaleTo(const std::string& deployment, int replicas) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes a pod as Kubernetes does: terminating (not ready) in the API while
  // its server keeps serving for `prestop_drain`, then the server stops
  // gracefully and the pod object goes.
  absl::Status DeletePod(const std::string& pod,
                         absl::Duration prestop_drain = absl::Milliseconds(200))
      ABSL_LOCKS_EXCLUDED(mu_);
  // The container dies: the server stops at once and the pod turns not ready;
  // after `restart_after` the container restarts on the same IP and, after the
  // readiness delay, is ready again.
  absl::Status CrashPod(const std::string& pod, absl::Duration restart_after)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The pod's process stops answering for `duration` (FakePod::Hang); the API
  // is not told (as when a hang is shorter than the readiness probe's
  // failureThreshold x periodSeconds). Returns at once.
  absl::Status HangPod(const std::string& pod, absl::Duration duration) ABSL_LOCKS_EXCLUDED(mu_);
  // Readiness probe result (the server keeps running).
  absl::Status SetPodReady(const std::string& pod, bool ready) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces a pod with a new one (new name, new IP).
  absl::Status RecreatePod(const std::string& pod) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces every pod of the Deployment as a Deployment rollout does: in rounds
  // of up to max_surge + max_unavailable pods, new pods are added (and turn
  // ready) before old ones are deleted, except that up to `max_unavailable` old
  // pods may go first.
  absl::Status RollingUpdate(const std::string& deployment, int max_surge = 1,
                             int max_unavailable = 0) ABSL_LOCKS_EXCLUDED(mu_);

  // The pods of a Deployment that exist in the API, oldest first.
  std::vector<std::string> Pods(const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);
  FakePod* pod(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  // Everything the cluster did so far, in order.
  std::vector<ClusterEvent> Events() const ABSL_LOCKS_EXCLUDED(events_mu_);

  fakek8s::FakeKubernetes& k8s() { return *k8s_; }
  fakek8s::ApiServer& api() { return k8s_->server(); }
  // What a Balancer needs to reach this cluster's API server.
  ClusterConfig client_config(const std::string& ns = "demo") const;

 private:
  struct Deployment {
    DeploymentSpec spec;
    int port = 0;       // the pods' shared port
    int next_index = 0;
    std::vector<std::string> pods;  // in the API, oldest first
  };
  explicit FakeCluster(std::unique_ptr<fakek8s::FakeKubernetes> k8s) : k8s_(std::move(k8s)) {}

  absl::Status AddPodLocked(Deployment& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeletePodLocked(const std::string& pod, absl::Duration prestop_drain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetReadyLocked(const std::string& ns, const std::string& pod, bool ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Deployment* OwnerLocked(const std::string& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(const std::string& pod, ClusterEvent::Kind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) ABSL_LOCKS_EXCLUDED(events_mu_);

  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  LoopbackSubnet subnet_;
  absl::Mutex mu_;
  std::map<std::string, Deployment> deployments_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<FakePod>> pods_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex events_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<ClusterEvent> events_ ABSL_GUARDED_BY(events_mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_CLUSTER_H_
