#include "fakek8s/resource_handler.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/apply.h"
#include "fakek8s/conversion.h"
#include "fakek8s/http_util.h"
#include "fakek8s/patch.h"
#include "fakek8s/selector.h"
#include "fakek8s/table.h"
#include "fakek8s/yaml_json.h"
#include "httplib.h"

namespace fakek8s {

using internal::AsListItem;
using internal::Param;
using internal::ParseBool;
using internal::WriteError;
using internal::WriteJson;

namespace {

// A DELETE's grace period: the query parameter, else the DeleteOptions body.
std::optional<int64_t> GracePeriod(const httplib::Request& req) {
  int64_t value = 0;
  if (absl::SimpleAtoi(Param(req, "gracePeriodSeconds"), &value)) return value;
  if (!req.body.empty()) {
    json options = json::parse(req.body, nullptr, false);
    if (options.is_object() && options.contains("gracePeriodSeconds") &&
        options["gracePeriodSeconds"].is_number_integer()) {
      return options["gracePeriodSeconds"].get<int64_t>();
    }
  }
  return std::nullopt;
}

// The body of a single-object answer: the object, or its Table / metadata.
json Render(const ResourceInfo& info, const json& object, const httplib::Request& req) {
  const RenderAs as = ParseAccept(req.get_header_value("Accept"));
  if (as.rendering == Rendering::kTable) {
    TableOptions options;
    options.now = absl::Now();
    if (req.has_param("includeObject")) options.include_object = Param(req, "includeObject");
    json meta = {{"resourceVersion", object["metadata"].value("resourceVersion", "")}};
    return ToTable(info, {object}, meta, as, options);
  }
  if (as.rendering == Rendering::kPartialMetadata) return ToPartialMetadata(object, as);
  return object;
}

void List(ObjectStore* store, const Route& route, const httplib::Request& req,
          httplib::Response& res) {
  const ResourceInfo& info = *route.info;
  ObjectStore::ListOptions options;
  absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(Param(req, "labelSelector"));
  if (!labels.ok()) return WriteError(res, BadRequest(labels.status().message()));
  // Checked against the fields this version serves, then read on the stored object.
  absl::StatusOr<FieldSelector> served =
      FieldSelector::Parse(Param(req, "fieldSelector"), info.selectable_fields);
  if (!served.ok()) return WriteError(res, BadRequest(served.status().message()));
  absl::StatusOr<FieldSelector> fields = FieldSelector::Parse(
      StoredFieldSelector(info, Param(req, "fieldSelector")), Info(info.storage).selectable_fields);
  if (!fields.ok()) return WriteError(res, BadRequest(fields.status().message()));
  options.labels = *std::move(labels);
  options.fields = *std::move(fields);
  options.resource_version = Param(req, "resourceVersion");
  options.resource_version_match = Param(req, "resourceVersionMatch");
  options.continue_token = Param(req, "continue");
  const std::string limit = Param(req, "limit");
  if (!limit.empty() && !absl::SimpleAtoi(limit, &options.limit)) {
    return WriteError(
        res, BadRequest(absl::StrCat("limit: Invalid value: \"", limit, "\": must be an integer")));
  }
  absl::StatusOr<ObjectStore::ListResult> list = store->List(info.storage, route.ns, options);
  if (!list.ok()) return WriteError(res, list.status());
  json meta = {{"resourceVersion", list->resource_version}};
  if (!list->continue_token.empty()) meta["continue"] = list->continue_token;
  if (list->remaining_item_count.has_value()) {
    meta["remainingItemCount"] = *list->remaining_item_count;
  }
  std::vector<json> items;
  items.reserve(list->items.size());
  for (json& item : list->items) items.push_back(ToServed(info, std::move(item)));
  const RenderAs as = ParseAccept(req.get_header_value("Accept"));
  if (as.rendering == Rendering::kTable) {
    TableOptions table;
    table.now = absl::Now();
    if (req.has_param("includeObject")) table.include_object = Param(req, "includeObject");
    return WriteJson(res, 200, ToTable(info, items, meta, as, table));
  }
  if (as.rendering == Rendering::kPartialMetadata) {
    return WriteJson(res, 200, ToPartialMetadataList(items, meta, as));
  }
  json out = json::array();
  for (json& item : items) out.push_back(AsListItem(std::move(item)));
  WriteJson(res, 200,
            {{"kind", info.kind + "List"},
             {"apiVersion", info.ApiVersion()},
             {"metadata", std::move(meta)},
             {"items", std::move(out)}});
}

// The object's name and namespace after a patch must be the URL's.
absl::Status CheckIdentity(const ResourceInfo& info, const Route& route, const json& object) {
  const json meta = object.contains("metadata") && object["metadata"].is_object()
                        ? object["metadata"]
                        : json::object();
  const std::string name =
      meta.contains("name") && meta["name"].is_string() ? meta["name"].get<std::string>() : "";
  if (name != route.name) {
    return BadRequest(absl::StrCat("the name of the object (", name,
                                   ") does not match the name on the URL (", route.name, ")"));
  }
  if (info.namespaced && meta.value("namespace", route.ns) != route.ns) {
    return BadRequest("the namespace of the object does not match the namespace on the URL");
  }
  return absl::OkStatus();
}

void Apply(ObjectStore* store, const Route& route, const httplib::Request& req,
           httplib::Response& res) {
  const ResourceInfo& info = *route.info;
  absl::StatusOr<json> body = YamlToJson(req.body);  // JSON is YAML too
  if (!body.ok()) {
    return WriteError(res, BadRequest(absl::StrCat("the applied configuration is not valid "
                                                   "YAML or JSON: ",
                                                   body.status().message())));
  }
  ApplyOptions options;
  options.field_manager = Param(req, "fieldManager");
  options.force = ParseBool(Param(req, "force"));
  options.status_subresource = route.subresource == "status";
  options.now = absl::Now();
  absl::StatusOr<json> config =
      CheckAppliedConfiguration(*body, info, route.ns, route.name, options);
  if (!config.ok()) return WriteError(res, config.status());
  const std::string want_rv = (*config)["metadata"].value("resourceVersion", "");
  // Create when absent (as the real server does); a race with another create
  // is retried once as an update.
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<json> existing = store->Get(info.storage, route.ns, route.name);
    if (!existing.ok() && HttpCode(existing.status()) != 404) {
      return WriteError(res, existing.status());
    }
    if (!existing.ok()) {
      if (options.status_subresource) return WriteError(res, existing.status());
      absl::StatusOr<json> created = ServerSideApply(nullptr, *config, info.resource, options);
      if (!created.ok()) return WriteError(res, created.status());
      absl::StatusOr<json> stored =
          store->Create(info.storage, ToStored(info, *std::move(created)));
      if (!stored.ok() && HttpCode(stored.status()) == 409 && attempt == 0) continue;
      if (!stored.ok()) return WriteError(res, stored.status());
      return WriteJson(res, 201, ToServed(info, *std::move(stored)));
    }
    absl::StatusOr<json> patched =
        store->Mutate(info.storage, route.ns, route.name, [&](json& object) -> absl::Status {
          if (!want_rv.empty() && object["metadata"].value("resourceVersion", "") != want_rv) {
            return Conflict(info.QualifiedName(), route.name);
          }
          absl::StatusOr<json> applied =
              ServerSideApply(ToServed(info, object), *config, info.resource, options);
          if (!applied.ok()) return applied.status();
          object = ToStored(info, *std::move(applied));
          return absl::OkStatus();
        });
    if (!patched.ok()) return WriteError(res, patched.status());
    return WriteJson(res, 200, ToServed(info, *std::move(patched)));
  }
}

}  // namespace

void ServeResource(ObjectStore* store, PodReaper* reaper, const std::string& verb,
                   const Route& route, const httplib::Request& req, httplib::Response& res) {
  const ResourceInfo& info = *route.info;
  const Resource storage = info.storage;
  if (verb == "list") return List(store, route, req, res);
  if (verb == "get") {
    absl::StatusOr<json> object = store->Get(storage, route.ns, route.name);
    if (!object.ok()) return WriteError(res, object.status());
    return WriteJson(res, 200, Render(info, ToServed(info, *std::move(object)), req));
  }
  if (verb == "delete") {
    absl::StatusOr<json> deleted = storage == Resource::kPods
                                       ? reaper->Delete(route.ns, route.name, GracePeriod(req))
                                       : store->Delete(storage, route.ns, route.name);
    if (!deleted.ok()) return WriteError(res, deleted.status());
    return WriteJson(res, 200, ToServed(info, *std::move(deleted)));
  }
  const std::string content_type = req.get_header_value("Content-Type");
  if (verb == "patch" && absl::StartsWith(content_type, "application/apply-patch")) {
    return Apply(store, route, req, res);
  }

  // create, update, patch: a JSON body.
  if (absl::StartsWith(content_type, "application/vnd.kubernetes.protobuf")) {
    return WriteError(res, ApiError(415, "UnsupportedMediaType",
                                    "fakek8s reads JSON and YAML bodies, not Kubernetes "
                                    "protobuf; send application/json"));
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return WriteError(res, BadRequest("the request body is not valid JSON"));
  }
  if (verb == "patch") {
    absl::StatusOr<json> patched =
        store->Mutate(storage, route.ns, route.name, [&](json& object) -> absl::Status {
          json served = ToServed(info, object);
          if (absl::Status s = ApplyPatch(content_type, body, info.resource, served); !s.ok()) {
            return s;
          }
          // As the real server checks after patching: the name is the URL's.
          if (absl::Status s = CheckIdentity(info, route, served); !s.ok()) return s;
          object = ToStored(info, std::move(served));
          return absl::OkStatus();
        });
    if (!patched.ok()) return WriteError(res, patched.status());
    return WriteJson(res, 200, ToServed(info, *std::move(patched)));
  }
  if (!body.is_object()) {
    return WriteError(
        res, BadRequest(absl::StrCat("the body of a ", info.kind, " must be a JSON object")));
  }
  if (!body.contains("metadata") || !body["metadata"].is_object()) {
    if (body.contains("metadata")) {
      return WriteError(res, BadRequest("metadata must be a JSON object"));
    }
    body["metadata"] = json::object();
  }
  json& meta = body["metadata"];
  if (info.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != route.ns) {
      return WriteError(res, BadRequest("the namespace of the provided object does not match "
                                        "the namespace sent on the request"));
    }
    meta["namespace"] = route.ns;
  }
  if (verb == "create") {
    absl::StatusOr<json> created = store->Create(storage, ToStored(info, std::move(body)));
    if (!created.ok()) return WriteError(res, created.status());
    return WriteJson(res, 201, ToServed(info, *std::move(created)));
  }
  // update
  std::string body_name = meta.value("name", "");
  if (body_name != route.name) {
    return WriteError(
        res, BadRequest(absl::StrCat("the name of the object (", body_name,
                                     ") does not match the name on the URL (", route.name, ")")));
  }
  absl::StatusOr<json> updated = store->Update(storage, ToStored(info, std::move(body)));
  if (!updated.ok()) return WriteError(res, updated.status());
  WriteJson(res, 200, ToServed(info, *std::move(updated)));
}

}  // namespace fakek8s
