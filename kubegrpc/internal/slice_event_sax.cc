// A streaming decoder for the commonest watch line: an ADDED, MODIFIED or
// DELETED EndpointSlice. It reads the fields DecodeEndpointSlice reads straight
// from the parser's events, without building the JSON tree (which costs most of
// a 100-endpoint slice's decode). It gives up (nullopt) on anything it does not
// decode exactly as the tree decoder would: invalid JSON, another event type, a
// field that repeats, a non-object where an object is required; the caller then
// decodes the tree, which also words the errors.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kubegrpc/internal/k8s_json.h"

namespace kubegrpc::internal {
namespace {

using json = nlohmann::json;

class SliceEventSax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  // What the next value is, from where it sits.
  enum class Slot {
    kIgnored,
    kRoot,
    kType,
    kObject,
    kMetadata,
    kName,
    kResourceVersion,
    kPorts,
    kEndpoints,
    kPort,
    kPortName,
    kPortNumber,
    kPortProtocol,
    kEndpoint,
    kAddresses,
    kFirstAddress,
    kConditions,
    kReady,
    kServing,
    kTerminating,
    kHostname,
    kNodeName,
    kZone,
    kHints,
    kForZones,
    kForZone,
    kForZoneName,
    kTargetRef,
    kPodName,
  };

  bool null() { return Scalar(Next()); }
  bool boolean(bool v) {
    const Slot s = Next();
    if (s == Slot::kReady) endpoint_.ready = v;
    if (s == Slot::kServing) endpoint_.serving = v;
    if (s == Slot::kTerminating) endpoint_.terminating = v;
    return Scalar(s);
  }
  bool number_integer(number_integer_t v) { return Number(Next(), v >= 1 && v <= 65535, v); }
  bool number_unsigned(number_unsigned_t v) {
    return Number(Next(), v >= 1 && v <= 65535, static_cast<int64_t>(v <= 65535 ? v : 0));
  }
  bool number_float(number_float_t, const string_t&) { return Scalar(Next()); }
  bool binary(binary_t&) { return false; }
  bool string(string_t& v) {
    const Slot s = Next();
    switch (s) {
      case Slot::kType:
        type_ = v;
        have_type_ = true;
        return true;
      case Slot::kName:
        object_.name = v;
        return true;
      case Slot::kResourceVersion:
        object_.resource_version = v;
        return true;
      case Slot::kPortName:
        port_.name = v;
        return true;
      case Slot::kPortProtocol:
        if (!v.empty()) port_.protocol = v;
        return true;
      case Slot::kFirstAddress:
        endpoint_.address = v;
        address_ok_ = true;
        return true;
      case Slot::kHostname:
        endpoint_.hostname = v;
        return true;
      case Slot::kNodeName:
        endpoint_.node_name = v;
        return true;
      case Slot::kZone:
        endpoint_.zone = v;
        return true;
      case Slot::kForZoneName:
        if (!v.empty()) endpoint_.for_zones.push_back(v);
        return true;
      case Slot::kPodName:
        endpoint_.pod_name = v;
        return true;
      default:
        return Scalar(s);
    }
  }

  bool start_object(std::size_t) {
    const Slot s = Next();
    switch (s) {
      case Slot::kRoot:
      case Slot::kObject:
      case Slot::kMetadata:
      case Slot::kConditions:
      case Slot::kTargetRef:
      case Slot::kHints:
      case Slot::kForZone:
        break;
      case Slot::kPort:
        port_ = EndpointPort();
        break;
      case Slot::kEndpoint:
        endpoint_ = EndpointInfo();
        address_ok_ = false;
        break;
      case Slot::kType:
        return false;  // the tree decoder reports an unknown type
      default:
        stack_.push_back({Slot::kIgnored, true});
        return true;
    }
    stack_.push_back({s, true});
    return true;
  }
  bool end_object() {
    const Slot s = stack_.back().slot;
    stack_.pop_back();
    if (s == Slot::kPort) ports_.push_back(std::move(port_));
    if (s == Slot::kEndpoint && address_ok_) object_.endpoints.push_back(std::move(endpoint_));
    if (s == Slot::kObject) have_object_ = true;
    return true;
  }
  bool start_array(std::size_t) {
    const Slot s = Next();
    if (s == Slot::kRoot || s == Slot::kObject || s == Slot::kType) return false;
    const bool kept =
        s == Slot::kPorts || s == Slot::kEndpoints || s == Slot::kAddresses || s == Slot::kForZones;
    stack_.push_back({kept ? s : Slot::kIgnored, false});
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool key(string_t& k) {
    Frame& f = stack_.back();
    f.key = Slot::kIgnored;
    int bit = -1;
    switch (f.slot) {
      case Slot::kRoot:
        if (k == "type") f.key = Slot::kType, bit = 0;
        if (k == "object") f.key = Slot::kObject, bit = 1;
        break;
      case Slot::kObject:
        if (k == "metadata") f.key = Slot::kMetadata, bit = 0;
        if (k == "ports") f.key = Slot::kPorts, bit = 1;
        if (k == "endpoints") f.key = Slot::kEndpoints, bit = 2;
        break;
      case Slot::kMetadata:
        if (k == "name") f.key = Slot::kName, bit = 0;
        if (k == "resourceVersion") f.key = Slot::kResourceVersion, bit = 1;
        break;
      case Slot::kPort:
        if (k == "name") f.key = Slot::kPortName, bit = 0;
        if (k == "port") f.key = Slot::kPortNumber, bit = 1;
        if (k == "protocol") f.key = Slot::kPortProtocol, bit = 2;
        break;
      case Slot::kEndpoint:
        if (k == "addresses") f.key = Slot::kAddresses, bit = 0;
        if (k == "conditions") f.key = Slot::kConditions, bit = 1;
        if (k == "hostname") f.key = Slot::kHostname, bit = 2;
        if (k == "nodeName") f.key = Slot::kNodeName, bit = 3;
        if (k == "zone") f.key = Slot::kZone, bit = 4;
        if (k == "targetRef") f.key = Slot::kTargetRef, bit = 5;
        if (k == "hints") f.key = Slot::kHints, bit = 6;
        break;
      case Slot::kHints:
        if (k == "forZones") f.key = Slot::kForZones, bit = 0;
        break;
      case Slot::kForZone:
        if (k == "name") f.key = Slot::kForZoneName, bit = 0;
        break;
      case Slot::kConditions:
        if (k == "ready") f.key = Slot::kReady, bit = 0;
        if (k == "serving") f.key = Slot::kServing, bit = 1;
        if (k == "terminating") f.key = Slot::kTerminating, bit = 2;
        break;
      case Slot::kTargetRef:
        if (k == "name") f.key = Slot::kPodName, bit = 0;
        break;
      default:
        break;
    }
    if (bit >= 0) {
      // A repeated key: the tree keeps the last one whole; leave it to the tree.
      if ((f.seen & (1u << bit)) != 0) return false;
      f.seen |= 1u << bit;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  // The event, if the line was one this decoder takes.
  std::optional<WatchEvent> Result() {
    if (!have_object_ || !have_type_) return std::nullopt;
    std::optional<WatchEvent::Type> type = ObjectEventType(type_);
    if (!type.has_value()) return std::nullopt;
    WatchEvent event;
    event.type = *type;
    for (EndpointInfo& e : object_.endpoints) e.ports = ports_;
    event.resource_version = object_.resource_version;
    event.object = std::move(object_);
    return event;
  }

 private:
  struct Frame {
    Slot slot;
    bool is_object;
    Slot key = Slot::kIgnored;  // objects: the slot of the value after the last key
    uint32_t seen = 0;          // objects: the keys decoded so far
    size_t index = 0;           // arrays: the next element's index
  };

  // The slot of the value that starts now.
  Slot Next() {
    if (stack_.empty()) return done_ ? Slot::kIgnored : (done_ = true, Slot::kRoot);
    Frame& f = stack_.back();
    if (f.is_object) return f.key;
    const size_t i = f.index++;
    switch (f.slot) {
      case Slot::kPorts:
        return Slot::kPort;
      case Slot::kEndpoints:
        return Slot::kEndpoint;
      case Slot::kAddresses:
        return i == 0 ? Slot::kFirstAddress : Slot::kIgnored;
      case Slot::kForZones:
        return Slot::kForZone;
      default:
        return Slot::kIgnored;
    }
  }
  // A scalar where an object is required is left to the tree decoder.
  static bool Scalar(Slot s) { return s != Slot::kRoot && s != Slot::kObject && s != Slot::kType; }
  bool Number(Slot s, bool in_range, int64_t v) {
    if (s == Slot::kPortNumber) port_.port = in_range ? static_cast<int>(v) : 0;
    return Scalar(s);
  }

  std::vector<Frame> stack_;
  bool done_ = false;
  std::string type_;
  bool have_type_ = false;
  bool have_object_ = false;
  EndpointObject object_;
  std::vector<EndpointPort> ports_;
  EndpointPort port_;
  EndpointInfo endpoint_;
  bool address_ok_ = false;
};

}  // namespace

std::optional<WatchEvent> DecodeSliceWatchEventFast(absl::string_view line) {
  SliceEventSax sax;
  if (!json::sax_parse(line.begin(), line.end(), &sax)) return std::nullopt;
  return sax.Result();
}

}  // namespace kubegrpc::internal
