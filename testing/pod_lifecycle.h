// File: testing/pod_lifecycle.h
// -----------------------------------------------------------------------------
// PodLifecycle: the one model of how a Deployment's pods come and go, as
// Kubernetes reports it through the API. It writes Namespaces, Services and
// Pods to fakek8s's ObjectStore (whose endpoint controller derives the slices)
// and drives the pods' processes through a PodRuntime, on a Timeline. Two
// drivers use it:
//   - FakeCluster: real gRPC pod servers (FakePod), real time; each operation
//     runs to its end before it returns (waits are slept through);
//   - Simulate: simulated processes (fake subchannels), a FakeClock; waits are
//     alarms, so an operation returns at once and its later steps happen at
//     their virtual times.
//
// What each operation does (pods are named <deployment>-<n>, n never reused):
//   add pod      process starts, Pod object created not ready; ready after the
//                Deployment's readiness delay
//   delete pod   terminating in the API at once (deletionTimestamp); the process
//                stops after the preStop drain, then the Pod object goes
//   crash pod    process dies, pod not ready; restarts on the same IP after the
//                given delay and is ready after the readiness delay
//   hang pod     process stops answering for a while; the API notices only if
//                it lasts past Options::readiness_probe_detects_after
//   rollout      rounds of max_surge + max_unavailable: up to max_unavailable
//                old pods go first, new pods are added, and once they are ready
//                (and `rollout_settle` has passed) the rest of the round goes
//
// Errors: NotFound for an unknown Deployment or pod; a process that cannot
// start ends the operation with its error.
//
// Thread-safety: thread-compatible (the driver serializes operations), except
// Events(), which may be called at any time.

#ifndef TESTING_POD_LIFECYCLE_H_
#define TESTING_POD_LIFECYCLE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/object_store.h"
#include "testing/step_action.h"

namespace kubegrpc::testing {

struct DeploymentSpec {
  std::string name = "web";
  std::string ns = "demo";
  int replicas = 3;
  int service_port = 80;
  // How long a new or restarted pod takes to turn Ready.
  absl::Duration readiness_delay = absl::ZeroDuration();
  // The zones the pods spread over, in turn: pod n runs on Node
  // "fake-node-<zones[n % size]>", labelled with that zone (created when
  // first needed). Empty: Node "fake-node", without a zone.
  std::vector<std::string> zones = {"zone-a", "zone-b", "zone-c"};
  // The Service's spec.trafficDistribution ("" = unset), e.g. PreferSameZone.
  std::string traffic_distribution;
  // The Service's metadata.annotations, e.g. kube-grpc.io/retry for xDS clients.
  std::map<std::string, std::string> service_annotations;
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
  int64_t served = 0;                           // echo calls the pod had answered by then
  absl::Time last_call = absl::InfinitePast();  // the pod's latest answered call by then
};
const char* ClusterEventName(ClusterEvent::Kind kind);

// The pods' processes: real servers or simulated ones.
class PodRuntime {
 public:
  virtual ~PodRuntime() = default;
  // The address of the next pod.
  virtual std::string NextIp() = 0;
  // Starts the process of pod `pod` on ip:port (port 0: a free one); the port.
  virtual absl::StatusOr<int> Start(const std::string& pod, const std::string& ip, int port) = 0;
  // Stops it gracefully (after its preStop drain); the pod is gone for good.
  virtual void Stop(const std::string& pod) = 0;
  virtual void Crash(const std::string& pod) = 0;
  // Serves again on the same address after a crash.
  virtual absl::Status Restart(const std::string& pod) = 0;
  virtual void Hang(const std::string& pod, absl::Duration duration) = 0;
  // What the pod's own health endpoint says (its readiness probe's answer).
  virtual void SetServing(const std::string& pod, bool serving) = 0;
  // For the event log: echo calls answered so far, and when the latest was.
  virtual int64_t Served(const std::string& pod) { return 0; }
  virtual absl::Time LastCall(const std::string& pod) { return absl::InfinitePast(); }
};

// When later steps happen.
class Timeline {
 public:
  virtual ~Timeline() = default;
  virtual absl::Time Now() = 0;
  // Runs `step` after `delay`: real time sleeps and runs it inline; virtual
  // time schedules it.
  virtual void After(absl::Duration delay, std::function<void()> step) = 0;
};
// Real time: After() sleeps for the delay, then runs the step.
Timeline* RealTimeline();

class PodLifecycle {
 public:
  struct Options {
    // A hang longer than this is seen by the kubelet's readiness probe
    // (failureThreshold x periodSeconds): the pod turns not ready, and ready
    // again after the hang (plus the readiness delay).
    absl::Duration readiness_probe_detects_after = absl::InfiniteDuration();
    // Whether the Deployment's first pods wait out the readiness delay too.
    bool initial_pods_wait_for_readiness = true;
    // Rollouts: from a round's new pods being ready to its old pods' deletion.
    absl::Duration rollout_settle = absl::ZeroDuration();
  };
  // What the model knows of one pod (kept after it is gone).
  struct PodStatus {
    std::string deployment;
    std::string address;       // ip:port
    bool ready = false;        // in the API
    bool terminating = false;  // in the API
    bool deleted = false;      // the object is gone
    bool running = true;       // the process
    absl::Time hung_until = absl::InfinitePast();
    std::string node;
    std::string zone;  // of its node ("" if none)
  };

  // `store`, `runtime` and `timeline` must outlive the lifecycle.
  PodLifecycle(fakek8s::ObjectStore* store, PodRuntime* runtime, Timeline* timeline,
               Options options);

  // A Namespace (if new), `replicas` pods and a Service <name> selecting
  // app=<name> with port `service_port` -> the pods' port named "grpc".
  absl::Status CreateDeployment(const DeploymentSpec& spec);
  absl::Status Scale(const std::string& deployment, int replicas, absl::Duration drain);
  absl::Status Delete(const std::string& pod, absl::Duration drain);
  absl::Status Crash(const std::string& pod, absl::Duration restart_after);
  absl::Status Hang(const std::string& pod, absl::Duration duration);
  // The readiness probe's result: the process keeps running.
  absl::Status SetReady(const std::string& pod, bool ready);
  // Replaces a pod with a new one (new name, new IP).
  absl::Status Recreate(const std::string& pod, absl::Duration drain);
  absl::Status Rollout(const std::string& deployment, int max_surge, int max_unavailable,
                       absl::Duration drain);
  // A scenario step that acts on pods (StepAction::on_pods()); rollouts with
  // max_surge 1, max_unavailable 0. InvalidArgument for the others.
  absl::Status Apply(const StepAction& action, absl::Duration drain);

  // The Deployment's pods in the API and not terminating, oldest first.
  std::vector<std::string> Pods(const std::string& deployment) const;
  // The pod's status (null if it never existed).
  const PodStatus* Status(const std::string& pod) const;
  // The pod serving at `address` ("" if none ever did).
  std::string PodAt(const std::string& address) const;
  const DeploymentSpec* Spec(const std::string& deployment) const;

  // Everything that happened so far, in order.
  std::vector<ClusterEvent> Events() const ABSL_LOCKS_EXCLUDED(events_mu_);
  // Called with each event as it is recorded (before it is logged).
  void SetObserver(std::function<void(const ClusterEvent&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  struct Deployment {
    DeploymentSpec spec;
    int port = 0;  // the pods' shared port
    int next_index = 0;
    std::vector<std::string> pods;  // in the API, not terminating, oldest first
  };
  Deployment* Find(const std::string& deployment);
  Deployment* OwnerOf(const std::string& pod);
  // Adds a pod; `on_ready` runs when it turns ready.
  absl::Status AddPod(Deployment& d, bool wait_for_readiness, std::function<void()> on_ready);
  absl::Status WriteReady(const std::string& pod, bool ready);
  // Creates Node `name` (in `zone`, if any) unless it exists.
  absl::Status EnsureNode(const std::string& name, const std::string& zone);
  // Delete() without resetting the operation's error.
  absl::Status Remove(const std::string& pod, absl::Duration drain);
  void RolloutRound(const std::string& deployment, std::vector<std::string> old, size_t next,
                    int max_surge, int max_unavailable, absl::Duration drain);
  void Record(const std::string& pod, ClusterEvent::Kind kind) ABSL_LOCKS_EXCLUDED(events_mu_);
  // Keeps the first error of the operation in progress (or of a later step).
  void Fail(const absl::Status& status) {
    if (error_.ok()) error_ = status;
  }

  fakek8s::ObjectStore* const store_;
  PodRuntime* const runtime_;
  Timeline* const timeline_;
  const Options options_;
  std::map<std::string, Deployment> deployments_;
  std::map<std::string, PodStatus> pods_;
  std::map<std::string, std::string> by_address_;
  absl::Status error_;
  std::function<void(const ClusterEvent&)> observer_;
  mutable absl::Mutex events_mu_;
  std::vector<ClusterEvent> events_ ABSL_GUARDED_BY(events_mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_POD_LIFECYCLE_H_
