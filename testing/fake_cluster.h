// File: testing/fake_cluster.h
// -----------------------------------------------------------------------------
// FakeCluster: fakek8s, its endpoint controller and FakePods as one object, with
// a Kubernetes vocabulary, so that a test can scale, crash, restart and roll a
// Service's pods while a Balancer sends calls to them. What each operation does
// to the pods and the API is PodLifecycle's (the model Simulate drives too).
//
//   auto cluster = kubegrpc::testing::FakeCluster::Start();
//   (*cluster)->CreateDeployment({.name = "web", .replicas = 3});
//   auto balancer = kubegrpc::Balancer::Create((*cluster)->client_config());
//   ... load through "web.demo:80" ...
//   (*cluster)->ScaleTo("web", 6);
//   (*cluster)->CrashPod("web-2", /*restart_after=*/absl::Milliseconds(300));
//   (*cluster)->RollingUpdate("web");
//
// Pods get the next loopback address of the process's subnet and serve on the
// Deployment's target port. Operations are synchronous: they return when the
// API shows the result (a readiness delay or preStop drain is waited out),
// except HangPod.
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
#include "testing/pod_lifecycle.h"

namespace kubegrpc::testing {

class FakeCluster {
 public:
  struct Options {
    bool tls = true;
    absl::Duration bookmark_interval = absl::Seconds(60);
    // Where events about API faults go (pod events go to the pod's namespace).
    std::string events_namespace = "demo";
  };
  static absl::StatusOr<std::unique_ptr<FakeCluster>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<FakeCluster>> Start() { return Start(Options()); }
  ~FakeCluster();

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
  // Replaces every pod of the Deployment as a Deployment rollout does (see
  // PodLifecycle).
  absl::Status RollingUpdate(const std::string& deployment, int max_surge = 1,
                             int max_unavailable = 0) ABSL_LOCKS_EXCLUDED(mu_);
  // A scenario step that acts on pods (StepAction::on_pods()), with the
  // defaults above; InvalidArgument for the others.
  absl::Status Apply(const StepAction& action) ABSL_LOCKS_EXCLUDED(mu_);

  // The pods of a Deployment that exist in the API and are not terminating,
  // oldest first.
  std::vector<std::string> Pods(const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);
  FakePod* pod(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  // Everything the cluster did so far, in order.
  std::vector<ClusterEvent> Events() const { return lifecycle_.Events(); }

  fakek8s::FakeKubernetes& k8s() { return *k8s_; }
  fakek8s::ApiServer& api() { return k8s_->server(); }
  // What a Balancer needs to reach this cluster's API server.
  ClusterConfig client_config(const std::string& ns = "demo") const;

 private:
  // An event about the pod a crash or hang step targets (kubectl get events).
  void RecordFault(const StepAction& action) ABSL_LOCKS_EXCLUDED(mu_);
  // The pods' processes: FakePods on the process's loopback subnet.
  class Runtime : public PodRuntime {
   public:
    std::string NextIp() override { return subnet_.Next(); }
    absl::StatusOr<int> Start(const std::string& pod, const std::string& ip, int port) override;
    void Stop(const std::string& pod) override;
    void Crash(const std::string& pod) override;
    absl::Status Restart(const std::string& pod) override;
    void Hang(const std::string& pod, absl::Duration duration) override;
    void SetServing(const std::string& pod, bool serving) override;
    int64_t Served(const std::string& pod) override;
    absl::Time LastCall(const std::string& pod) override;
    // A running (or crashed) pod's server; null once it was stopped.
    FakePod* Find(const std::string& pod);
    void CrashAll();

   private:
    LoopbackSubnet subnet_;
    absl::Mutex mu_;
    std::map<std::string, std::unique_ptr<FakePod>> pods_ ABSL_GUARDED_BY(mu_);
    // Stopped pods, kept for their call counts.
    std::map<std::string, std::unique_ptr<FakePod>> gone_ ABSL_GUARDED_BY(mu_);
  };

  explicit FakeCluster(std::unique_ptr<fakek8s::FakeKubernetes> k8s);

  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
  Runtime runtime_;
  absl::Mutex mu_;
  PodLifecycle lifecycle_;  // operations under mu_; Events() at any time
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_CLUSTER_H_
