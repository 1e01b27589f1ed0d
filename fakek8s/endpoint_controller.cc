#include "fakek8s/endpoint_controller.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "fakek8s/selector.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

std::string Str(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

bool PodIsReady(const json& pod) {
  const json& conditions = Field(Field(pod, "status"), "conditions");
  if (!conditions.is_array()) return false;
  for (const json& c : conditions) {
    if (Str(c, "type") == "Ready") return Str(c, "status") == "True";
  }
  return false;
}

bool PodIsTerminating(const json& pod) {
  const json& ts = Field(Field(pod, "metadata"), "deletionTimestamp");
  return !ts.is_null();
}

// Pods that can back a Service at all: matching, with an IP, not finished.
bool PodBacks(const json& pod, const LabelSelector& selector) {
  const std::string phase = Str(Field(pod, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") return false;
  if (Str(Field(pod, "status"), "podIP").empty()) return false;
  return selector.Matches(Field(Field(pod, "metadata"), "labels"));
}

bool HasSelector(const json& service) {
  const json& selector = Field(Field(service, "spec"), "selector");
  return selector.is_object() && !selector.empty() &&
         Str(Field(service, "spec"), "type") != "ExternalName";
}

bool IsHeadless(const json& service) { return Str(Field(service, "spec"), "clusterIP") == "None"; }

bool PublishNotReady(const json& service) {
  const json& v = Field(Field(service, "spec"), "publishNotReadyAddresses");
  return v.is_boolean() && v.get<bool>();
}

// The container port `target` (a Service port's targetPort) names on `pod`.
std::optional<int> ResolveTargetPort(const json& service_port, const json& pod) {
  const json& target = Field(service_port, "targetPort");
  if (target.is_number_integer()) return target.get<int>();
  if (target.is_null()) {
    const json& port = Field(service_port, "port");
    if (port.is_number_integer()) return port.get<int>();
    return std::nullopt;
  }
  if (!target.is_string()) return std::nullopt;
  const std::string name = target.get<std::string>();
  std::string protocol = Str(service_port, "protocol");
  if (protocol.empty()) protocol = "TCP";
  const json& containers = Field(Field(pod, "spec"), "containers");
  if (!containers.is_array()) return std::nullopt;
  for (const json& container : containers) {
    const json& ports = Field(container, "ports");
    if (!ports.is_array()) continue;
    for (const json& p : ports) {
      std::string p_protocol = Str(p, "protocol");
      if (p_protocol.empty()) p_protocol = "TCP";
      if (Str(p, "name") == name && p_protocol == protocol &&
          Field(p, "containerPort").is_number_integer()) {
        return Field(p, "containerPort").get<int>();
      }
    }
  }
  return std::nullopt;
}

// The ports (slice/Endpoints shape) `pod` resolves for `service`.
json ResolvedPorts(const json& service, const json& pod) {
  json out = json::array();
  const json& ports = Field(Field(service, "spec"), "ports");
  if (!ports.is_array()) return out;
  for (const json& sp : ports) {
    std::optional<int> number = ResolveTargetPort(sp, pod);
    if (!number) continue;
    std::string protocol = Str(sp, "protocol");
    json port = {{"name", Str(sp, "name")},
                 {"port", *number},
                 {"protocol", protocol.empty() ? "TCP" : protocol}};
    if (!Str(sp, "appProtocol").empty()) port["appProtocol"] = Str(sp, "appProtocol");
    out.push_back(std::move(port));
  }
  return out;
}

json TargetRef(const json& pod) {
  const json& meta = Field(pod, "metadata");
  return {{"kind", "Pod"},
          {"namespace", Str(meta, "namespace")},
          {"name", Str(meta, "name")},
          {"uid", Str(meta, "uid")}};
}

// The hostname a Pod gets in a Service's endpoints (spec.hostname, if the Pod's
// spec.subdomain names the Service).
std::string Hostname(const json& service, const json& pod) {
  const json& spec = Field(pod, "spec");
  if (Str(spec, "subdomain") != Str(Field(service, "metadata"), "name")) return "";
  return Str(spec, "hostname");
}

std::vector<const json*> BackingPods(const json& service, const std::vector<const json*>& pods) {
  LabelSelector selector = LabelSelector::FromMap(Field(Field(service, "spec"), "selector"));
  std::vector<const json*> out;
  for (const json* pod : pods) {
    if (PodBacks(*pod, selector)) out.push_back(pod);
  }
  return out;
}

// Labels of a derived object: the Service's own, plus the controller's.
json DerivedLabels(const json& service) {
  json labels = Field(Field(service, "metadata"), "labels");
  if (!labels.is_object()) labels = json::object();
  if (IsHeadless(service)) labels[kHeadlessLabel] = "";
  return labels;
}

std::string EndpointId(const json& endpoint) {
  std::string uid = Str(Field(endpoint, "targetRef"), "uid");
  if (!uid.empty()) return uid;
  const json& addresses = Field(endpoint, "addresses");
  return addresses.is_array() && !addresses.empty() && addresses[0].is_string()
             ? addresses[0].get<std::string>()
             : "";
}

std::string GroupKey(const std::string& address_type, const json& ports) {
  return address_type + "|" + ports.dump();
}

std::string SliceGroup(const json& slice) {
  return GroupKey(Str(slice, "addressType"), Field(slice, "ports"));
}

// One Pod's address in a Service's legacy Endpoints object.
struct LegacyAddress {
  std::string ports;  // the port set as JSON text: the subset it belongs to
  bool ready = false;
  std::string ip;
  json address;

  bool operator==(const LegacyAddress& o) const {
    return ready == o.ready && ip == o.ip && ports == o.ports && address == o.address;
  }
};

// The address a backing Pod gets in `service`'s Endpoints: none if it is
// terminating (unless publishNotReadyAddresses) or resolves none of the
// Service's ports.
std::optional<LegacyAddress> LegacyAddressOf(const json& service, const json& pod) {
  const bool publish_not_ready = PublishNotReady(service);
  if (PodIsTerminating(pod) && !publish_not_ready) return std::nullopt;
  const json& service_ports = Field(Field(service, "spec"), "ports");
  json ports = ResolvedPorts(service, pod);
  if (service_ports.is_array() && !service_ports.empty() && ports.empty()) return std::nullopt;
  for (json& p : ports) {
    if (Str(p, "name").empty()) p.erase("name");
  }
  LegacyAddress out;
  out.ports = ports.dump();
  out.ready = PodIsReady(pod) || publish_not_ready;
  out.ip = Str(Field(pod, "status"), "podIP");
  out.address = {{"ip", out.ip}, {"targetRef", TargetRef(pod)}};
  const std::string node = Str(Field(pod, "spec"), "nodeName");
  if (!node.empty()) out.address["nodeName"] = node;
  const std::string hostname = Hostname(service, pod);
  if (!hostname.empty()) out.address["hostname"] = hostname;
  return out;
}

// The Endpoints object listing `addresses` (already cut to capacity).
json BuildLegacyEndpoints(const json& service, const std::vector<const LegacyAddress*>& addresses,
                          bool truncated) {
  const json& meta = Field(service, "metadata");
  json labels = DerivedLabels(service);
  labels[kEndpointsManagedByLabel] = kEndpointsControllerName;
  json endpoints = {
      {"kind", "Endpoints"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"name", Str(meta, "name")}, {"namespace", Str(meta, "namespace")}, {"labels", labels}}}};
  if (truncated) {
    endpoints["metadata"]["annotations"] = {{kOverCapacityAnnotation, "truncated"}};
  }
  // Port set -> {ready addresses, not-ready addresses}, by IP.
  std::map<std::string,
           std::pair<std::map<std::string, const json*>, std::map<std::string, const json*>>>
      subsets;
  for (const LegacyAddress* a : addresses) {
    auto& subset = subsets[a->ports];
    (a->ready ? subset.first : subset.second)[a->ip] = &a->address;
  }
  if (subsets.empty()) return endpoints;  // no `subsets` key when empty
  json out = json::array();
  for (const auto& [ports_text, lists] : subsets) {
    json subset = json::object();
    auto to_array = [](const std::map<std::string, const json*>& by_ip) {
      json a = json::array();
      for (const auto& [ip, address] : by_ip) a.push_back(*address);
      return a;
    };
    if (!lists.first.empty()) subset["addresses"] = to_array(lists.first);
    if (!lists.second.empty()) subset["notReadyAddresses"] = to_array(lists.second);
    json ports = json::parse(ports_text);
    if (!ports.empty()) subset["ports"] = std::move(ports);
    out.push_back(std::move(subset));
  }
  endpoints["subsets"] = std::move(out);
  return endpoints;
}

// A new EndpointSlice of `service`, without endpoints.
json NewSlice(const json& service, const std::string& address_type, const json& ports) {
  const json& meta = Field(service, "metadata");
  const std::string name = Str(meta, "name");
  json labels = DerivedLabels(service);
  labels[kServiceNameLabel] = name;
  labels[kSliceManagedByLabel] = kSliceControllerName;
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"namespace", Str(meta, "namespace")},
            {"generateName", name + "-"},
            {"labels", std::move(labels)},
            {"ownerReferences", json::array({{{"apiVersion", "v1"},
                                              {"kind", "Service"},
                                              {"name", name},
                                              {"uid", Str(meta, "uid")},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"addressType", address_type},
          {"ports", ports},
          {"endpoints", json::array()}};
}

// The slices this controller manages for Service `name`, in name order.
std::vector<const json*> ServiceSlices(ObjectStore::Transaction& txn, const std::string& ns,
                                       const std::string& name) {
  std::vector<const json*> out;
  for (const json* s : txn.List(Resource::kEndpointSlices, ns)) {
    const json& labels = Field(Field(*s, "metadata"), "labels");
    if (Str(labels, kServiceNameLabel) == name &&
        Str(labels, kSliceManagedByLabel) == kSliceControllerName) {
      out.push_back(s);
    }
  }
  return out;
}

size_t EndpointCount(const json& slice) {
  const json& e = Field(slice, "endpoints");
  return e.is_array() ? e.size() : 0;
}

// Each node's zone, read from the store.
NodeZoneFn ZoneOf(ObjectStore::Transaction& txn) {
  return [&txn](const std::string& node) { return NodeZone(txn.Get(Resource::kNodes, "", node)); };
}

}  // namespace

struct EndpointController::ServiceState {
  std::string resource_version;  // of the Service this state follows
  json service;
  LabelSelector selector;
  // The addresses the Endpoints object lists before truncation, by Pod name.
  std::map<std::string, LegacyAddress> legacy;
  // Endpoint id -> the slice it is in: a hint, checked before use, rebuilt from
  // the slices when it proves wrong.
  std::map<std::string, std::string> slice_of;
};

std::string NodeZone(const json* node) {
  if (node == nullptr) return "";
  const json& labels = Field(Field(*node, "metadata"), "labels");
  std::string zone = Str(labels, kZoneLabel);
  return zone.empty() ? Str(labels, kLegacyZoneLabel) : zone;
}

json ReadyNode(const std::string& name, const std::string& zone) {
  json labels = {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}};
  if (!zone.empty()) labels[kZoneLabel] = zone;
  return {{"metadata", {{"name", name}, {"labels", std::move(labels)}}},
          {"status",
           {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})},
            {"addresses", json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}}})},
            {"nodeInfo", {{"kubeletVersion", "v1.33.0-fakek8s"}}}}}};
}

std::vector<DerivedEndpoint> DeriveSliceEndpoints(const json& service,
                                                  const std::vector<const json*>& pods,
                                                  const NodeZoneFn& zone_of) {
  std::vector<DerivedEndpoint> out;
  const bool publish_not_ready = PublishNotReady(service);
  // spec.trafficDistribution: the same-zone hint on every ready endpoint with a
  // zone (PreferClose is PreferSameZone's older name); PreferSameNode adds its
  // node. Anything else (unset, unknown): no hints.
  const std::string distribution = Str(Field(service, "spec"), "trafficDistribution");
  const bool zone_hints = distribution == "PreferClose" || distribution == "PreferSameZone" ||
                          distribution == "PreferSameNode";
  const bool node_hints = distribution == "PreferSameNode";
  for (const json* pod_ptr : BackingPods(service, pods)) {
    const json& pod = *pod_ptr;
    const std::string ip = Str(Field(pod, "status"), "podIP");
    const bool serving = PodIsReady(pod);
    const bool terminating = PodIsTerminating(pod);
    json endpoint = {{"addresses", json::array({ip})},
                     {"conditions",
                      {{"ready", publish_not_ready || (serving && !terminating)},
                       {"serving", serving},
                       {"terminating", terminating}}},
                     {"targetRef", TargetRef(pod)}};
    const std::string node = Str(Field(pod, "spec"), "nodeName");
    if (!node.empty()) endpoint["nodeName"] = node;
    const std::string zone = !node.empty() && zone_of ? zone_of(node) : "";
    if (!zone.empty()) endpoint["zone"] = zone;
    if (zone_hints && endpoint["conditions"]["ready"].get<bool>() && !zone.empty()) {
      json hints = {{"forZones", json::array({{{"name", zone}}})}};
      if (node_hints) hints["forNodes"] = json::array({{{"name", node}}});
      endpoint["hints"] = std::move(hints);
    }
    const std::string hostname = Hostname(service, pod);
    if (!hostname.empty()) endpoint["hostname"] = hostname;
    DerivedEndpoint derived;
    derived.id = EndpointId(endpoint);
    derived.address_type = absl::StrContains(ip, ':') ? "IPv6" : "IPv4";
    derived.ports = ResolvedPorts(service, pod);
    derived.endpoint = std::move(endpoint);
    out.push_back(std::move(derived));
  }
  return out;
}

json DeriveLegacyEndpoints(const json& service, const std::vector<const json*>& pods,
                           const EndpointControllerOptions& options) {
  std::vector<LegacyAddress> all;
  for (const json* pod : BackingPods(service, pods)) {
    if (std::optional<LegacyAddress> a = LegacyAddressOf(service, *pod))
      all.push_back(*std::move(a));
  }
  const size_t max = static_cast<size_t>(std::max(0, options.max_endpoints_addresses));
  std::vector<const LegacyAddress*> listed;
  for (size_t i = 0; i < all.size() && i < max; ++i) listed.push_back(&all[i]);
  return BuildLegacyEndpoints(service, listed, all.size() > max);
}

EndpointController::EndpointController(EndpointControllerOptions options) : options_(options) {}

EndpointController::~EndpointController() = default;

void EndpointController::Attach(ObjectStore& store) {
  store.SetReconciler([this](ObjectStore::Transaction& txn, const ObjectStore::Change& change) {
    Reconcile(txn, change);
  });
}

void EndpointController::Reconcile(ObjectStore::Transaction& txn,
                                   const ObjectStore::Change& change) {
  if (change.resource == Resource::kNodes) {
    ReconcileNode(txn, change);
    return;
  }
  if (change.resource == Resource::kPods && change.object != nullptr) {
    ReconcilePod(txn, change.ns, change.previous,
                 change.type == "DELETED" ? nullptr : change.object);
    return;
  }
  ReconcileNamespace(txn, change.ns);
}

void EndpointController::ReconcileNode(ObjectStore::Transaction& txn,
                                       const ObjectStore::Change& change) {
  if (change.object == nullptr) return;
  const std::string before = NodeZone(change.previous);
  const std::string after = change.type == "DELETED" ? "" : NodeZone(change.object);
  if (before == after) return;
  // The zone of the node's endpoints changed: the namespaces with pods on it.
  const std::string node = Str(Field(*change.object, "metadata"), "name");
  std::vector<std::string> namespaces;
  for (const json* ns : txn.List(Resource::kNamespaces, "")) {
    const std::string name = Str(Field(*ns, "metadata"), "name");
    for (const json* pod : txn.List(Resource::kPods, name)) {
      if (Str(Field(*pod, "spec"), "nodeName") == node) {
        namespaces.push_back(name);
        break;
      }
    }
  }
  for (const std::string& ns : namespaces) ReconcileNamespace(txn, ns);
}

void EndpointController::ReconcileNamespace(ObjectStore::Transaction& txn, const std::string& ns) {
  if (ns.empty()) return;
  std::vector<const json*> pods = txn.List(Resource::kPods, ns);
  std::set<std::string> managed_services;
  // Copies: the reconcile below writes to the store.
  std::vector<json> services;
  for (const json* s : txn.List(Resource::kServices, ns)) services.push_back(*s);
  for (const json& service : services) {
    if (!HasSelector(service)) continue;
    managed_services.insert(Str(Field(service, "metadata"), "name"));
    ReconcileService(txn, service, pods);
  }
  for (auto it = services_.lower_bound({ns, ""}); it != services_.end() && it->first.first == ns;) {
    it = managed_services.count(it->first.second) == 0 ? services_.erase(it) : std::next(it);
  }
  // Garbage-collect what belonged to Services that are gone (or lost their
  // selector).
  std::vector<std::pair<Resource, std::string>> orphans;
  for (const json* slice : txn.List(Resource::kEndpointSlices, ns)) {
    const json& labels = Field(Field(*slice, "metadata"), "labels");
    if (Str(labels, kSliceManagedByLabel) == kSliceControllerName &&
        managed_services.count(Str(labels, kServiceNameLabel)) == 0) {
      orphans.emplace_back(Resource::kEndpointSlices, Str(Field(*slice, "metadata"), "name"));
    }
  }
  for (const json* ep : txn.List(Resource::kEndpoints, ns)) {
    const json& meta = Field(*ep, "metadata");
    if (Str(Field(meta, "labels"), kEndpointsManagedByLabel) == kEndpointsControllerName &&
        managed_services.count(Str(meta, "name")) == 0) {
      orphans.emplace_back(Resource::kEndpoints, Str(meta, "name"));
    }
  }
  for (const auto& [resource, name] : orphans) (void)txn.Delete(resource, ns, name);
}

void EndpointController::ReconcileService(ObjectStore::Transaction& txn, const json& service,
                                          const std::vector<const json*>& pods) {
  const json& meta = Field(service, "metadata");
  const std::string ns = Str(meta, "namespace");
  const std::string name = Str(meta, "name");
  auto state = std::make_unique<ServiceState>();
  state->resource_version = Str(meta, "resourceVersion");
  state->service = service;
  state->selector = LabelSelector::FromMap(Field(Field(service, "spec"), "selector"));

  // --- Legacy Endpoints ---
  for (const json* pod : BackingPods(service, pods)) {
    if (std::optional<LegacyAddress> a = LegacyAddressOf(service, *pod)) {
      state->legacy[Str(Field(*pod, "metadata"), "name")] = *std::move(a);
    }
  }
  WriteLegacy(txn, *state);

  // --- EndpointSlices ---
  std::vector<DerivedEndpoint> derived = DeriveSliceEndpoints(service, pods, ZoneOf(txn));
  std::map<std::string, const DerivedEndpoint*> wanted;  // id -> endpoint
  for (const DerivedEndpoint& d : derived) wanted.emplace(d.id, &d);

  struct Slice {
    json object;
    std::string group;
    json endpoints = json::array();
  };
  std::vector<Slice> slices;  // existing slices of this Service, by name
  for (const json* s : ServiceSlices(txn, ns, name)) slices.push_back({*s, SliceGroup(*s)});
  // Endpoints stay in the slice they are in while their group is unchanged.
  std::set<std::string> placed;
  for (Slice& slice : slices) {
    const json& old = Field(slice.object, "endpoints");
    if (!old.is_array()) continue;
    for (const json& e : old) {
      std::string id = EndpointId(e);
      auto it = wanted.find(id);
      if (it == wanted.end() || placed.count(id) > 0 ||
          GroupKey(it->second->address_type, it->second->ports) != slice.group) {
        continue;
      }
      slice.endpoints.push_back(it->second->endpoint);
      placed.insert(id);
    }
  }
  // New endpoints fill slices of their group that have room, then new slices.
  const size_t max = static_cast<size_t>(std::max(1, options_.max_endpoints_per_slice));
  for (const DerivedEndpoint& d : derived) {
    if (placed.count(d.id) > 0) continue;
    placed.insert(d.id);
    const std::string group = GroupKey(d.address_type, d.ports);
    Slice* target = nullptr;
    for (Slice& slice : slices) {
      if (slice.group == group && slice.endpoints.size() < max) {
        target = &slice;
        break;
      }
    }
    if (target == nullptr) {
      // Reuse an existing slice left empty (such as the placeholder) before
      // creating one, as the real controller does.
      for (Slice& slice : slices) {
        if (slice.endpoints.empty()) {
          slice.object["addressType"] = d.address_type;
          slice.object["ports"] = d.ports;
          slice.group = group;
          target = &slice;
          break;
        }
      }
    }
    if (target == nullptr) {
      slices.push_back({NewSlice(service, d.address_type, d.ports), group});
      target = &slices.back();
    }
    target->endpoints.push_back(d.endpoint);
  }
  // Empty slices go, but a Service with no endpoints keeps one placeholder.
  const bool none = derived.empty();
  bool kept_placeholder = false;
  if (none && slices.empty()) {
    slices.push_back({NewSlice(service, "IPv4", json::array()), GroupKey("IPv4", json::array())});
  }
  const json fresh = NewSlice(service, "IPv4", json::array());
  for (Slice& slice : slices) {
    const std::string slice_name = Str(Field(slice.object, "metadata"), "name");
    if (slice.endpoints.empty() && (!none || kept_placeholder)) {
      if (!slice_name.empty()) (void)txn.Delete(Resource::kEndpointSlices, ns, slice_name);
      continue;
    }
    if (slice.endpoints.empty()) {
      kept_placeholder = true;
      slice.object["ports"] = json::array();
    }
    // The controller's metadata, refreshed from the Service.
    json& smeta = slice.object["metadata"];
    for (const char* key : {"namespace", "generateName", "labels", "ownerReferences"}) {
      smeta[key] = fresh["metadata"][key];
    }
    slice.object["apiVersion"] = "discovery.k8s.io/v1";
    slice.object["kind"] = "EndpointSlice";
    slice.object["endpoints"] = std::move(slice.endpoints);
    if (slice_name.empty()) {
      (void)txn.Create(Resource::kEndpointSlices, std::move(slice.object));
    } else {
      (void)txn.Update(Resource::kEndpointSlices, std::move(slice.object));
    }
  }
  // Where each endpoint now is.
  for (const json* s : ServiceSlices(txn, ns, name)) {
    const std::string slice_name = Str(Field(*s, "metadata"), "name");
    const json& endpoints = Field(*s, "endpoints");
    if (!endpoints.is_array()) continue;
    for (const json& e : endpoints) state->slice_of.emplace(EndpointId(e), slice_name);
  }
  services_[{ns, name}] = std::move(state);
}

void EndpointController::ReconcilePod(ObjectStore::Transaction& txn, const std::string& ns,
                                      const json* previous, const json* pod) {
  const json* any = pod != nullptr ? pod : previous;
  if (any == nullptr) return;
  const std::string pod_name = Str(Field(*any, "metadata"), "name");
  std::vector<json> services;  // copies: the writes below change the store
  for (const json* s : txn.List(Resource::kServices, ns)) {
    if (HasSelector(*s)) services.push_back(*s);
  }
  for (const json& service : services) {
    const json& meta = Field(service, "metadata");
    auto it = services_.find({ns, Str(meta, "name")});
    if (it == services_.end() || it->second->resource_version != Str(meta, "resourceVersion")) {
      // Changed since it was last reconciled (it should not have): in full.
      ReconcileService(txn, service, txn.List(Resource::kPods, ns));
      continue;
    }
    ServiceState& state = *it->second;
    const json* before =
        previous != nullptr && PodBacks(*previous, state.selector) ? previous : nullptr;
    const json* after = pod != nullptr && PodBacks(*pod, state.selector) ? pod : nullptr;
    if (before == nullptr && after == nullptr) continue;
    UpdateLegacy(txn, state, pod_name, after);
    UpdateSlices(txn, state, before, after);
  }
}

void EndpointController::UpdateLegacy(ObjectStore::Transaction& txn, ServiceState& state,
                                      const std::string& pod_name, const json* pod) {
  std::optional<LegacyAddress> now =
      pod != nullptr ? LegacyAddressOf(state.service, *pod) : std::nullopt;
  auto it = state.legacy.find(pod_name);
  if (it == state.legacy.end() && !now) return;
  if (it != state.legacy.end() && now && it->second == *now) return;
  const size_t max = static_cast<size_t>(std::max(0, options_.max_endpoints_addresses));
  const size_t before = state.legacy.size();
  if (!now) {
    state.legacy.erase(it);
  } else if (it == state.legacy.end()) {
    state.legacy.emplace(pod_name, *std::move(now));
  } else {
    it->second = *std::move(now);
  }
  const size_t after = state.legacy.size();
  if (before > max && after > max) {
    // Truncated before and after: the object changes only if this Pod is (or
    // was) among the addresses it lists, which are the first `max` by name.
    if (max == 0) return;
    if (pod_name > std::next(state.legacy.begin(), static_cast<long>(max) - 1)->first) return;
  }
  WriteLegacy(txn, state);
}

void EndpointController::WriteLegacy(ObjectStore::Transaction& txn, const ServiceState& state) {
  const size_t max = static_cast<size_t>(std::max(0, options_.max_endpoints_addresses));
  std::vector<const LegacyAddress*> listed;
  for (auto it = state.legacy.begin(); it != state.legacy.end() && listed.size() < max; ++it) {
    listed.push_back(&it->second);
  }
  json endpoints = BuildLegacyEndpoints(state.service, listed, state.legacy.size() > max);
  const json& meta = Field(state.service, "metadata");
  if (txn.Get(Resource::kEndpoints, Str(meta, "namespace"), Str(meta, "name")) == nullptr) {
    (void)txn.Create(Resource::kEndpoints, std::move(endpoints));
  } else {
    (void)txn.Update(Resource::kEndpoints, std::move(endpoints));
  }
}

void EndpointController::UpdateSlices(ObjectStore::Transaction& txn, ServiceState& state,
                                      const json* previous, const json* pod) {
  const json& service = state.service;
  const std::string ns = Str(Field(service, "metadata"), "namespace");
  const std::string name = Str(Field(service, "metadata"), "name");
  auto derive = [&](const json* p) -> std::optional<DerivedEndpoint> {
    if (p == nullptr) return std::nullopt;
    std::vector<DerivedEndpoint> d = DeriveSliceEndpoints(service, {p}, ZoneOf(txn));
    if (d.empty()) return std::nullopt;
    return std::move(d[0]);
  };
  const std::optional<DerivedEndpoint> was = derive(previous);
  const std::optional<DerivedEndpoint> now = derive(pod);
  const std::vector<const json*> slices = ServiceSlices(txn, ns, name);

  // Where the endpoint is: the hint, checked; if it proves wrong, the index is
  // rebuilt from the slices and asked again.
  auto locate = [&](const std::string& id, int* slice, size_t* position) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto hint = state.slice_of.find(id);
      if (hint == state.slice_of.end()) return false;
      for (size_t s = 0; s < slices.size(); ++s) {
        if (Str(Field(*slices[s], "metadata"), "name") != hint->second) continue;
        const json& endpoints = Field(*slices[s], "endpoints");
        for (size_t e = 0; endpoints.is_array() && e < endpoints.size(); ++e) {
          if (EndpointId(endpoints[e]) == id) {
            *slice = static_cast<int>(s);
            *position = e;
            return true;
          }
        }
      }
      state.slice_of.clear();
      for (const json* s : slices) {
        const json& endpoints = Field(*s, "endpoints");
        if (!endpoints.is_array()) continue;
        for (const json& e : endpoints) {
          state.slice_of.emplace(EndpointId(e), Str(Field(*s, "metadata"), "name"));
        }
      }
    }
    return false;
  };
  int found = -1;
  size_t position = 0;
  if (was) locate(was->id, &found, &position);
  if (found < 0 && now && (!was || now->id != was->id)) locate(now->id, &found, &position);
  auto forget = [&] {
    if (was && (!now || was->id != now->id)) state.slice_of.erase(was->id);
  };
  const std::string group = now ? GroupKey(now->address_type, now->ports) : "";

  // Unchanged group: the endpoint is replaced where it is.
  std::optional<json> edited;  // the slice it left, when it left one
  if (found >= 0) {
    const json& slice = *slices[found];
    if (now && SliceGroup(slice) == group) {
      forget();
      state.slice_of[now->id] = Str(Field(slice, "metadata"), "name");
      if (Field(slice, "endpoints")[position] == now->endpoint) return;
      json copy = slice;
      copy["endpoints"][position] = now->endpoint;
      (void)txn.Update(Resource::kEndpointSlices, std::move(copy));
      return;
    }
    edited = slice;
    (*edited)["endpoints"].erase(position);
  }
  forget();
  auto view = [&](size_t s) -> const json& {
    return static_cast<int>(s) == found ? *edited : *slices[s];
  };
  size_t total = 0;
  for (size_t s = 0; s < slices.size(); ++s) total += EndpointCount(view(s));

  // Otherwise it goes to the first slice of its group with room, else to an
  // empty slice, else to a new one, as a full reconcile would place it.
  const size_t max = static_cast<size_t>(std::max(1, options_.max_endpoints_per_slice));
  int target = -1;
  if (now) {
    for (size_t s = 0; s < slices.size() && target < 0; ++s) {
      if (SliceGroup(view(s)) == group && EndpointCount(view(s)) < max) {
        target = static_cast<int>(s);
      }
    }
    for (size_t s = 0; s < slices.size() && target < 0; ++s) {
      if (EndpointCount(view(s)) == 0) target = static_cast<int>(s);
    }
  }
  // The slice the endpoint left: kept if it still has endpoints, or as the
  // placeholder of a Service that has none.
  if (found >= 0 && found != target) {
    if (EndpointCount(*edited) > 0 || (total == 0 && !now)) {
      if (EndpointCount(*edited) == 0) (*edited)["ports"] = json::array();
      (void)txn.Update(Resource::kEndpointSlices, *std::move(edited));
    } else {
      (void)txn.Delete(Resource::kEndpointSlices, ns, Str(Field(*edited, "metadata"), "name"));
    }
  }
  if (!now) return;
  json slice = target < 0 ? NewSlice(service, now->address_type, now->ports) : json(view(target));
  if (target >= 0 && EndpointCount(slice) == 0) {
    slice["addressType"] = now->address_type;
    slice["ports"] = now->ports;
  }
  slice["endpoints"].push_back(now->endpoint);
  absl::StatusOr<json> written = target < 0
                                     ? txn.Create(Resource::kEndpointSlices, std::move(slice))
                                     : txn.Update(Resource::kEndpointSlices, std::move(slice));
  if (written.ok()) state.slice_of[now->id] = Str(Field(*written, "metadata"), "name");
}

}  // namespace fakek8s
