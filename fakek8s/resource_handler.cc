#include "fakek8s/resource_handler.h"

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/http_util.h"
#include "fakek8s/patch.h"
#include "fakek8s/selector.h"
#include "httplib.h"

namespace fakek8s {

using internal::AsListItem;
using internal::Param;
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

}  // namespace

void ServeResource(ObjectStore* store, PodReaper* reaper, const std::string& verb,
                   const Route& route, const httplib::Request& req, httplib::Response& res) {
  const ResourceInfo& info = *route.info;
  const Resource resource = info.resource;
  if (verb == "list") {
    absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(Param(req, "labelSelector"));
    if (!labels.ok()) return WriteError(res, BadRequest(labels.status().message()));
    absl::StatusOr<FieldSelector> fields =
        FieldSelector::Parse(Param(req, "fieldSelector"), info.selectable_fields);
    if (!fields.ok()) return WriteError(res, BadRequest(fields.status().message()));
    ObjectStore::ListResult list = store->List(resource, route.ns, *labels, *fields);
    json items = json::array();
    for (json& item : list.items) items.push_back(AsListItem(std::move(item)));
    WriteJson(res, 200,
              {{"kind", info.kind + "List"},
               {"apiVersion", info.ApiVersion()},
               {"metadata", {{"resourceVersion", list.resource_version}}},
               {"items", std::move(items)}});
    return;
  }
  if (verb == "get") {
    absl::StatusOr<json> object = store->Get(resource, route.ns, route.name);
    if (!object.ok()) return WriteError(res, object.status());
    return WriteJson(res, 200, *object);
  }
  if (verb == "delete") {
    absl::StatusOr<json> deleted = info.resource == Resource::kPods
                                       ? reaper->Delete(route.ns, route.name, GracePeriod(req))
                                       : store->Delete(resource, route.ns, route.name);
    if (!deleted.ok()) return WriteError(res, deleted.status());
    return WriteJson(res, 200, *deleted);
  }

  // create, update, patch: a JSON body.
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return WriteError(res, BadRequest("the request body is not valid JSON"));
  }
  if (verb == "patch") {
    std::string content_type = req.get_header_value("Content-Type");
    absl::StatusOr<json> patched =
        store->Mutate(resource, route.ns, route.name, [&](json& object) -> absl::Status {
          if (absl::Status s = ApplyPatch(content_type, body, object); !s.ok()) return s;
          // As the real server checks after patching: the name is the URL's.
          const json meta = object.contains("metadata") && object["metadata"].is_object()
                                ? object["metadata"]
                                : json::object();
          const std::string name = meta.contains("name") && meta["name"].is_string()
                                       ? meta["name"].get<std::string>()
                                       : "";
          if (name != route.name) {
            return BadRequest(absl::StrCat("the name of the object (", name,
                                           ") does not match the name on the URL (", route.name,
                                           ")"));
          }
          if (info.namespaced && meta.value("namespace", route.ns) != route.ns) {
            return BadRequest(
                "the namespace of the object does not match the namespace on the URL");
          }
          return absl::OkStatus();
        });
    if (!patched.ok()) return WriteError(res, patched.status());
    return WriteJson(res, 200, *patched);
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
    absl::StatusOr<json> created = store->Create(resource, std::move(body));
    if (!created.ok()) return WriteError(res, created.status());
    return WriteJson(res, 201, *created);
  }
  // update
  std::string body_name = meta.value("name", "");
  if (body_name != route.name) {
    return WriteError(
        res, BadRequest(absl::StrCat("the name of the object (", body_name,
                                     ") does not match the name on the URL (", route.name, ")")));
  }
  absl::StatusOr<json> updated = store->Update(resource, std::move(body));
  if (!updated.ok()) return WriteError(res, updated.status());
  WriteJson(res, 200, *updated);
}

}  // namespace fakek8s
