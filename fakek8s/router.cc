#include "fakek8s/router.h"

namespace fakek8s {

std::string Route::RbacResource() const {
  return subresource.empty() ? info->plural : info->plural + "/" + subresource;
}

std::optional<Route> ParseResourcePath(const std::vector<std::string>& seg) {
  Route route;
  std::vector<std::string> rest;
  if (seg.size() >= 2 && seg[0] == "api" && seg[1] == "v1") {
    route.version = "v1";
    rest.assign(seg.begin() + 2, seg.end());
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    route.group = seg[1];
    route.version = seg[2];
    rest.assign(seg.begin() + 3, seg.end());
  } else {
    return std::nullopt;
  }
  if (!rest.empty() && rest[0] == "watch") {
    route.legacy_watch = true;
    rest.erase(rest.begin());
  }
  std::string plural;
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() >= 3) {
    route.ns = rest[1];
    plural = rest[2];
    if (rest.size() >= 4) route.name = rest[3];
    if (rest.size() >= 5) route.subresource = rest[4];
    if (rest.size() > 5) plural.clear();
  } else if (!rest.empty()) {
    plural = rest[0];
    if (rest.size() >= 2) route.name = rest[1];
    if (rest.size() >= 3) route.subresource = rest[2];
    if (rest.size() > 3) plural.clear();
  }
  std::optional<Resource> resource = FindResource(route.group, route.version, plural);
  if (!resource) return std::nullopt;
  route.info = &Info(*resource);
  if ((route.info->namespaced && route.ns.empty() && !route.name.empty()) ||
      (!route.info->namespaced && !route.ns.empty()) ||
      (!route.subresource.empty() &&
       (route.subresource != "status" ||
        (route.info->resource != Resource::kPods && route.info->resource != Resource::kServices &&
         route.info->resource != Resource::kNamespaces &&
         route.info->resource != Resource::kNodes))) ||
      (route.info->review && (!route.name.empty() || route.legacy_watch))) {
    return std::nullopt;
  }
  return route;
}

std::optional<std::string> RbacVerb(const std::string& method, const Route& route,
                                    bool watch_param) {
  if (method == "GET") {
    if (route.legacy_watch || watch_param) return "watch";
    return route.name.empty() ? "list" : "get";
  }
  if (method == "POST" && route.name.empty()) return "create";
  if (method == "PUT" && !route.name.empty()) return "update";
  if (method == "PATCH" && !route.name.empty()) return "patch";
  if (method == "DELETE" && !route.name.empty()) return "delete";
  return std::nullopt;
}

}  // namespace fakek8s
