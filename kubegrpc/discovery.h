// File: kubegrpc/discovery.h
// -----------------------------------------------------------------------------
// ServiceDiscovery: keeps the endpoints of one Service port up to date from the
// Kubernetes API and publishes each new EndpointSet with its delta.
//
//   kubegrpc::ServiceDiscovery discovery(client, target, options,
//       [](std::shared_ptr<const kubegrpc::EndpointSet> set,
//          const kubegrpc::EndpointDelta& delta) { pool.Apply(set, delta); });
//   discovery.Start();   // list, then watch, on its own thread
//   ...
//   discovery.Stop();
//
// How it works (docs/KUBERNETES.md has the API facts): read the Service to map the requested port
// to the endpoint port (port number -> Service port name -> endpoint port of that
// name; a named target uses the name directly); list the Service's
// EndpointSlices (or, if the API has none, 404 on the group, its Endpoints);
// merge every slice (keyed by slice name), dedupe by address:port; then watch
// from the list's resourceVersion, applying ADDED / MODIFIED / DELETED, keeping
// BOOKMARK versions, re-watching after a clean end and relisting after a 410.
// Every `resync_interval` it relists in full (the original's refresh interval).
// Failures back off exponentially with jitter (gRPC's defaults), honour a
// server's Retry-After, and reset after a healthy watch.
//
// The published set changes only when the API reports a change: while the API
// server is unreachable or failing, the last known set stays, and the error is
// reported through status().
//
// Time and randomness are injected (options.clock, options.seed): tests drive
// RunOnce() on a virtual clock with an in-process K8sClient.
//
// Thread-safety: thread-safe. The callbacks run on the discovery thread (or the
// RunOnce() caller), never under a lock, one call at a time.

#ifndef KUBEGRPC_DISCOVERY_H_
#define KUBEGRPC_DISCOVERY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/clock.h"
#include "kubegrpc/discovery_options.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/internal/backoff.h"
#include "kubegrpc/internal/endpoint_merger.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/snapshot.h"
#include "kubegrpc/target.h"

namespace kubegrpc {

// The endpoints `object` (a slice, or an Endpoints object) contributes for the
// port named `port_name`: those with that port, conditions defaulted as the API
// documents (ready and serving when unset, not terminating). Pure.
std::vector<Endpoint> EndpointsForPort(const EndpointObject& object, const std::string& port_name);

class ServiceDiscovery {
 public:
  using Callback =
      std::function<void(std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta)>;
  // Called when `synced` or `last_error` change (a failure, the first list)
  // and on the first success (a list or a watch event) after failures, with
  // the status as it is then; not for the counters.
  using StatusCallback = std::function<void(const DiscoveryStatus& status)>;

  // `target.ns` must be set. `client` must outlive this object.
  ServiceDiscovery(K8sClient* client, ServiceTarget target, DiscoveryOptions options,
                   Callback callback, StatusCallback on_status = nullptr);
  ~ServiceDiscovery();  // Stop()s

  // Runs the loop on a new thread.
  void Start();
  // Ends the loop (cancelling a watch in progress) and waits for it.
  void Stop();
  // One step of the loop on the caller's thread: a list, one watch stream, or a
  // backoff sleep. For tests on virtual time.
  void RunOnce();

  // The last published set (null before the first successful list).
  std::shared_ptr<const EndpointSet> current() const ABSL_LOCKS_EXCLUDED(mu_);
  DiscoveryStatus status() const ABSL_LOCKS_EXCLUDED(mu_);
  const ServiceTarget& target() const { return target_; }

 private:
  void Run();
  absl::Status List() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Watch() ABSL_LOCKS_EXCLUDED(mu_);
  void Fail(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the last thing that happened was an error (no success since).
  bool FailingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return status_.last_error_at != absl::InfinitePast() &&
           status_.last_error_at >= status_.last_success_at;
  }
  void Sleep(absl::Duration d);
  // The endpoints `object` contributes for the port.
  std::vector<Endpoint> Convert(const EndpointObject& object) const;
  // Publishes the merged set if it changed since the last publish (and always
  // the first time), with the delta computed from the change.
  void Publish() ABSL_LOCKS_EXCLUDED(mu_);

  K8sClient* const client_;
  const ServiceTarget target_;
  const DiscoveryOptions options_;
  Clock* const clock_;
  const Callback callback_;
  const StatusCallback on_status_;
  Cancellation cancel_;
  std::thread thread_;

  // Loop state: only the loop's thread touches these.
  internal::Backoff backoff_;
  std::mt19937_64 rng_;
  bool need_list_ = true;
  bool last_watch_expired_ = false;
  absl::Time next_resync_ = absl::InfinitePast();
  EndpointSource source_ = EndpointSource::kEndpointSlices;
  std::string port_name_;  // the endpoint port's name, from the Service
  bool port_resolved_ = false;
  // Each object's endpoints for the port, merged incrementally.
  internal::EndpointMerger merger_;
  std::shared_ptr<const EndpointSet> published_;  // the last set published

  mutable absl::Mutex mu_;
  std::shared_ptr<const EndpointSet> current_ ABSL_GUARDED_BY(mu_);
  DiscoveryStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_DISCOVERY_H_
