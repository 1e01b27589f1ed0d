// Fuzzes the decoders of the API server's JSON: lists, single objects, watch
// lines and error bodies. Property: no crash, no undefined behaviour, and what
// decodes is in range (ports 1-65535 or 0 for none), and the streaming
// EndpointSlice decoder agrees with the tree decoder whenever it takes a line.
//
// Input: byte 0 picks the HTTP code for StatusFromHttp; the rest is the body.

#include <cstdint>
#include <string>

#include "kubegrpc/internal/k8s_json.h"

namespace {

using kubegrpc::EndpointObject;
using kubegrpc::EndpointSource;
namespace internal = kubegrpc::internal;

void Check(const EndpointObject& o) {
  for (const auto& ep : o.endpoints) {
    for (const auto& p : ep.ports) {
      if (p.port < 0 || p.port > 65535) __builtin_trap();
    }
  }
}

bool SameEndpoints(const EndpointObject& a, const EndpointObject& b) {
  if (a.name != b.name || a.resource_version != b.resource_version ||
      a.endpoints.size() != b.endpoints.size()) {
    return false;
  }
  for (size_t i = 0; i < a.endpoints.size(); ++i) {
    const auto& x = a.endpoints[i];
    const auto& y = b.endpoints[i];
    if (x.address != y.address || x.ready != y.ready || x.serving != y.serving ||
        x.terminating != y.terminating || x.hostname != y.hostname || x.node_name != y.node_name ||
        x.zone != y.zone || x.for_zones != y.for_zones || x.pod_name != y.pod_name ||
        x.ports.size() != y.ports.size()) {
      return false;
    }
    for (size_t p = 0; p < x.ports.size(); ++p) {
      if (x.ports[p].name != y.ports[p].name || x.ports[p].port != y.ports[p].port ||
          x.ports[p].protocol != y.ports[p].protocol) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr int kCodes[] = {200, 400, 401, 403, 404, 409, 410, 422,
                                   429, 500, 503, 504, 302, 0,   999, -1};
  const int code = kCodes[data[0] & 15];
  absl::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  for (EndpointSource source : {EndpointSource::kEndpointSlices, EndpointSource::kEndpoints}) {
    auto list = internal::DecodeEndpointList(source, body);
    if (list.ok()) {
      for (const auto& o : list->items) Check(o);
    }
    auto event = internal::DecodeWatchEvent(source, body);
    if (event.ok()) Check(event->object);
  }
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr,
                                           /*allow_exceptions=*/false);
  // The streaming slice decoder takes only what it decodes as the tree does.
  if (auto fast = internal::DecodeSliceWatchEventFast(body)) {
    if (j.is_discarded()) __builtin_trap();
    auto tree = internal::DecodeWatchEventTree(EndpointSource::kEndpointSlices, j);
    if (!tree.ok() || tree->type != fast->type ||
        tree->resource_version != fast->resource_version ||
        !SameEndpoints(tree->object, fast->object)) {
      __builtin_trap();
    }
  }
  if (!j.is_discarded()) {
    auto service = internal::DecodeService(j);
    if (service.ok()) {
      for (const auto& p : service->ports) {
        if (p.port < 0 || p.port > 65535) __builtin_trap();
      }
    }
    if (auto s = internal::DecodeEndpointSlice(j); s.ok()) Check(*s);
    if (auto e = internal::DecodeEndpoints(j); e.ok()) Check(*e);
  }
  absl::Status status = internal::StatusFromHttp(code, body, (data[0] & 16) ? "7" : "",
                                                 "listing EndpointSlices of Service fuzz/web");
  if (code != 200 && status.ok()) __builtin_trap();
  return 0;
}
