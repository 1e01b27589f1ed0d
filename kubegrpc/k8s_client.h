// File: kubegrpc/k8s_client.h
// -----------------------------------------------------------------------------
// The Kubernetes API as kube-grpc's discovery needs it: read a Service, list and
// watch the endpoints behind it (EndpointSlices, or the legacy Endpoints object).
// This is a semantic interface: HttpK8sClient implements it over REST; tests
// implement it in-process to drive discovery under virtual time.
//
// Errors are absl::Status values naming the Service and the cause:
//   Unauthenticated (401), PermissionDenied (403), NotFound (404),
//   OutOfRange (410 Expired / Gone: relist), ResourceExhausted (429),
//   Unavailable (5xx, connection refused, timeouts), Internal (undecodable
//   responses). A Retry-After from the server travels with the status (RetryAfter()).
//
// Thread-safety: implementations must be thread-safe; several Services' watchers
// share one client.

#ifndef KUBEGRPC_K8S_CLIENT_H_
#define KUBEGRPC_K8S_CLIENT_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kubegrpc {

struct ServicePort {
  std::string name;  // "" for the single unnamed port
  int port = 0;
  std::string protocol = "TCP";
};

struct ServiceInfo {
  std::string ns;
  std::string name;
  std::vector<ServicePort> ports;
  // The Service's annotations under kube-grpc.io/ (others are not kept: some,
  // like last-applied-configuration, are large).
  std::map<std::string, std::string> annotations;
};

struct EndpointPort {
  std::string name;  // the Service port's name
  int port = 0;      // 0 when the API sent none
  std::string protocol = "TCP";
};

// One endpoint as the API reported it (conditions left unset when absent: the
// API's defaults are applied by discovery).
struct EndpointInfo {
  std::string address;
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  std::string hostname;
  std::string node_name;
  std::string zone;
  std::vector<std::string> for_zones;  // hints.forZones[].name
  std::string pod_name;
  std::vector<EndpointPort> ports;  // those of its slice (or Endpoints subset)
};

// One EndpointSlice, or one legacy Endpoints object (all its subsets).
struct EndpointObject {
  std::string name;
  std::string resource_version;
  std::vector<EndpointInfo> endpoints;
};

struct EndpointObjectList {
  std::vector<EndpointObject> items;
  std::string resource_version;
};

enum class EndpointSource { kEndpointSlices, kEndpoints };

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kBookmark;
  EndpointObject object;         // for ADDED, MODIFIED, DELETED
  std::string resource_version;  // the object's, or the bookmark's
  absl::Status error;            // for kError (OutOfRange for 410)
  // False when the client already holds the next event (a burst arrived
  // together): a consumer may wait for the last of a burst before acting.
  bool last_in_batch = true;
};

// Cancels a blocking watch from another thread.
class Cancellation {
 public:
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);
  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` on Cancel() (at once if already cancelled); one callback at a time.
  void SetCallback(std::function<void()> fn) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until cancelled or `deadline`; true if cancelled.
  bool WaitUntil(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> callback_ ABSL_GUARDED_BY(mu_);
};

struct WatchRequest {
  std::string resource_version;               // watch changes after this
  absl::Duration timeout = absl::Minutes(5);  // the server ends the stream then
  bool bookmarks = true;
  // A stream silent this long (no event, no bookmark, no byte) has stalled and
  // fails with Unavailable. Zero: `timeout` plus 30 s.
  absl::Duration idle_timeout = absl::ZeroDuration();
};

class K8sClient {
 public:
  virtual ~K8sClient() = default;

  // Each call ends early, with Cancelled, when `cancel` (may be null) is
  // cancelled, whatever the server does (connecting, handshaking, or silent).
  virtual absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name,
                                                 Cancellation* cancel = nullptr) = 0;
  // The Service's EndpointSlices (by the kubernetes.io/service-name label) or its
  // Endpoints object (a list of at most one).
  virtual absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource source,
                                                           const std::string& ns,
                                                           const std::string& service,
                                                           Cancellation* cancel = nullptr) = 0;
  // The zone of Node `node` (cluster-scoped): its topology.kubernetes.io/zone
  // label, else the legacy failure-domain.beta.kubernetes.io/zone; "" if it
  // has neither. Needs RBAC `get` on nodes. The default says Unimplemented.
  virtual absl::StatusOr<std::string> GetNodeZone(const std::string& node,
                                                  Cancellation* cancel = nullptr);
  // Watches the same objects, calling `on_event` for each event, until the stream
  // ends (OK), fails (an error) or `cancel` is cancelled (Cancelled).
  virtual absl::Status WatchEndpoints(EndpointSource source, const std::string& ns,
                                      const std::string& service, const WatchRequest& request,
                                      const std::function<void(const WatchEvent&)>& on_event,
                                      Cancellation* cancel) = 0;
};

// The server's Retry-After carried by `status`, if any.
std::optional<absl::Duration> RetryAfter(const absl::Status& status);
// `status` with a Retry-After attached.
absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after);

}  // namespace kubegrpc

#endif  // KUBEGRPC_K8S_CLIENT_H_
