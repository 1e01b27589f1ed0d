#include "fakek8s/endpoint_controller.h"

#include <algorithm>
#include <map>
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

}  // namespace

std::vector<DerivedEndpoint> DeriveSliceEndpoints(const json& service,
                                                  const std::vector<const json*>& pods) {
  std::vector<DerivedEndpoint> out;
  const bool publish_not_ready = PublishNotReady(service);
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
    const std::string zone =
        Str(Field(Field(pod, "metadata"), "labels"), "topology.kubernetes.io/zone");
    if (!zone.empty()) endpoint["zone"] = zone;
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
  const json& meta = Field(service, "metadata");
  json labels = DerivedLabels(service);
  labels[kEndpointsManagedByLabel] = kEndpointsControllerName;
  json endpoints = {
      {"kind", "Endpoints"},
      {"apiVersion", "v1"},
      {"metadata",
       {{"name", Str(meta, "name")}, {"namespace", Str(meta, "namespace")}, {"labels", labels}}}};
  const bool publish_not_ready = PublishNotReady(service);
  const bool service_has_ports = Field(Field(service, "spec"), "ports").is_array() &&
                                 !Field(Field(service, "spec"), "ports").empty();
  // Port set (as JSON text) -> {ready addresses, not-ready addresses}, by IP.
  std::map<std::string, std::pair<std::map<std::string, json>, std::map<std::string, json>>>
      subsets;
  int total = 0;
  bool truncated = false;
  for (const json* pod_ptr : BackingPods(service, pods)) {
    const json& pod = *pod_ptr;
    if (PodIsTerminating(pod) && !publish_not_ready) continue;
    json ports = ResolvedPorts(service, pod);
    if (service_has_ports && ports.empty()) continue;
    for (json& p : ports) {
      if (Str(p, "name").empty()) p.erase("name");
    }
    if (total >= options.max_endpoints_addresses) {
      truncated = true;
      continue;
    }
    ++total;
    const std::string ip = Str(Field(pod, "status"), "podIP");
    json address = {{"ip", ip}, {"targetRef", TargetRef(pod)}};
    const std::string node = Str(Field(pod, "spec"), "nodeName");
    if (!node.empty()) address["nodeName"] = node;
    const std::string hostname = Hostname(service, pod);
    if (!hostname.empty()) address["hostname"] = hostname;
    auto& subset = subsets[ports.dump()];
    (PodIsReady(pod) || publish_not_ready ? subset.first : subset.second)[ip] = std::move(address);
  }
  if (truncated) {
    endpoints["metadata"]["annotations"] = {{kOverCapacityAnnotation, "truncated"}};
  }
  if (subsets.empty()) return endpoints;  // no `subsets` key when empty
  json out = json::array();
  for (auto& [ports_text, lists] : subsets) {
    json subset = json::object();
    auto to_array = [](std::map<std::string, json>& by_ip) {
      json a = json::array();
      for (auto& [ip, address] : by_ip) a.push_back(std::move(address));
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

void EndpointController::Attach(ObjectStore& store) {
  store.SetReconciler(
      [this](ObjectStore::Transaction& txn, Resource changed, const std::string& ns) {
        (void)changed;
        ReconcileNamespace(txn, ns);
      });
}

void EndpointController::ReconcileNamespace(ObjectStore::Transaction& txn,
                                            const std::string& ns) const {
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
                                          const std::vector<const json*>& pods) const {
  const json& meta = Field(service, "metadata");
  const std::string ns = Str(meta, "namespace");
  const std::string name = Str(meta, "name");

  // --- Legacy Endpoints ---
  json endpoints = DeriveLegacyEndpoints(service, pods, options_);
  if (txn.Get(Resource::kEndpoints, ns, name) == nullptr) {
    (void)txn.Create(Resource::kEndpoints, std::move(endpoints));
  } else {
    (void)txn.Update(Resource::kEndpoints, std::move(endpoints));
  }

  // --- EndpointSlices ---
  std::vector<DerivedEndpoint> derived = DeriveSliceEndpoints(service, pods);
  std::map<std::string, const DerivedEndpoint*> wanted;  // id -> endpoint
  for (const DerivedEndpoint& d : derived) wanted.emplace(d.id, &d);

  struct Slice {
    json object;
    std::string group;
    json endpoints = json::array();
  };
  std::vector<Slice> slices;  // existing slices of this Service, by name
  for (const json* s : txn.List(Resource::kEndpointSlices, ns)) {
    const json& labels = Field(Field(*s, "metadata"), "labels");
    if (Str(labels, kServiceNameLabel) != name ||
        Str(labels, kSliceManagedByLabel) != kSliceControllerName) {
      continue;
    }
    slices.push_back({*s, GroupKey(Str(*s, "addressType"), Field(*s, "ports"))});
  }
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
      slices.push_back(
          {json{{"metadata", json::object()}, {"addressType", d.address_type}, {"ports", d.ports}},
           group});
      target = &slices.back();
    }
    target->endpoints.push_back(d.endpoint);
  }
  // Empty slices go, but a Service with no endpoints keeps one placeholder.
  const bool none = derived.empty();
  bool kept_placeholder = false;
  json labels = DerivedLabels(service);
  labels[kServiceNameLabel] = name;
  labels[kSliceManagedByLabel] = kSliceControllerName;
  const json owner = json::array({{{"apiVersion", "v1"},
                                   {"kind", "Service"},
                                   {"name", name},
                                   {"uid", Str(meta, "uid")},
                                   {"controller", true},
                                   {"blockOwnerDeletion", true}}});
  if (none && slices.empty()) {
    slices.push_back(
        {json{{"metadata", json::object()}, {"addressType", "IPv4"}, {"ports", json::array()}},
         GroupKey("IPv4", json::array())});
  }
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
    json& smeta = slice.object["metadata"];
    smeta["namespace"] = ns;
    smeta["generateName"] = name + "-";
    smeta["labels"] = labels;
    smeta["ownerReferences"] = owner;
    slice.object["apiVersion"] = "discovery.k8s.io/v1";
    slice.object["kind"] = "EndpointSlice";
    slice.object["endpoints"] = std::move(slice.endpoints);
    if (slice_name.empty()) {
      (void)txn.Create(Resource::kEndpointSlices, std::move(slice.object));
    } else {
      (void)txn.Update(Resource::kEndpointSlices, std::move(slice.object));
    }
  }
}

}  // namespace fakek8s
