// File: fakek8s/router.h
// -----------------------------------------------------------------------------
// Where a request for a resource goes: the path parsed into a Route
// (/api/v1/..., /apis/<group>/<version>/..., namespaced or not, a subresource,
// the legacy /watch/ prefix) and the RBAC verb of the request.
// Thread-safe (functions).

#ifndef FAKEK8S_ROUTER_H_
#define FAKEK8S_ROUTER_H_

#include <optional>
#include <string>
#include <vector>

#include "fakek8s/resources.h"

namespace fakek8s {

struct Route {
  std::string group;
  std::string version;
  const ResourceInfo* info = nullptr;
  std::string ns;
  std::string name;
  std::string subresource;  // "status" or ""
  bool legacy_watch = false;
  // "pods" or "pods/status", as RBAC names it.
  std::string RbacResource() const;
};

// The route of a resource path (split into segments); nullopt if fakek8s
// serves no such resource (the caller answers 404).
std::optional<Route> ParseResourcePath(const std::vector<std::string>& path);

// The RBAC verb of `method` on `route` (get, list, watch, create, update,
// patch, delete); nullopt if the method is not allowed there (405).
std::optional<std::string> RbacVerb(const std::string& method, const Route& route,
                                    bool watch_param);

}  // namespace fakek8s

#endif  // FAKEK8S_ROUTER_H_
