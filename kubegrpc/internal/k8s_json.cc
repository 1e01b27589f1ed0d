#include "kubegrpc/internal/k8s_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kubegrpc::internal {
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

std::optional<bool> OptBool(const json& object, const char* key) {
  const json& v = Field(object, key);
  if (v.is_boolean()) return v.get<bool>();
  return std::nullopt;
}

int PortNumber(const json& v) {
  if (v.is_number_integer()) {
    int64_t p = v.get<int64_t>();
    return p >= 1 && p <= 65535 ? static_cast<int>(p) : 0;
  }
  return 0;
}

absl::Status Bad(absl::string_view what) {
  return absl::InternalError(absl::StrCat("kube-grpc: undecodable API response: ", what));
}

std::vector<EndpointPort> DecodePorts(const json& ports) {
  std::vector<EndpointPort> out;
  if (!ports.is_array()) return out;
  for (const json& p : ports) {
    if (!p.is_object()) continue;
    EndpointPort port;
    port.name = Str(p, "name");
    port.port = PortNumber(Field(p, "port"));
    std::string protocol = Str(p, "protocol");
    if (!protocol.empty()) port.protocol = protocol;
    out.push_back(std::move(port));
  }
  return out;
}

}  // namespace

absl::StatusOr<json> ParseJson(absl::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // The start of the body tells an HTML login page or a proxy's error apart
    // from a cut-off response.
    constexpr size_t kShown = 60;
    return Bad(absl::StrCat("not valid JSON (", text.size(), " bytes beginning \"",
                            absl::CHexEscape(text.substr(0, kShown)),
                            text.size() > kShown ? "...\")" : "\")"));
  }
  return j;
}

absl::StatusCode CodeForHttp(int http_code) {
  switch (http_code) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      if (http_code >= 500) return absl::StatusCode::kUnavailable;
      return absl::StatusCode::kUnknown;
  }
}

absl::StatusOr<ServiceInfo> DecodeService(const json& object) {
  if (!object.is_object()) return Bad("a Service is not a JSON object");
  ServiceInfo info;
  info.name = Str(Field(object, "metadata"), "name");
  info.ns = Str(Field(object, "metadata"), "namespace");
  const json& ports = Field(Field(object, "spec"), "ports");
  if (ports.is_array()) {
    for (const json& p : ports) {
      if (!p.is_object()) continue;
      ServicePort port;
      port.name = Str(p, "name");
      port.port = PortNumber(Field(p, "port"));
      std::string protocol = Str(p, "protocol");
      if (!protocol.empty()) port.protocol = protocol;
      info.ports.push_back(std::move(port));
    }
  }
  const json& annotations = Field(Field(object, "metadata"), "annotations");
  if (annotations.is_object()) {
    for (const auto& [key, value] : annotations.items()) {
      if (key.rfind("kube-grpc.io/", 0) == 0 && value.is_string()) {
        info.annotations[key] = value.get<std::string>();
      }
    }
  }
  return info;
}

absl::StatusOr<std::string> DecodeNodeZone(const json& object) {
  if (!object.is_object()) return Bad("a Node is not a JSON object");
  const json& labels = Field(Field(object, "metadata"), "labels");
  std::string zone = Str(labels, "topology.kubernetes.io/zone");
  return zone.empty() ? Str(labels, "failure-domain.beta.kubernetes.io/zone") : zone;
}

absl::StatusOr<EndpointObject> DecodeEndpointSlice(const json& object) {
  if (!object.is_object()) return Bad("an EndpointSlice is not a JSON object");
  EndpointObject out;
  out.name = Str(Field(object, "metadata"), "name");
  out.resource_version = Str(Field(object, "metadata"), "resourceVersion");
  std::vector<EndpointPort> ports = DecodePorts(Field(object, "ports"));
  const json& endpoints = Field(object, "endpoints");  // may be null
  if (!endpoints.is_array()) return out;
  for (const json& e : endpoints) {
    if (!e.is_object()) continue;
    const json& addresses = Field(e, "addresses");
    if (!addresses.is_array() || addresses.empty() || !addresses[0].is_string()) continue;
    EndpointInfo info;
    info.address = addresses[0].get<std::string>();
    const json& conditions = Field(e, "conditions");
    info.ready = OptBool(conditions, "ready");
    info.serving = OptBool(conditions, "serving");
    info.terminating = OptBool(conditions, "terminating");
    info.hostname = Str(e, "hostname");
    info.node_name = Str(e, "nodeName");
    info.zone = Str(e, "zone");
    const json& for_zones = Field(Field(e, "hints"), "forZones");
    if (for_zones.is_array()) {
      for (const json& z : for_zones) {
        std::string name = Str(z, "name");
        if (!name.empty()) info.for_zones.push_back(std::move(name));
      }
    }
    info.pod_name = Str(Field(e, "targetRef"), "name");
    info.ports = ports;
    out.endpoints.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<EndpointObject> DecodeEndpoints(const json& object) {
  if (!object.is_object()) return Bad("an Endpoints object is not a JSON object");
  EndpointObject out;
  out.name = Str(Field(object, "metadata"), "name");
  out.resource_version = Str(Field(object, "metadata"), "resourceVersion");
  const json& subsets = Field(object, "subsets");
  if (!subsets.is_array()) return out;
  for (const json& subset : subsets) {
    std::vector<EndpointPort> ports = DecodePorts(Field(subset, "ports"));
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      const bool ready = std::string(list) == "addresses";
      const json& addresses = Field(subset, list);
      if (!addresses.is_array()) continue;
      for (const json& a : addresses) {
        std::string ip = Str(a, "ip");
        if (ip.empty()) continue;
        EndpointInfo info;
        info.address = ip;
        // Endpoints drop terminating pods; not-ready ones are neither ready nor serving.
        info.ready = ready;
        info.serving = ready;
        info.terminating = false;
        info.hostname = Str(a, "hostname");
        info.node_name = Str(a, "nodeName");
        info.pod_name = Str(Field(a, "targetRef"), "name");
        info.ports = ports;
        out.endpoints.push_back(std::move(info));
      }
    }
  }
  return out;
}

absl::StatusOr<EndpointObjectList> DecodeEndpointList(EndpointSource source,
                                                      absl::string_view body) {
  absl::StatusOr<json> j = ParseJson(body);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Bad("a list is not a JSON object");
  EndpointObjectList out;
  out.resource_version = Str(Field(*j, "metadata"), "resourceVersion");
  const json& items = Field(*j, "items");
  if (!items.is_array() && !items.is_null()) return Bad("a list's items are not an array");
  if (items.is_array()) {
    for (const json& item : items) {
      absl::StatusOr<EndpointObject> o = source == EndpointSource::kEndpointSlices
                                             ? DecodeEndpointSlice(item)
                                             : DecodeEndpoints(item);
      if (!o.ok()) return o.status();
      out.items.push_back(*std::move(o));
    }
  }
  return out;
}

std::optional<WatchEvent::Type> ObjectEventType(absl::string_view type) {
  if (type == "ADDED") return WatchEvent::Type::kAdded;
  if (type == "MODIFIED") return WatchEvent::Type::kModified;
  if (type == "DELETED") return WatchEvent::Type::kDeleted;
  return std::nullopt;
}

absl::StatusOr<WatchEvent> DecodeWatchEvent(EndpointSource source, absl::string_view line) {
  if (source == EndpointSource::kEndpointSlices) {
    if (std::optional<WatchEvent> event = DecodeSliceWatchEventFast(line)) return *std::move(event);
  }
  absl::StatusOr<json> j = ParseJson(line);
  if (!j.ok()) return j.status();
  return DecodeWatchEventTree(source, *j);
}

absl::StatusOr<WatchEvent> DecodeWatchEventTree(EndpointSource source, const json& event_json) {
  const json* j = &event_json;
  if (!j->is_object()) return Bad("a watch event is not a JSON object");
  const std::string type = Str(*j, "type");
  const json& object = Field(*j, "object");
  WatchEvent event;
  if (type == "ERROR") {
    event.type = WatchEvent::Type::kError;
    const json& code = Field(object, "code");
    int http = code.is_number_integer() ? code.get<int>() : 500;
    std::string message = Str(object, "message");
    std::string reason = Str(object, "reason");
    event.error = absl::Status(CodeForHttp(http),
                               absl::StrCat("watch error ", http, " ", reason, ": ", message));
    return event;
  }
  if (type == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
    event.resource_version = Str(Field(object, "metadata"), "resourceVersion");
    return event;
  }
  std::optional<WatchEvent::Type> object_type = ObjectEventType(type);
  if (!object_type.has_value()) {
    return Bad(absl::StrCat("unknown watch event type \"", type, "\""));
  }
  event.type = *object_type;
  absl::StatusOr<EndpointObject> o = source == EndpointSource::kEndpointSlices
                                         ? DecodeEndpointSlice(object)
                                         : DecodeEndpoints(object);
  if (!o.ok()) return o.status();
  event.object = *std::move(o);
  event.resource_version = event.object.resource_version;
  return event;
}

absl::Status StatusFromHttp(int http_code, absl::string_view body, absl::string_view retry_after,
                            absl::string_view context) {
  std::string detail;
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_object() && Str(j, "kind") == "Status") {
    detail = absl::StrCat(Str(j, "reason"), ": ", Str(j, "message"));
  } else {
    // Plain text, HTML, ...: the start of it, on one line.
    std::string text(body.substr(0, 200));
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    detail = std::string(absl::StripAsciiWhitespace(text));
    if (body.size() > 200) detail += "...";
  }
  absl::Status status(CodeForHttp(http_code),
                      absl::StrCat("kube-grpc: ", context, ": HTTP ", http_code,
                                   detail.empty() ? "" : " ", detail));
  int64_t seconds = 0;
  if (!retry_after.empty() && absl::SimpleAtoi(retry_after, &seconds) && seconds >= 0) {
    status = WithRetryAfter(std::move(status), absl::Seconds(std::min<int64_t>(seconds, 600)));
  }
  return status;
}

}  // namespace kubegrpc::internal
