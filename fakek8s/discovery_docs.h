// File: fakek8s/discovery_docs.h
// -----------------------------------------------------------------------------
// The documents a client reads before it touches a resource: API discovery
// (/api, /api/v1, /apis, /apis/<group>[/<version>]), /version, the health
// endpoints (/healthz, /livez, /readyz, with ?verbose and per-check paths) and
// the OpenAPI v3 documents (openapi.h) (docs/KUBERNETES.md §6).
// Thread-safe (functions).

#ifndef FAKEK8S_DISCOVERY_DOCS_H_
#define FAKEK8S_DISCOVERY_DOCS_H_

#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s {

// Serves the discovery, /version, health or OpenAPI document at `path` (split
// into segments) if it is one, writing 404 for an unknown one under those
// roots and 405 for a method other than GET. Returns what was served, for
// request counts ("discovery", "openapi" or "health"), or nullopt if `path` is
// not such a document. `server_address` is host:port, for /api's
// serverAddressByClientCIDRs.
std::optional<std::string> ServeDiscoveryDocument(const std::vector<std::string>& path,
                                                  const httplib::Request& req,
                                                  const std::string& git_version,
                                                  const std::string& server_address,
                                                  httplib::Response& res);

}  // namespace fakek8s

#endif  // FAKEK8S_DISCOVERY_DOCS_H_
