// File: fakek8s/openapi.h
// -----------------------------------------------------------------------------
// The OpenAPI v3 documents kubectl reads: /openapi/v3 (the index) and one
// document per group-version (/openapi/v3/api/v1, /openapi/v3/apis/<g>/<v>)
// with a path per resource (declaring the fieldValidation parameter, so that
// kubectl leaves validation to the server) and components.schemas built from
// schema.h: descriptions and types for `kubectl explain`, patch strategies and
// merge keys (x-kubernetes-patch-*) and list types (x-kubernetes-list-*) for
// kubectl's client-side apply and for server-side apply clients.
// Thread-safe (the documents are built once).

#ifndef FAKEK8S_OPENAPI_H_
#define FAKEK8S_OPENAPI_H_

#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace fakek8s {

// The index: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}.
const nlohmann::json& OpenApiIndex();
// The document of `group_version` ("api/v1", "apis/discovery.k8s.io/v1"); nullopt
// for one fakek8s does not serve. `git_version` goes in info.version.
std::optional<nlohmann::json> OpenApiDocument(const std::string& group_version,
                                              const std::string& git_version);

}  // namespace fakek8s

#endif  // FAKEK8S_OPENAPI_H_
