// File: fakek8s/yaml_json.h
// -----------------------------------------------------------------------------
// YAML as Kubernetes reads it, turned into JSON: manifests, server-side apply
// bodies. Plain scalars that read as numbers, booleans or null become those;
// quoted scalars stay strings. JSON is YAML, so JSON text reads too.
// Errors: InvalidArgument with the parser's message. Thread-safe (functions).

#ifndef FAKEK8S_YAML_JSON_H_
#define FAKEK8S_YAML_JSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// One YAML document.
absl::StatusOr<nlohmann::json> YamlToJson(const std::string& yaml);
// Every `---`-separated document (empty ones as null).
absl::StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(const std::string& yaml);

}  // namespace fakek8s

#endif  // FAKEK8S_YAML_JSON_H_
