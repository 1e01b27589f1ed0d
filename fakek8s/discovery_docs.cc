#include "fakek8s/discovery_docs.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"
#include "fakek8s/openapi.h"
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
              {"verbs", info.Verbs()}};
    if (!info.short_names.empty()) r["shortNames"] = info.short_names;
    if (info.resource == Resource::kPods || info.resource == Resource::kServices) {
      r["categories"] = {"all"};
    }
    resources.push_back(std::move(r));
    if (info.resource == Resource::kPods || info.resource == Resource::kServices ||
        info.resource == Resource::kNamespaces || info.resource == Resource::kNodes) {
      resources.push_back({{"name", info.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", info.namespaced},
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

// The named groups, in the order discovery lists them.
std::vector<std::string> Groups() {
  std::vector<std::string> groups;
  for (const ResourceInfo& info : AllResources()) {
    if (!info.group.empty() &&
        std::find(groups.begin(), groups.end(), info.group) == groups.end()) {
      groups.push_back(info.group);
    }
  }
  return groups;
}

json ApiGroup(const std::string& group) {
  json gv = {{"groupVersion", group + "/v1"}, {"version", "v1"}};
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", group},
          {"versions", json::array({gv})},
          {"preferredVersion", gv}};
}

bool ServedGroup(const std::string& group) {
  std::vector<std::string> groups = Groups();
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// /healthz, /livez, /readyz: "ok", or with ?verbose each check; /readyz/ping.
void Health(const std::vector<std::string>& seg, const httplib::Request& req,
            httplib::Response& res) {
  static const std::vector<std::string> kChecks = {"ping", "log", "etcd", "poststarthook/fakek8s"};
  if (seg.size() == 2) {
    if (std::find(kChecks.begin(), kChecks.end(), seg[1]) == kChecks.end()) {
      res.status = 404;
      res.set_content("404 page not found\n", "text/plain; charset=utf-8");
      return;
    }
    res.status = 200;
    res.set_content("ok", "text/plain; charset=utf-8");
    return;
  }
  res.status = 200;
  if (!req.has_param("verbose")) {
    res.set_content("ok", "text/plain; charset=utf-8");
    return;
  }
  std::string body;
  for (const std::string& check : kChecks) absl::StrAppend(&body, "[+]", check, " ok\n");
  absl::StrAppend(&body, seg[0], " check passed\n");
  res.set_content(body, "text/plain; charset=utf-8");
}

}  // namespace

std::optional<std::string> ServeDiscoveryDocument(const std::vector<std::string>& seg,
                                                  const httplib::Request& req,
                                                  const std::string& git_version,
                                                  const std::string& server_address,
                                                  httplib::Response& res) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const absl::Status not_found =
      ApiError(404, "NotFound", "the server could not find the requested resource");
  if (!seg.empty() && (seg[0] == "healthz" || seg[0] == "livez" || seg[0] == "readyz") &&
      seg.size() <= 2) {
    if (!get) {
      WriteError(res, ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource"));
    } else {
      Health(seg, req, res);
    }
    return "health";
  }
  if (get && !seg.empty() && seg[0] == "openapi") {
    if (seg.size() == 2 && seg[1] == "v3") {
      WriteJson(res, 200, OpenApiIndex());
    } else if (seg.size() >= 3 && seg[1] == "v3") {
      std::vector<std::string> rest(seg.begin() + 2, seg.end());
      std::optional<json> doc = OpenApiDocument(absl::StrJoin(rest, "/"), git_version);
      if (doc.has_value()) {
        WriteJson(res, 200, *doc);
      } else {
        WriteError(res, not_found);
      }
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
    json groups = json::array();
    for (const std::string& g : Groups()) groups.push_back(ApiGroup(g));
    WriteJson(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
  } else if (seg.size() == 2 && seg[0] == "apis" && ServedGroup(seg[1])) {
    WriteJson(res, 200, ApiGroup(seg[1]));
  } else if (seg.size() == 3 && seg[0] == "apis" && ServedGroup(seg[1]) && seg[2] == "v1") {
    WriteJson(res, 200, ApiResourceList(seg[1], "v1"));
  } else {
    WriteError(res, not_found);
  }
  return "discovery";
}

}  // namespace fakek8s
