#include "fakek8s/openapi.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fakek8s/resources.h"
#include "fakek8s/schema.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using schema::Field;
using schema::Type;
using schema::TypeDef;

constexpr char kIntOrString[] = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

std::string Ref(const std::string& name) { return "#/components/schemas/" + name; }

json Primitive(Type type) {
  switch (type) {
    case Type::kInteger:
      return {{"type", "integer"}, {"format", "int64"}};
    case Type::kBoolean:
      return {{"type", "boolean"}};
    case Type::kNumber:
      return {{"type", "number"}, {"format", "double"}};
    case Type::kTime:
      return {{"type", "string"}, {"format", "date-time"}};
    case Type::kAny:
      return {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    default:
      return {{"type", "string"}};
  }
}

json Property(const Field& f) {
  json p;
  switch (f.type) {
    case Type::kObject:
      p = {{"allOf", json::array({{{"$ref", Ref(f.ref)}}})}, {"default", json::object()}};
      break;
    case Type::kIntOrString:
      p = {{"allOf", json::array({{{"$ref", Ref(kIntOrString)}}})}};
      break;
    case Type::kMap:
      p = {{"type", "object"}, {"additionalProperties", Primitive(f.item)}};
      if (f.atomic_map) p["x-kubernetes-map-type"] = "atomic";
      break;
    case Type::kArray: {
      json items = f.ref.empty() ? Primitive(f.item)
                                 : json{{"default", json::object()},
                                        {"allOf", json::array({{{"$ref", Ref(f.ref)}}})}};
      p = {{"type", "array"}, {"items", std::move(items)}};
      p["x-kubernetes-list-type"] = f.list_type == schema::ListType::kMap   ? "map"
                                    : f.list_type == schema::ListType::kSet ? "set"
                                                                            : "atomic";
      if (!f.map_keys.empty()) p["x-kubernetes-list-map-keys"] = f.map_keys;
      if (!f.patch_strategy.empty()) p["x-kubernetes-patch-strategy"] = f.patch_strategy;
      if (!f.patch_merge_key.empty()) p["x-kubernetes-patch-merge-key"] = f.patch_merge_key;
      break;
    }
    default:
      p = Primitive(f.type);
  }
  p["description"] = f.description;
  if (!f.default_json.empty()) p["default"] = json::parse(f.default_json);
  if (!f.enum_values.empty()) p["enum"] = f.enum_values;
  return p;
}

json Schema(const TypeDef& t) {
  json properties = json::object();
  std::vector<std::string> required;
  for (const Field& f : t.fields) {
    properties[f.name] = Property(f);
    if (f.required) required.push_back(f.name);
  }
  json s = {{"type", "object"}, {"description", t.description}, {"properties", properties}};
  if (!required.empty()) s["required"] = required;
  if (!t.kind.empty()) {
    s["x-kubernetes-group-version-kind"] =
        json::array({{{"group", t.group}, {"kind", t.kind}, {"version", t.version}}});
  }
  return s;
}

void Reach(const TypeDef& t, std::set<std::string>* seen) {
  if (!seen->insert(t.name).second) return;
  for (const Field& f : t.fields) {
    if (const TypeDef* nested = schema::Nested(f)) Reach(*nested, seen);
  }
}

std::string GroupVersionPath(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : absl::StrCat("apis/", group, "/", version);
}

json Build(const std::string& gv_path, const std::string& git_version) {
  json paths = json::object();
  std::set<std::string> types;
  for (const ResourceInfo& info : AllResources()) {
    if (GroupVersionPath(info.group, info.version) != gv_path) continue;
    const TypeDef* type = schema::ForResource(info.resource);
    if (type != nullptr) Reach(*type, &types);
    const std::string prefix = "/" + gv_path;
    const std::string collection =
        info.namespaced ? absl::StrCat(prefix, "/namespaces/{namespace}/", info.plural)
                        : absl::StrCat(prefix, "/", info.plural);
    const json gvk = {{"group", info.group}, {"version", info.version}, {"kind", info.kind}};
    const json params = json::array({{{"name", "fieldValidation"},
                                      {"in", "query"},
                                      {"schema", {{"type", "string"}, {"uniqueItems", true}}}}});
    auto op = [&](const char* action) {
      json o = {{"x-kubernetes-group-version-kind", gvk},
                {"x-kubernetes-action", action},
                {"parameters", params},
                {"responses", {{"200", {{"description", "OK"}}}}}};
      if (type != nullptr) {
        o["responses"]["200"]["content"] = {
            {"application/json", {{"schema", {{"$ref", Ref(type->name)}}}}}};
      }
      return o;
    };
    // The patch types a PATCH accepts (kubectl computes a strategic merge patch
    // from these documents only where the operation lists it).
    json patch = op("patch");
    patch["requestBody"] = {{"content", json::object()}};
    for (const char* type :
         {"application/apply-patch+yaml", "application/json-patch+json",
          "application/merge-patch+json", "application/strategic-merge-patch+json"}) {
      patch["requestBody"]["content"][type] = {{"schema", {{"type", "object"}}}};
    }
    paths[collection] = {{"post", op("post")}};
    if (!info.review) {
      paths[collection]["get"] = op("list");
      paths[collection + "/{name}"] = {
          {"get", op("get")}, {"put", op("put")}, {"patch", patch}, {"delete", op("delete")}};
    }
  }
  json schemas = json::object();
  for (const std::string& name : types) schemas[name] = Schema(*schema::FindType(name));
  schemas[kIntOrString] = {{"type", "string"},
                           {"format", "int-or-string"},
                           {"description", "A number or a name (a port number or port name)."}};
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes (fakek8s)"}, {"version", git_version}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

std::vector<std::string> GroupVersions() {
  std::vector<std::string> out;
  for (const ResourceInfo& info : AllResources()) {
    std::string gv = GroupVersionPath(info.group, info.version);
    if (std::find(out.begin(), out.end(), gv) == out.end()) out.push_back(gv);
  }
  return out;
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

const json& OpenApiIndex() {
  static const json* const kIndex = [] {
    json paths = json::object();
    for (const std::string& gv : GroupVersions()) {
      // The hash changes with the document, so kubectl's cache is refreshed.
      const std::string hash = absl::StrFormat("%016X", Fnv1a(Build(gv, "").dump()));
      paths[gv] = {{"serverRelativeURL", absl::StrCat("/openapi/v3/", gv, "?hash=", hash)}};
    }
    return new json{{"paths", paths}};
  }();
  return *kIndex;
}

std::optional<json> OpenApiDocument(const std::string& group_version,
                                    const std::string& git_version) {
  const std::vector<std::string> gvs = GroupVersions();
  if (std::find(gvs.begin(), gvs.end(), group_version) == gvs.end()) return std::nullopt;
  return Build(group_version, git_version);
}

}  // namespace fakek8s
