// File: kubegrpc/internal/k8s_json.h
// -----------------------------------------------------------------------------
// Decoding the Kubernetes API's JSON into kube-grpc's semantic types, tolerant of
// what real servers send (null lists, missing optional fields, unknown fields)
// and never crashing on what they should not send (wrong types, garbage):
// such input is an Internal error naming what was wrong.
// Thread-safe (pure functions).

#ifndef KUBEGRPC_INTERNAL_K8S_JSON_H_
#define KUBEGRPC_INTERNAL_K8S_JSON_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kubegrpc/k8s_client.h"
#include "nlohmann/json.hpp"

namespace kubegrpc::internal {

// JSON text; Internal "not valid JSON" quoting the start of `text` otherwise.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text);

absl::StatusOr<ServiceInfo> DecodeService(const nlohmann::json& object);
// A Node's zone: its topology.kubernetes.io/zone label, else the legacy
// failure-domain.beta.kubernetes.io/zone; "" if neither.
absl::StatusOr<std::string> DecodeNodeZone(const nlohmann::json& object);
absl::StatusOr<EndpointObject> DecodeEndpointSlice(const nlohmann::json& object);
absl::StatusOr<EndpointObject> DecodeEndpoints(const nlohmann::json& object);
absl::StatusOr<EndpointObjectList> DecodeEndpointList(EndpointSource source,
                                                      absl::string_view body);
// The type of a watch event that carries an object (ADDED, MODIFIED, DELETED).
std::optional<WatchEvent::Type> ObjectEventType(absl::string_view type);
// One line of a watch stream. EndpointSlice events take a streaming path that
// builds no JSON tree (DecodeSliceWatchEventFast); whatever it does not take is
// decoded from the tree, with the same result.
absl::StatusOr<WatchEvent> DecodeWatchEvent(EndpointSource source, absl::string_view line);
// A watch event already parsed.
absl::StatusOr<WatchEvent> DecodeWatchEventTree(EndpointSource source, const nlohmann::json& event);
// An ADDED, MODIFIED or DELETED EndpointSlice event decoded straight from the
// parser's events, equal to what DecodeWatchEventTree gives; nullopt for any
// line it does not take (invalid JSON, other event types, a repeated field, a
// non-object where an object belongs), which the tree decoder then handles.
std::optional<WatchEvent> DecodeSliceWatchEventFast(absl::string_view line);

// The absl::Status for an HTTP error response: the Status object's message and
// reason when the body is one, else the start of the body; `context` says what
// was being done ("listing EndpointSlices of Service demo/web"). A non-empty
// `retry_after` header (seconds) travels with the status.
absl::Status StatusFromHttp(int http_code, absl::string_view body, absl::string_view retry_after,
                            absl::string_view context);
// The absl code for an HTTP status code (and for a Status object's `code`).
absl::StatusCode CodeForHttp(int http_code);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_K8S_JSON_H_
