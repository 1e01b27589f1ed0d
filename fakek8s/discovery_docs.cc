#include "fakek8s/discovery_docs.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"
#include "fakek8s/resources.h"
#include "httplib.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using internal::WriteError;
using internal::WriteJson;

// --- Discovery documents ---

json ApiResourceList(const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const ResourceInfo& info : AllResources()) {
    if (info.group != group || info.version != version) continue;
    json r = {{"name", info.plural},
              {"singularName", info.singular},
              {"namespaced", info.namespaced},
              {"kind", info.kind},
              {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}};
    if (!info.short_names.empty()) r["shortNames"] = info.short_names;
    if (info.resource == Resource::kPods || info.resource == Resource::kServices) {
      r["categories"] = {"all"};
    }
    resources.push_back(std::move(r));
    if (info.resource == Resource::kPods || info.resource == Resource::kServices) {
      resources.push_back({{"name", info.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", info.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  const std::string gv = group.empty() ? version : group + "/" + version;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", gv},
          {"resources", std::move(resources)}};
}

json DiscoveryGroup() {
  json gv = {{"groupVersion", "discovery.k8s.io/v1"}, {"version", "v1"}};
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", "discovery.k8s.io"},
          {"versions", json::array({gv})},
          {"preferredVersion", gv}};
}

// OpenAPI v3, only as far as kubectl needs it: each PATCH operation declares the
// `fieldValidation` parameter, so kubectl leaves validation to the server
// (which fakek8s does not do) instead of downloading schemas for it.
json OpenApiRoot() {
  json paths = json::object();
  for (const char* gv : {"api/v1", "apis/discovery.k8s.io/v1"}) {
    paths[gv] = {{"serverRelativeURL", absl::StrCat("/openapi/v3/", gv, "?hash=fakek8s")}};
  }
  return {{"paths", paths}};
}

json OpenApiGroupVersion(const std::string& group, const std::string& version,
                         const std::string& git_version) {
  json paths = json::object();
  for (const ResourceInfo& info : AllResources()) {
    if (info.group != group || info.version != version) continue;
    std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    std::string path =
        info.namespaced ? absl::StrCat(prefix, "/namespaces/{namespace}/", info.plural, "/{name}")
                        : absl::StrCat(prefix, "/", info.plural, "/{name}");
    json gvk = {{"group", group}, {"version", version}, {"kind", info.kind}};
    json params = json::array({{{"name", "fieldValidation"},
                                {"in", "query"},
                                {"schema", {{"type", "string"}, {"uniqueItems", true}}}}});
    json op = {{"x-kubernetes-group-version-kind", gvk},
               {"parameters", params},
               {"responses", {{"200", {{"description", "OK"}}}}}};
    paths[path] = {{"patch", op}, {"put", op}};
    paths[path]["put"]["x-kubernetes-action"] = "put";
    paths[path]["patch"]["x-kubernetes-action"] = "patch";
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes (fakek8s)"}, {"version", git_version}}},
          {"paths", paths}};
}

// One thread per connection: watch streams hold their connection for minutes,

}  // namespace

std::optional<std::string> ServeDiscoveryDocument(const std::vector<std::string>& seg,
                                                  const std::string& method,
                                                  const std::string& git_version,
                                                  const std::string& server_address,
                                                  httplib::Response& res) {
  const bool get = method == "GET";
  const absl::Status not_found =
      ApiError(404, "NotFound", "the server could not find the requested resource");
  if (get && !seg.empty() && seg[0] == "openapi") {
    if (seg.size() == 2 && seg[1] == "v3") {
      WriteJson(res, 200, OpenApiRoot());
    } else if (seg.size() == 4 && seg[1] == "v3" && seg[2] == "api" && seg[3] == "v1") {
      WriteJson(res, 200, OpenApiGroupVersion("", "v1", git_version));
    } else if (seg.size() == 5 && seg[1] == "v3" && seg[2] == "apis" &&
               seg[3] == "discovery.k8s.io" && seg[4] == "v1") {
      WriteJson(res, 200, OpenApiGroupVersion("discovery.k8s.io", "v1", git_version));
    } else {
      WriteError(res, not_found);
    }
    return "openapi";
  }
  const bool discovery = seg.empty() || seg[0] == "version" ||
                         (seg[0] == "api" && seg.size() <= 2) ||
                         (seg[0] == "apis" && seg.size() <= 3);
  if (!discovery) return std::nullopt;
  if (!get) {
    WriteError(res, ApiError(405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource"));
  } else if (seg.size() == 1 && seg[0] == "version") {
    std::vector<std::string> parts = absl::StrSplit(git_version.substr(1), '.');
    WriteJson(res, 200,
              {{"major", parts.size() > 0 ? parts[0] : "1"},
               {"minor", parts.size() > 1 ? parts[1] : "0"},
               {"gitVersion", git_version},
               {"gitCommit", "0000000000000000000000000000000000000000"},
               {"gitTreeState", "clean"},
               {"buildDate", "2026-01-01T00:00:00Z"},
               {"goVersion", "go1.24.0"},
               {"compiler", "gc"},
               {"platform", "linux/amd64"}});
  } else if (seg.size() == 1 && seg[0] == "api") {
    WriteJson(res, 200,
              {{"kind", "APIVersions"},
               {"versions", {"v1"}},
               {"serverAddressByClientCIDRs",
                json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}});
  } else if (seg.size() == 2 && seg[0] == "api" && seg[1] == "v1") {
    WriteJson(res, 200, ApiResourceList("", "v1"));
  } else if (seg.size() == 1 && seg[0] == "apis") {
    WriteJson(res, 200,
              {{"kind", "APIGroupList"},
               {"apiVersion", "v1"},
               {"groups", json::array({DiscoveryGroup()})}});
  } else if (seg.size() == 2 && seg[0] == "apis" && seg[1] == "discovery.k8s.io") {
    WriteJson(res, 200, DiscoveryGroup());
  } else if (seg.size() == 3 && seg[0] == "apis" && seg[1] == "discovery.k8s.io" &&
             seg[2] == "v1") {
    WriteJson(res, 200, ApiResourceList("discovery.k8s.io", "v1"));
  } else {
    WriteError(res, not_found);
  }
  return "discovery";
}

}  // namespace fakek8s
