#include "fakek8s/seed.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/conversion.h"
#include "fakek8s/endpoint_controller.h"
#include "fakek8s/yaml_json.h"
#include "yaml-cpp/yaml.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

// The served resource of a manifest's kind (and apiVersion, when it has one).
std::optional<Resource> ResourceForKind(const std::string& kind, const std::string& api_version) {
  for (const ResourceInfo& info : AllResources()) {
    if (info.review || info.kind != kind) continue;
    if (api_version.empty() || info.ApiVersion() == api_version) return info.resource;
  }
  return std::nullopt;
}

absl::Status CreateOne(ObjectStore& store, json object, const std::string& where,
                       std::vector<std::string>* namespaces) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
  }
  const std::string kind = object.value("kind", "");
  if (kind == "List") {
    if (!object.contains("items") || !object["items"].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": a List needs items"));
    }
    int i = 0;
    for (json& item : object["items"]) {
      if (absl::Status s =
              CreateOne(store, std::move(item), absl::StrCat(where, " item ", i++), namespaces);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  std::optional<Resource> served = ResourceForKind(kind, object.value("apiVersion", ""));
  if (!served) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": kind \"", kind, "\" is not served by fakek8s as ",
                     object.value("apiVersion", "(no apiVersion)"),
                     " (it serves Namespace, Service, Pod, Endpoints, EndpointSlice, Event)"));
  }
  object = ToStored(Info(*served), std::move(object));
  const std::optional<Resource> resource = Info(*served).storage;
  if (Info(*resource).namespaced) {
    if (!object.contains("metadata") || !object["metadata"].is_object()) {
      object["metadata"] = json::object();
    }
    std::string ns = object["metadata"].value("namespace", "");
    if (ns.empty()) ns = "default";
    object["metadata"]["namespace"] = ns;
    if (namespaces != nullptr &&
        std::find(namespaces->begin(), namespaces->end(), ns) == namespaces->end()) {
      namespaces->push_back(ns);
    }
    if (!store.Get(Resource::kNamespaces, "", ns).ok()) {
      absl::StatusOr<json> created =
          store.Create(Resource::kNamespaces, {{"metadata", {{"name", ns}}}});
      if (!created.ok()) return created.status();
    }
  }
  if (*resource == Resource::kNamespaces && object.contains("metadata") &&
      object["metadata"].is_object()) {
    // A Namespace that exists already (one of the built-in ones, or one an
    // earlier object made): present; its labels and annotations are added.
    const std::string name = object["metadata"].value("name", "");
    if (store.Get(Resource::kNamespaces, "", name).ok()) {
      absl::StatusOr<json> merged =
          store.Mutate(Resource::kNamespaces, "", name, [&](json& existing) {
            for (const char* field : {"labels", "annotations"}) {
              if (object["metadata"].contains(field) && object["metadata"][field].is_object()) {
                for (const auto& [k, v] : object["metadata"][field].items()) {
                  existing["metadata"][field][k] = v;
                }
              }
            }
            return absl::OkStatus();
          });
      if (!merged.ok()) {
        return absl::Status(merged.status().code(),
                            absl::StrCat(where, ": ", merged.status().message()));
      }
      return absl::OkStatus();
    }
  }
  absl::StatusOr<json> created = store.Create(*resource, std::move(object));
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        absl::StrCat(where, ": ", created.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SeedFromManifests(ObjectStore& store, const std::string& text,
                               std::vector<std::string>* namespaces) {
  absl::StatusOr<std::vector<json>> docs = YamlDocumentsToJson(text);  // JSON is YAML too
  if (!docs.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid manifest: ", docs.status().message()));
  }
  int index = 0;
  for (json& object : *docs) {
    ++index;
    if (object.is_null()) continue;
    if (absl::Status s = CreateOne(store, std::move(object),
                                   absl::StrCat("manifest document ", index), namespaces);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RbacRule>> RbacRulesFromRoles(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid manifest: ", e.what()));
  }
  std::vector<RbacRule> out;
  bool found = false;
  for (const YAML::Node& doc : docs) {
    const std::string kind = doc.IsMap() && doc["kind"] ? doc["kind"].as<std::string>("") : "";
    if (kind != "Role" && kind != "ClusterRole") continue;
    found = true;
    const std::string ns = doc["metadata"] && doc["metadata"]["namespace"]
                               ? doc["metadata"]["namespace"].as<std::string>("")
                               : "default";
    const YAML::Node rules = doc["rules"];
    if (!rules || !rules.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat("a ", kind, " without rules"));
    }
    for (const YAML::Node& r : rules) {
      RbacRule rule;
      try {
        for (const YAML::Node& v : r["verbs"]) rule.verbs.push_back(v.as<std::string>());
        for (const YAML::Node& v : r["resources"]) rule.resources.push_back(v.as<std::string>());
        for (const YAML::Node& v : r["apiGroups"]) rule.api_groups.push_back(v.as<std::string>());
        for (const YAML::Node& v : r["resourceNames"]) {
          rule.resource_names.push_back(v.as<std::string>());
        }
      } catch (const std::exception& e) {
        return absl::InvalidArgumentError(absl::StrCat("a ", kind, " rule: ", e.what()));
      }
      if (rule.verbs.empty() || rule.resources.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("a ", kind, " rule needs verbs and resources"));
      }
      // A ClusterRole's rules hold everywhere, cluster-scoped resources too.
      if (kind == "Role") rule.namespaces = {ns};
      out.push_back(std::move(rule));
    }
  }
  if (!found) return absl::InvalidArgumentError("no kind: Role or ClusterRole document");
  return out;
}

absl::Status SeedDemo(ObjectStore& store, const DemoOptions& o) {
  if (o.replicas < 0 || o.replicas > 254) {
    return absl::InvalidArgumentError(
        absl::StrCat("demo replicas must be 0..254, not ", o.replicas));
  }
  if (!store.Get(Resource::kNamespaces, "", o.ns).ok()) {
    absl::StatusOr<json> ns = store.Create(Resource::kNamespaces, {{"metadata", {{"name", o.ns}}}});
    if (!ns.ok()) return ns.status();
  }
  if (!o.node.empty() && !store.Get(Resource::kNodes, "", o.node).ok()) {
    absl::StatusOr<json> node = store.Create(Resource::kNodes, ReadyNode(o.node, o.zone));
    if (!node.ok()) return node.status();
  }
  absl::StatusOr<json> service = store.Create(
      Resource::kServices,
      {{"metadata", {{"name", o.service}, {"namespace", o.ns}, {"labels", {{"app", o.service}}}}},
       {"spec",
        {{"selector", {{"app", o.service}}},
         {"ports", json::array({{{"name", "grpc"},
                                 {"port", o.port},
                                 {"targetPort", o.target_port},
                                 {"protocol", "TCP"}}})}}}});
  if (!service.ok()) return service.status();
  for (int i = 0; i < o.replicas; ++i) {
    absl::StatusOr<json> pod = store.Create(
        Resource::kPods,
        {{"metadata",
          {{"name", absl::StrCat(o.service, "-", i)},
           {"namespace", o.ns},
           {"labels", {{"app", o.service}}}}},
         {"spec",
          {{"nodeName", o.node.empty() ? "fake-node" : o.node},
           {"containers",
            json::array({{{"name", o.service},
                          {"image", "example/echo"},
                          {"ports", json::array({{{"name", "grpc"},
                                                  {"containerPort", o.target_port}}})}}})}}},
         {"status",
          {{"phase", "Running"},
           {"podIP", absl::StrCat("127.0.", o.ip_third_octet, ".", i + 1)},
           {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}});
    if (!pod.ok()) return pod.status();
  }
  return absl::OkStatus();
}

}  // namespace fakek8s
