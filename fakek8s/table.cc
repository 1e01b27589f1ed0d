#include "fakek8s/table.h"

#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

struct Column {
  const char* name;
  const char* type;  // string, integer, date
  const char* description;
  int priority = 0;
  const char* format = "";
};

const json& At(const json& object, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return kNull;
    auto it = node->find(key);
    if (it == node->end()) return kNull;
    node = &*it;
  }
  return *node;
}

std::string Str(const json& j, const std::string& otherwise = "") {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  return otherwise;
}

std::string OrNone(const std::string& s) { return s.empty() ? "<none>" : s; }

std::string Age(const json& timestamp, absl::Time now) {
  if (!timestamp.is_string()) return "<unknown>";
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, timestamp.get<std::string>(), &t, &err)) {
    return "<unknown>";
  }
  return HumanDuration(now - t);
}

// At most three values, then "+ N more...", as kubectl's printers cut lists.
std::string FirstThree(const std::vector<std::string>& values) {
  if (values.empty()) return "<none>";
  std::vector<std::string> shown(values.begin(),
                                 values.begin() + std::min<size_t>(3, values.size()));
  std::string out = absl::StrJoin(shown, ",");
  if (values.size() > 3) absl::StrAppend(&out, " + ", values.size() - 3, " more...");
  return out;
}

const std::vector<Column>& Columns(Resource resource) {
  static const Column kName{"Name", "string", "The object's name, unique within its namespace.", 0,
                            "name"};
  static const Column kAge{"Age", "string", "How long ago the object was created."};
  static const auto* const kPods = new std::vector<Column>{
      kName,
      {"Ready", "string", "Ready containers of all the pod's containers."},
      {"Status", "string", "The pod's state in a word: its phase, or why it is not running."},
      {"Restarts", "string", "How many times the pod's containers have been restarted."},
      kAge,
      {"IP", "string", "The pod's IP address.", 1},
      {"Node", "string", "The node the pod is bound to.", 1},
      {"Nominated Node", "string", "The node a preemption nominated for the pod.", 1},
      {"Readiness Gates", "string", "Readiness gates that are True, of all the pod's gates.", 1},
  };
  static const auto* const kServices = new std::vector<Column>{
      kName,
      {"Type", "string", "How the Service is exposed."},
      {"Cluster-IP", "string", "The Service's virtual IP."},
      {"External-IP", "string", "Addresses outside the cluster that reach the Service."},
      {"Port(s)", "string", "The Service's ports, with their node ports and protocols."},
      kAge,
      {"Selector", "string", "The labels of the pods behind the Service.", 1},
  };
  static const auto* const kEndpoints = new std::vector<Column>{
      kName, {"Endpoints", "string", "Ready addresses with their ports."}, kAge};
  static const auto* const kSlices =
      new std::vector<Column>{kName,
                              {"AddressType", "string", "The kind of addresses in the slice."},
                              {"Ports", "string", "The ports of the slice's endpoints."},
                              {"Endpoints", "string", "The slice's endpoint addresses."},
                              kAge};
  static const auto* const kNamespaces =
      new std::vector<Column>{kName, {"Status", "string", "The namespace's phase."}, kAge};
  static const auto* const kEvents = new std::vector<Column>{
      {"Last Seen", "string", "How long ago the event last occurred."},
      {"Type", "string", "Normal or Warning."},
      {"Reason", "string", "Why the event was recorded, in a word."},
      {"Object", "string", "The object the event is about."},
      {"Subobject", "string", "The part of the object, e.g. a container.", 1},
      {"Source", "string", "Who recorded the event.", 1},
      {"Message", "string", "What happened."},
      {"First Seen", "string", "How long ago the event first occurred.", 1},
      {"Count", "string", "How many times it occurred.", 1},
      {"Name", "string", "The event's name.", 1, "name"},
  };
  static const auto* const kNodes = new std::vector<Column>{
      kName,
      {"Status", "string", "Whether the node is Ready, and if it is unschedulable."},
      {"Roles", "string", "The node's roles (node-role.kubernetes.io labels)."},
      kAge,
      {"Version", "string", "The kubelet's version."},
      {"Internal-IP", "string", "The node's internal address.", 1},
      {"Zone", "string", "The node's zone (topology.kubernetes.io/zone).", 1},
  };
  static const auto* const kDefault = new std::vector<Column>{kName, kAge};
  switch (resource) {
    case Resource::kPods:
      return *kPods;
    case Resource::kServices:
      return *kServices;
    case Resource::kEndpoints:
      return *kEndpoints;
    case Resource::kEndpointSlices:
      return *kSlices;
    case Resource::kNamespaces:
      return *kNamespaces;
    case Resource::kEvents:
    case Resource::kEventsV1:
      return *kEvents;
    case Resource::kNodes:
      return *kNodes;
    default:
      return *kDefault;
  }
}

json PodCells(const json& pod, absl::Time now) {
  const json& containers = At(pod, {"spec", "containers"});
  const int64_t total = containers.is_array() ? static_cast<int64_t>(containers.size()) : 0;
  int64_t ready = 0;
  int64_t restarts = 0;
  std::string waiting;
  const json& statuses = At(pod, {"status", "containerStatuses"});
  bool pod_ready = false;
  const json& conditions = At(pod, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const json& c : conditions) {
      if (c.is_object() && c.value("type", "") == "Ready")
        pod_ready = c.value("status", "") == "True";
    }
  }
  if (statuses.is_array() && !statuses.empty()) {
    for (const json& s : statuses) {
      if (!s.is_object()) continue;
      if (s.value("ready", false)) ++ready;
      if (s.contains("restartCount") && s["restartCount"].is_number_integer()) {
        restarts += s["restartCount"].get<int64_t>();
      }
      const std::string reason = Str(At(s, {"state", "waiting", "reason"}));
      const std::string terminated = Str(At(s, {"state", "terminated", "reason"}));
      if (waiting.empty()) waiting = !reason.empty() ? reason : terminated;
    }
  } else if (pod_ready) {
    // fakek8s runs no containers: without container statuses, a Ready pod
    // counts all of its containers as ready.
    ready = total;
  }
  std::string status = Str(At(pod, {"status", "phase"}), "Unknown");
  if (!Str(At(pod, {"status", "reason"})).empty()) status = Str(At(pod, {"status", "reason"}));
  if (!waiting.empty()) status = waiting;
  if (!At(pod, {"metadata", "deletionTimestamp"}).is_null()) status = "Terminating";
  std::string gates = "<none>";
  const json& readiness_gates = At(pod, {"spec", "readinessGates"});
  if (readiness_gates.is_array() && !readiness_gates.empty()) {
    int64_t met = 0;
    for (const json& g : readiness_gates) {
      const std::string type = Str(At(g, {"conditionType"}));
      if (conditions.is_array()) {
        for (const json& c : conditions) {
          if (c.is_object() && c.value("type", "") == type && c.value("status", "") == "True") {
            ++met;
          }
        }
      }
    }
    gates = absl::StrCat(met, "/", readiness_gates.size());
  }
  return {Str(At(pod, {"metadata", "name"})),
          absl::StrCat(ready, "/", total),
          status,
          std::to_string(restarts),
          Age(At(pod, {"metadata", "creationTimestamp"}), now),
          OrNone(Str(At(pod, {"status", "podIP"}))),
          OrNone(Str(At(pod, {"spec", "nodeName"}))),
          OrNone(Str(At(pod, {"status", "nominatedNodeName"}))),
          gates};
}

json ServiceCells(const json& service, absl::Time now) {
  const std::string type = Str(At(service, {"spec", "type"}), "ClusterIP");
  std::vector<std::string> external;
  const json& ips = At(service, {"spec", "externalIPs"});
  if (ips.is_array()) {
    for (const json& ip : ips) external.push_back(Str(ip));
  }
  if (type == "LoadBalancer") {
    const json& ingress = At(service, {"status", "loadBalancer", "ingress"});
    if (ingress.is_array()) {
      for (const json& i : ingress) {
        const std::string a = Str(At(i, {"ip"}));
        external.push_back(a.empty() ? Str(At(i, {"hostname"})) : a);
      }
    }
    if (external.empty()) external.push_back("<pending>");
  }
  if (type == "ExternalName") external.push_back(Str(At(service, {"spec", "externalName"})));
  std::vector<std::string> ports;
  const json& list = At(service, {"spec", "ports"});
  if (list.is_array()) {
    for (const json& p : list) {
      std::string text = Str(At(p, {"port"}));
      if (At(p, {"nodePort"}).is_number_integer())
        absl::StrAppend(&text, ":", Str(At(p, {"nodePort"})));
      absl::StrAppend(&text, "/", Str(At(p, {"protocol"}), "TCP"));
      ports.push_back(text);
    }
  }
  std::vector<std::string> selector;
  const json& sel = At(service, {"spec", "selector"});
  if (sel.is_object()) {
    for (const auto& [k, v] : sel.items()) selector.push_back(absl::StrCat(k, "=", Str(v)));
  }
  return {Str(At(service, {"metadata", "name"})),
          type,
          OrNone(Str(At(service, {"spec", "clusterIP"}))),
          external.empty() ? "<none>" : absl::StrJoin(external, ","),
          ports.empty() ? "<none>" : absl::StrJoin(ports, ","),
          Age(At(service, {"metadata", "creationTimestamp"}), now),
          selector.empty() ? "<none>" : absl::StrJoin(selector, ",")};
}

json EndpointsCells(const json& endpoints, absl::Time now) {
  std::vector<std::string> addresses;
  const json& subsets = At(endpoints, {"subsets"});
  if (subsets.is_array()) {
    for (const json& subset : subsets) {
      const json& ports = At(subset, {"ports"});
      const json& ready = At(subset, {"addresses"});
      if (!ready.is_array()) continue;
      for (const json& a : ready) {
        if (!ports.is_array() || ports.empty()) {
          addresses.push_back(Str(At(a, {"ip"})));
          continue;
        }
        for (const json& p : ports) {
          addresses.push_back(absl::StrCat(Str(At(a, {"ip"})), ":", Str(At(p, {"port"}))));
        }
      }
    }
  }
  return {Str(At(endpoints, {"metadata", "name"})), FirstThree(addresses),
          Age(At(endpoints, {"metadata", "creationTimestamp"}), now)};
}

json SliceCells(const json& slice, absl::Time now) {
  std::vector<std::string> ports;
  const json& list = At(slice, {"ports"});
  if (list.is_array()) {
    for (const json& p : list) ports.push_back(Str(At(p, {"port"}), "<unset>"));
  }
  std::vector<std::string> addresses;
  const json& endpoints = At(slice, {"endpoints"});
  if (endpoints.is_array()) {
    for (const json& e : endpoints) {
      const json& a = At(e, {"addresses"});
      if (a.is_array()) {
        for (const json& address : a) addresses.push_back(Str(address));
      }
    }
  }
  return {Str(At(slice, {"metadata", "name"})), Str(At(slice, {"addressType"})),
          ports.empty() ? "<unset>" : absl::StrJoin(ports, ","),
          addresses.empty() ? "<unset>" : FirstThree(addresses),
          Age(At(slice, {"metadata", "creationTimestamp"}), now)};
}

json EventCells(const json& event, bool v1, absl::Time now) {
  const json& involved = At(event, {v1 ? "regarding" : "involvedObject"});
  const json& last = At(event, {v1 ? "deprecatedLastTimestamp" : "lastTimestamp"});
  const json& first = At(event, {v1 ? "deprecatedFirstTimestamp" : "firstTimestamp"});
  const json& when = last.is_string() ? last : At(event, {"eventTime"});
  std::string source = Str(At(event, {v1 ? "deprecatedSource" : "source", "component"}));
  if (source.empty()) source = Str(At(event, {v1 ? "reportingController" : "reportingComponent"}));
  const std::string count = Str(At(event, {v1 ? "deprecatedCount" : "count"}), "1");
  return {Age(when, now),
          Str(At(event, {"type"})),
          Str(At(event, {"reason"})),
          absl::StrCat(absl::AsciiStrToLower(Str(At(involved, {"kind"}))), "/",
                       Str(At(involved, {"name"}))),
          Str(At(involved, {"fieldPath"})),
          source,
          Str(At(event, {v1 ? "note" : "message"})),
          Age(first.is_string() ? first : when, now),
          count,
          Str(At(event, {"metadata", "name"}))};
}

json NodeCells(const json& node, absl::Time now) {
  std::string status = "Unknown";
  const json& conditions = At(node, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const json& c : conditions) {
      if (!c.is_object() || c.value("type", "") != "Ready") continue;
      const std::string v = Str(At(c, {"status"}));
      status = v == "True" ? "Ready" : v == "False" ? "NotReady" : "Unknown";
    }
  }
  const json& unschedulable = At(node, {"spec", "unschedulable"});
  if (unschedulable.is_boolean() && unschedulable.get<bool>()) {
    absl::StrAppend(&status, ",SchedulingDisabled");
  }
  std::vector<std::string> roles;
  const json& labels = At(node, {"metadata", "labels"});
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      if (absl::StartsWith(key, "node-role.kubernetes.io/")) {
        roles.push_back(key.substr(std::string("node-role.kubernetes.io/").size()));
      }
    }
  }
  std::string internal_ip;
  const json& addresses = At(node, {"status", "addresses"});
  if (addresses.is_array()) {
    for (const json& a : addresses) {
      if (internal_ip.empty() && Str(At(a, {"type"})) == "InternalIP") {
        internal_ip = Str(At(a, {"address"}));
      }
    }
  }
  return {Str(At(node, {"metadata", "name"})),
          status,
          OrNone(absl::StrJoin(roles, ",")),
          Age(At(node, {"metadata", "creationTimestamp"}), now),
          Str(At(node, {"status", "nodeInfo", "kubeletVersion"})),
          OrNone(internal_ip),
          OrNone(Str(At(node, {"metadata", "labels", "topology.kubernetes.io/zone"})))};
}

json Cells(const ResourceInfo& info, const json& object, absl::Time now) {
  switch (info.resource) {
    case Resource::kPods:
      return PodCells(object, now);
    case Resource::kServices:
      return ServiceCells(object, now);
    case Resource::kEndpoints:
      return EndpointsCells(object, now);
    case Resource::kEndpointSlices:
      return SliceCells(object, now);
    case Resource::kNamespaces:
      return {Str(At(object, {"metadata", "name"})), Str(At(object, {"status", "phase"}), "Active"),
              Age(At(object, {"metadata", "creationTimestamp"}), now)};
    case Resource::kEvents:
      return EventCells(object, false, now);
    case Resource::kEventsV1:
      return EventCells(object, true, now);
    case Resource::kNodes:
      return NodeCells(object, now);
    default:
      return {Str(At(object, {"metadata", "name"})),
              Age(At(object, {"metadata", "creationTimestamp"}), now)};
  }
}

}  // namespace

RenderAs ParseAccept(const std::string& accept) {
  for (absl::string_view media : absl::StrSplit(accept, ',')) {
    std::vector<std::string> parts = absl::StrSplit(media, ';');
    if (parts.empty()) continue;
    const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
    if (type != "application/json" && type != "*/*" && type != "application/*") continue;
    std::string as, group, version;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::vector<std::string> kv = absl::StrSplit(absl::StripAsciiWhitespace(parts[i]), '=');
      if (kv.size() != 2) continue;
      if (kv[0] == "as") as = kv[1];
      if (kv[0] == "g") group = kv[1];
      if (kv[0] == "v") version = kv[1];
    }
    if (as.empty()) return {};
    if (group != "meta.k8s.io" || (version != "v1" && version != "v1beta1")) continue;
    if (as == "Table") return {Rendering::kTable, version};
    if (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") {
      return {Rendering::kPartialMetadata, version};
    }
  }
  return {};
}

json ToTable(const ResourceInfo& info, const std::vector<json>& objects, const json& list_metadata,
             const RenderAs& as, const TableOptions& options) {
  json columns = json::array();
  if (options.with_columns) {
    for (const Column& c : Columns(info.resource)) {
      columns.push_back({{"name", c.name},
                         {"type", c.type},
                         {"format", c.format},
                         {"description", c.description},
                         {"priority", c.priority}});
    }
  }
  json rows = json::array();
  for (const json& object : objects) {
    json row = {{"cells", Cells(info, object, options.now)}};
    if (options.include_object == "Object") {
      row["object"] = object;
    } else if (options.include_object != "None") {
      row["object"] = ToPartialMetadata(object, as);
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/" + as.version},
          {"metadata", list_metadata.is_object() ? list_metadata : json::object()},
          {"columnDefinitions", std::move(columns)},
          {"rows", std::move(rows)}};
}

json ToPartialMetadata(const json& object, const RenderAs& as) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/" + as.version},
          {"metadata", object.contains("metadata") ? object["metadata"] : json::object()}};
}

json ToPartialMetadataList(const std::vector<json>& objects, const json& list_metadata,
                           const RenderAs& as) {
  json items = json::array();
  for (const json& o : objects) items.push_back(ToPartialMetadata(o, as));
  return {{"kind", "PartialObjectMetadataList"},
          {"apiVersion", "meta.k8s.io/" + as.version},
          {"metadata", list_metadata.is_object() ? list_metadata : json::object()},
          {"items", std::move(items)}};
}

std::string HumanDuration(absl::Duration d) {
  const int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return absl::StrCat(seconds, "s");
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    return seconds % 60 == 0 ? absl::StrCat(minutes, "m")
                             : absl::StrCat(minutes, "m", seconds % 60, "s");
  }
  if (minutes < 180) return absl::StrCat(minutes, "m");
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    return minutes % 60 == 0 ? absl::StrCat(hours, "h")
                             : absl::StrCat(hours, "h", minutes % 60, "m");
  }
  if (hours < 48) return absl::StrCat(hours, "h");
  if (hours < 24 * 8) {
    return hours % 24 == 0 ? absl::StrCat(hours / 24, "d")
                           : absl::StrCat(hours / 24, "d", hours % 24, "h");
  }
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    const int64_t days = (hours / 24) % 365;
    return days == 0 ? absl::StrCat(hours / 24 / 365, "y")
                     : absl::StrCat(hours / 24 / 365, "y", days, "d");
  }
  return absl::StrCat(hours / 24 / 365, "y");
}

}  // namespace fakek8s
