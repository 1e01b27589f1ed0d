// File: fakek8s/endpoint_controller.h
// -----------------------------------------------------------------------------
// fakek8s's endpoint controller: derives each Service's EndpointSlices
// (discovery.k8s.io/v1) and legacy Endpoints (core/v1) from its selector and the
// Pods, the way kube-controller-manager's EndpointSlice and Endpoints controllers
// do (docs/KUBERNETES.md §1):
//
// - a Pod backs a Service when its labels match `spec.selector`, it has a
//   `status.podIP` and it has not finished (phase Succeeded/Failed);
// - serving = the Pod's Ready condition; terminating = it has a deletionTimestamp;
//   ready = publishNotReadyAddresses || (serving && !terminating);
// - each Service port maps to the endpoint port named like it, numbered by its
//   targetPort: a number as is, a name resolved per Pod to the first container port
//   with that name and protocol (a Pod without it gets no port for it);
// - slices hold at most `max_endpoints_per_slice` endpoints, grouped by address
//   type and port set; endpoints stay in the slice they are in while they exist;
//   a Service without endpoints keeps one empty placeholder slice;
// - the Endpoints object drops terminating Pods (unless publishNotReadyAddresses),
//   lists not-ready ones under notReadyAddresses, and is truncated at 1000
//   addresses with the over-capacity annotation.
// Services without a selector are left to their owner.
// - the zone of an endpoint is its Pod's node's `topology.kubernetes.io/zone`
//   label (or the legacy failure-domain.beta.kubernetes.io/zone); a Pod without
//   a node, or whose node is absent or unlabelled, has none. A node whose zone
//   changes re-derives the namespaces with pods on it;
// - with `spec.trafficDistribution` PreferSameZone (or its older name
//   PreferClose), every ready endpoint with a zone gets the hint
//   `forZones: [{name: <its zone>}]`; PreferSameNode adds `forNodes` with its
//   node; otherwise endpoints carry no hints (the real controller's
//   trafficdist rules; the topology-mode: Auto annotation's proportional
//   hints are not modelled).
//
// The controller runs as the ObjectStore's reconciler: inside the write that
// changed a Pod or Service, so derived objects follow in the same step. A write to
// a Service or Namespace reconciles the namespace in full; a write to a Pod only
// touches what that Pod changes: the one slice that holds (or gains) its endpoint
// and, if its address there changed, the Endpoints object. For that the
// controller keeps, per Service, the addresses its Endpoints object lists (by Pod
// name) and where each endpoint sits (a hint, checked against the slice before it
// is used); a Service whose resourceVersion differs from the one this state was
// built from is reconciled in full first. So a Pod write costs about one slice
// plus, when it lands among the listed addresses, one Endpoints object, whatever
// the Service's size.
//
// Thread-safety: Attach() once; afterwards the store serializes all calls (they
// run under its lock).

#ifndef FAKEK8S_ENDPOINT_CONTROLLER_H_
#define FAKEK8S_ENDPOINT_CONTROLLER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fakek8s/object_store.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// Labels the controllers put on what they manage.
inline constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
inline constexpr char kSliceManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kSliceControllerName[] = "endpointslice-controller.k8s.io";
inline constexpr char kEndpointsManagedByLabel[] = "endpoints.kubernetes.io/managed-by";
inline constexpr char kEndpointsControllerName[] = "endpoint-controller";
inline constexpr char kHeadlessLabel[] = "service.kubernetes.io/headless";
inline constexpr char kOverCapacityAnnotation[] = "endpoints.kubernetes.io/over-capacity";

struct EndpointControllerOptions {
  int max_endpoints_per_slice = 100;
  int max_endpoints_addresses = 1000;
};

// One Pod as an EndpointSlice endpoint of a Service.
struct DerivedEndpoint {
  std::string id;            // the Pod's uid (its IP if it has none)
  std::string address_type;  // IPv4 or IPv6
  nlohmann::json ports;      // the slice ports it resolves, an array
  nlohmann::json endpoint;   // the slice endpoint object
};

// Node labels that give a node's zone (the second is the legacy one).
inline constexpr char kZoneLabel[] = "topology.kubernetes.io/zone";
inline constexpr char kLegacyZoneLabel[] = "failure-domain.beta.kubernetes.io/zone";

// The zone of the node named so ("" if none is known).
using NodeZoneFn = std::function<std::string(const std::string& node_name)>;

// The zone of `node` (a Node object; null: none) from its labels.
std::string NodeZone(const nlohmann::json* node);

// A Ready Node named `name`, labelled with `zone` unless it is "": the Nodes
// fakek8s's demo seed and the test harness create for their pods.
nlohmann::json ReadyNode(const std::string& name, const std::string& zone);

// The endpoints `service` gets from `pods` (those of its namespace); each
// endpoint's zone is `zone_of` its Pod's node (null: no zones).
std::vector<DerivedEndpoint> DeriveSliceEndpoints(const nlohmann::json& service,
                                                  const std::vector<const nlohmann::json*>& pods,
                                                  const NodeZoneFn& zone_of = nullptr);

// The core/v1 Endpoints object (without uid/resourceVersion) for `service`.
nlohmann::json DeriveLegacyEndpoints(const nlohmann::json& service,
                                     const std::vector<const nlohmann::json*>& pods,
                                     const EndpointControllerOptions& options);

class EndpointController {
 public:
  explicit EndpointController(EndpointControllerOptions options = {});
  ~EndpointController();
  EndpointController(const EndpointController&) = delete;
  EndpointController& operator=(const EndpointController&) = delete;

  // Makes this controller `store`'s reconciler and reconciles every namespace
  // now. The controller must outlive the store's use.
  void Attach(ObjectStore& store);

  // Reconciles one change: a Pod write incrementally, anything else as
  // ReconcileNamespace.
  void Reconcile(ObjectStore::Transaction& txn, const ObjectStore::Change& change);

  // Brings the slices and Endpoints of every Service in `ns` up to date, and
  // removes those of Services that are gone.
  void ReconcileNamespace(ObjectStore::Transaction& txn, const std::string& ns);

 private:
  struct ServiceState;

  // A Node write: re-derives the namespaces with pods on it when its zone changed.
  void ReconcileNode(ObjectStore::Transaction& txn, const ObjectStore::Change& change);
  void ReconcileService(ObjectStore::Transaction& txn, const nlohmann::json& service,
                        const std::vector<const nlohmann::json*>& pods);
  // `previous` / `pod`: the Pod before and after the write (null: absent).
  void ReconcilePod(ObjectStore::Transaction& txn, const std::string& ns,
                    const nlohmann::json* previous, const nlohmann::json* pod);
  void UpdateLegacy(ObjectStore::Transaction& txn, ServiceState& state, const std::string& pod_name,
                    const nlohmann::json* pod);
  void WriteLegacy(ObjectStore::Transaction& txn, const ServiceState& state);
  void UpdateSlices(ObjectStore::Transaction& txn, ServiceState& state,
                    const nlohmann::json* previous, const nlohmann::json* pod);

  const EndpointControllerOptions options_;
  // Per Service (namespace, name) with a selector, as last reconciled.
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ServiceState>> services_;
};

}  // namespace fakek8s

#endif  // FAKEK8S_ENDPOINT_CONTROLLER_H_
