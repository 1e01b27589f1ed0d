// File: kubegrpc/endpoint_set.h
// -----------------------------------------------------------------------------
// EndpointSet: an immutable snapshot of the pods behind one Service port, as
// discovery publishes it, and EndpointDelta: what changed between two snapshots.
//
// Each Endpoint is one address:port with its pod, node, zone and the API's
// conditions (defaults applied: missing ready/serving = true, missing
// terminating = false). `usable()` are the endpoints to send calls to: the
// ready ones, or, only when none is ready, the serving ones that are
// terminating (as kube-proxy does).
//
// Thread-safety: immutable after Create(); share it as shared_ptr<const EndpointSet>.

#ifndef KUBEGRPC_ENDPOINT_SET_H_
#define KUBEGRPC_ENDPOINT_SET_H_

#include <memory>
#include <string>
#include <vector>

namespace kubegrpc {

struct Endpoint {
  std::string address;  // an IP (or DNS name for FQDN slices)
  int port = 0;
  std::string pod_name;
  std::string node_name;
  std::string zone;
  std::string hostname;
  bool ready = true;
  bool serving = true;
  bool terminating = false;

  // "10.0.0.1:8080", "[fd00::1]:8080": the key of an endpoint and what to dial.
  std::string HostPort() const;
  bool operator==(const Endpoint& o) const;
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
};

class EndpointSet {
 public:
  // Sorts by HostPort and keeps one endpoint per HostPort (the one with the
  // best conditions: ready, then serving).
  static std::shared_ptr<const EndpointSet> Create(std::vector<Endpoint> endpoints);

  const std::vector<Endpoint>& all() const { return all_; }
  const std::vector<Endpoint>& usable() const { return usable_; }
  bool operator==(const EndpointSet& o) const { return all_ == o.all_; }

 private:
  EndpointSet() = default;
  std::vector<Endpoint> all_;
  std::vector<Endpoint> usable_;
};

// Changes to the usable endpoints, by HostPort.
struct EndpointDelta {
  std::vector<Endpoint> added;
  std::vector<Endpoint> removed;
  std::vector<Endpoint> changed;  // same HostPort, other fields differ (the new state)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

EndpointDelta Diff(const EndpointSet* before, const EndpointSet& after);

}  // namespace kubegrpc

#endif  // KUBEGRPC_ENDPOINT_SET_H_
