#include "fakek8s/apply.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/schema.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using schema::Field;
using schema::TypeDef;

// A field path in FieldsV1 elements: "f:spec", "k:{\"port\":80,...}", "v:\"a\"",
// and "." for an item itself.
using Path = std::vector<std::string>;
using FieldSet = std::set<Path>;

// Fields that identify or describe the object rather than configure it: never
// owned, never merged from a configuration.
bool Unowned(const Path& path) {
  static const std::set<std::string>* const kMeta =
      new std::set<std::string>{"f:name",
                                "f:namespace",
                                "f:uid",
                                "f:resourceVersion",
                                "f:generation",
                                "f:creationTimestamp",
                                "f:deletionTimestamp",
                                "f:deletionGracePeriodSeconds",
                                "f:managedFields",
                                "f:selfLink"};
  if (path.size() == 1) return path[0] == "f:apiVersion" || path[0] == "f:kind";
  return path.size() == 2 && path[0] == "f:metadata" && kMeta->count(path[1]) > 0;
}

// The identity of an item of a keyed list: its key fields (defaults filled
// in), as the JSON object FieldsV1 uses.
absl::StatusOr<json> ItemKey(const json& item, const Field& field, const std::string& where) {
  if (!item.is_object()) {
    return BadRequest(absl::StrCat("an item of ", where, " is not an object"));
  }
  const TypeDef* nested = schema::Nested(field);
  json key = json::object();
  for (const std::string& k : field.map_keys) {
    if (item.contains(k) && !item[k].is_null()) {
      key[k] = item[k];
      continue;
    }
    const Field* kf = nested != nullptr ? nested->Find(k) : nullptr;
    if (kf != nullptr && !kf->default_json.empty()) {
      key[k] = json::parse(kf->default_json);
      continue;
    }
    if (k == field.map_keys.front()) {
      return BadRequest(absl::StrCat("an item of ", where, " lacks its key field \"", k, "\""));
    }
  }
  return key;
}

// Turns a configuration into the set of fields it sets.
absl::Status Collect(const json& value, const TypeDef* type, const Path& prefix,
                     const std::string& where, FieldSet* out) {
  for (const auto& [k, v] : value.items()) {
    Path path = prefix;
    path.push_back("f:" + k);
    if (Unowned(path)) continue;
    const Field* field = type != nullptr ? type->Find(k) : nullptr;
    const std::string child = absl::StrCat(where, ".", k);
    if (v.is_object() && !v.empty() &&
        !(field != nullptr && (field->type == schema::Type::kAny || field->atomic_map))) {
      if (absl::Status s = Collect(v, field ? schema::Nested(*field) : nullptr, path, child, out);
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (v.is_array() && field != nullptr && field->list_type == schema::ListType::kMap) {
      const TypeDef* nested = schema::Nested(*field);
      for (const json& item : v) {
        absl::StatusOr<json> key = ItemKey(item, *field, child);
        if (!key.ok()) return key.status();
        Path item_path = path;
        item_path.push_back("k:" + key->dump());
        Path marker = item_path;
        marker.push_back(".");
        out->insert(marker);
        if (absl::Status s = Collect(item, nested, item_path, child, out); !s.ok()) return s;
      }
      continue;
    }
    if (v.is_array() && field != nullptr && field->list_type == schema::ListType::kSet) {
      for (const json& item : v) {
        Path member = path;
        member.push_back("v:" + item.dump());
        out->insert(member);
      }
      continue;
    }
    out->insert(path);
  }
  return absl::OkStatus();
}

// FieldsV1 <-> FieldSet.
void FromTree(const json& tree, const Path& prefix, FieldSet* out) {
  if (!tree.is_object()) return;
  for (const auto& [k, v] : tree.items()) {
    Path path = prefix;
    path.push_back(k);
    if (k == "." || !v.is_object() || v.empty()) {
      out->insert(path);
    } else {
      FromTree(v, path, out);
    }
  }
}

json ToTree(const FieldSet& fields) {
  json tree = json::object();
  for (const Path& path : fields) {
    json* node = &tree;
    for (const std::string& e : path) {
      if (!node->contains(e)) (*node)[e] = json::object();
      node = &(*node)[e];
    }
  }
  return tree;
}

// `.spec.ports[port=80,protocol="TCP"].targetPort`, as conflicts name fields.
std::string Describe(const Path& path) {
  std::string out;
  for (const std::string& e : path) {
    if (absl::StartsWith(e, "f:")) {
      absl::StrAppend(&out, ".", e.substr(2));
    } else if (absl::StartsWith(e, "k:")) {
      json key = json::parse(e.substr(2), nullptr, false);
      std::vector<std::string> parts;
      if (key.is_object()) {
        for (const auto& [k, v] : key.items()) parts.push_back(absl::StrCat(k, "=", v.dump()));
      }
      absl::StrAppend(&out, "[", absl::StrJoin(parts, ","), "]");
    } else if (absl::StartsWith(e, "v:")) {
      absl::StrAppend(&out, "[=", e.substr(2), "]");
    }
  }
  return out;
}

// The list field and nested type of each element, walking `root` along `path`.
// Returns the node the path names (nullptr if absent); `parent` and `index`
// say where it sits, for removal.
struct Located {
  json* node = nullptr;
  json* parent = nullptr;
  std::string field;  // parent is an object: the key
  size_t index = 0;   // parent is an array: the position
};

Located Locate(json& root, const Path& path, const TypeDef* type) {
  Located at;
  json* node = &root;
  const Field* list_field = nullptr;
  for (const std::string& e : path) {
    if (e == ".") break;
    if (absl::StartsWith(e, "f:")) {
      const std::string name = e.substr(2);
      if (!node->is_object() || !node->contains(name)) return {};
      const Field* f = type != nullptr ? type->Find(name) : nullptr;
      at.parent = node;
      at.field = name;
      node = &(*node)[name];
      list_field = f;
      type = f != nullptr ? schema::Nested(*f) : nullptr;
      continue;
    }
    if (!node->is_array()) return {};
    const bool by_key = absl::StartsWith(e, "k:");
    json want = json::parse(e.substr(2), nullptr, false);
    bool found = false;
    for (size_t i = 0; i < node->size(); ++i) {
      json& item = (*node)[i];
      bool match = false;
      if (by_key && list_field != nullptr) {
        absl::StatusOr<json> key = ItemKey(item, *list_field, "");
        match = key.ok() && *key == want;
      } else if (!by_key) {
        match = item == want;
      }
      if (match) {
        at.parent = node;
        at.index = i;
        node = &item;
        found = true;
        break;
      }
    }
    if (!found) return {};
    list_field = nullptr;
  }
  at.node = node;
  return at;
}

void Remove(json& root, const Path& path, const TypeDef* type) {
  Located at = Locate(root, path, type);
  if (at.node == nullptr || at.parent == nullptr) return;
  if (at.parent->is_object()) {
    at.parent->erase(at.field);
  } else if (at.parent->is_array()) {
    at.parent->erase(at.index);
  }
}

// Merges a configuration into the live object.
absl::Status Merge(json& live, const json& config, const TypeDef* type, const std::string& where,
                   bool top) {
  if (!live.is_object()) live = json::object();
  for (const auto& [k, v] : config.items()) {
    if (top && (k == "apiVersion" || k == "kind")) continue;
    const Field* field = type != nullptr ? type->Find(k) : nullptr;
    const std::string child = absl::StrCat(where, ".", k);
    if (v.is_null()) {
      live.erase(k);
      continue;
    }
    if (v.is_object() &&
        !(field != nullptr && (field->type == schema::Type::kAny || field->atomic_map))) {
      json& target = live[k];
      if (absl::Status s = Merge(target, v, field ? schema::Nested(*field) : nullptr, child, false);
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (v.is_array() && field != nullptr && field->list_type == schema::ListType::kMap &&
        live.contains(k) && live[k].is_array()) {
      json& list = live[k];
      const TypeDef* nested = schema::Nested(*field);
      for (const json& item : v) {
        absl::StatusOr<json> key = ItemKey(item, *field, child);
        if (!key.ok()) return key.status();
        json* same = nullptr;
        for (json& e : list) {
          absl::StatusOr<json> other = ItemKey(e, *field, child);
          if (other.ok() && *other == *key) {
            same = &e;
            break;
          }
        }
        if (same == nullptr) {
          list.push_back(item);
        } else if (absl::Status s = Merge(*same, item, nested, child, false); !s.ok()) {
          return s;
        }
      }
      continue;
    }
    if (v.is_array() && field != nullptr && field->list_type == schema::ListType::kSet &&
        live.contains(k) && live[k].is_array()) {
      for (const json& item : v) {
        if (std::find(live[k].begin(), live[k].end(), item) == live[k].end()) {
          live[k].push_back(item);
        }
      }
      continue;
    }
    live[k] = v;
  }
  return absl::OkStatus();
}

// Whether some path in `set` is `path` or lies under it.
bool CoversOrBelow(const FieldSet& set, const Path& path) {
  Path base = path;
  if (!base.empty() && base.back() == ".") base.pop_back();
  for (auto it = set.lower_bound(base); it != set.end(); ++it) {
    if (it->size() < base.size() || !std::equal(base.begin(), base.end(), it->begin())) break;
    return true;
  }
  return false;
}

struct Manager {
  json entry;
  FieldSet fields;
};

}  // namespace

absl::StatusOr<json> CheckAppliedConfiguration(const json& config, const ResourceInfo& info,
                                               const std::string& ns, const std::string& name,
                                               const ApplyOptions& options) {
  if (options.field_manager.empty()) {
    return BadRequest(
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required "
        "for apply patch");
  }
  if (!config.is_object()) {
    return BadRequest("the applied configuration must be a YAML or JSON object");
  }
  const std::string api_version = config.value("apiVersion", "");
  const std::string kind = config.value("kind", "");
  if (api_version.empty() || kind.empty()) {
    return BadRequest("the applied configuration must set apiVersion and kind");
  }
  if (api_version != info.ApiVersion() || kind != info.kind) {
    return BadRequest(absl::StrCat("the applied configuration is a ", api_version, " ", kind,
                                   ", not a ", info.ApiVersion(), " ", info.kind));
  }
  json out = config;
  if (!out.contains("metadata") || out["metadata"].is_null()) out["metadata"] = json::object();
  if (!out["metadata"].is_object()) return BadRequest("metadata must be an object");
  json& meta = out["metadata"];
  const std::string config_name = meta.value("name", "");
  if (!config_name.empty() && config_name != name) {
    return BadRequest(absl::StrCat("the name of the object (", config_name,
                                   ") does not match the name on the URL (", name, ")"));
  }
  meta["name"] = name;
  if (info.namespaced) {
    const std::string config_ns = meta.value("namespace", "");
    if (!config_ns.empty() && config_ns != ns) {
      return BadRequest("the namespace of the object does not match the namespace on the URL");
    }
    meta["namespace"] = ns;
  }
  meta.erase("managedFields");
  return out;
}

absl::StatusOr<json> ServerSideApply(const json& live_in, const json& config_in, Resource resource,
                                     const ApplyOptions& options) {
  const ResourceInfo& info = Info(resource);
  const TypeDef* type = schema::ForResource(resource);
  // What this apply may touch: the object but its status, or only the status.
  json config = config_in;
  if (options.status_subresource) {
    json meta = json::object();
    for (const char* key : {"name", "namespace"}) {
      if (config["metadata"].contains(key)) meta[key] = config["metadata"][key];
    }
    json status_only = {{"apiVersion", config.value("apiVersion", "")},
                        {"kind", config.value("kind", "")},
                        {"metadata", std::move(meta)}};
    if (config.contains("status")) status_only["status"] = config["status"];
    config = std::move(status_only);
  } else {
    config.erase("status");
  }
  FieldSet applied;
  if (absl::Status s = Collect(config, type, {}, info.kind, &applied); !s.ok()) return s;

  const bool creating = live_in.is_null();
  json live = creating ? json::object() : live_in;
  std::vector<Manager> managers;
  if (!creating && live.contains("metadata") && live["metadata"].contains("managedFields") &&
      live["metadata"]["managedFields"].is_array()) {
    for (const json& entry : live["metadata"]["managedFields"]) {
      if (!entry.is_object()) continue;
      Manager m{entry, {}};
      if (entry.contains("fieldsV1")) FromTree(entry["fieldsV1"], {}, &m.fields);
      managers.push_back(std::move(m));
    }
  }
  auto is_self = [&](const Manager& m) {
    return m.entry.value("manager", "") == options.field_manager &&
           m.entry.value("operation", "") == "Apply" &&
           m.entry.value("subresource", "") == (options.status_subresource ? "status" : "");
  };
  FieldSet previous;
  for (const Manager& m : managers) {
    if (is_self(m)) previous = m.fields;
  }

  // Conflicts: a field set to a different value that someone else owns.
  std::map<std::string, std::vector<std::string>> conflicts;  // manager -> fields
  int conflict_count = 0;
  for (const Path& path : applied) {
    if (path.back() == ".") continue;
    // Locate only reads (it never inserts), so the const_cast is safe.
    Located want = Locate(const_cast<json&>(config), path, type);
    Located have = Locate(live, path, type);
    if (have.node == nullptr || want.node == nullptr || *have.node == *want.node) continue;
    for (Manager& m : managers) {
      if (is_self(m) || m.fields.count(path) == 0) continue;
      if (options.force) {
        m.fields.erase(path);
      } else {
        conflicts[m.entry.value("manager", "")].push_back(Describe(path));
        ++conflict_count;
      }
    }
  }
  if (!conflicts.empty()) {
    std::vector<std::string> parts;
    for (const auto& [manager, fields] : conflicts) {
      parts.push_back(
          absl::StrCat("conflict with \"", manager, "\": ", absl::StrJoin(fields, ", ")));
    }
    return ApiError(409, "Conflict",
                    absl::StrCat("Apply failed with ", conflict_count,
                                 conflict_count == 1 ? " conflict: " : " conflicts: ",
                                 absl::StrJoin(parts, "; "),
                                 " (apply with force to take ownership of these fields)"));
  }

  // Fields this manager applied before and no longer does, and nobody else owns.
  FieldSet others;
  for (const Manager& m : managers) {
    if (!is_self(m)) others.insert(m.fields.begin(), m.fields.end());
  }
  std::vector<Path> dropped;
  for (const Path& path : previous) {
    if (applied.count(path) == 0 && !CoversOrBelow(others, path)) dropped.push_back(path);
  }
  // Deepest first, so that an item's fields go before the item.
  std::sort(dropped.begin(), dropped.end(),
            [](const Path& a, const Path& b) { return a.size() > b.size(); });
  for (const Path& path : dropped) {
    if (CoversOrBelow(applied, path)) continue;  // a field under it is still applied
    Remove(live, path, type);
  }

  if (absl::Status s = Merge(live, config, type, info.kind, true); !s.ok()) return s;
  if (creating) {
    live["apiVersion"] = info.ApiVersion();
    live["kind"] = info.kind;
  }

  // managedFields: this manager's entry replaced, emptied entries dropped.
  json entries = json::array();
  bool wrote_self = false;
  auto self_entry = [&] {
    json e = {{"manager", options.field_manager},
              {"operation", "Apply"},
              {"apiVersion", info.ApiVersion()},
              {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", options.now, absl::UTCTimeZone())},
              {"fieldsType", "FieldsV1"},
              {"fieldsV1", ToTree(applied)}};
    if (options.status_subresource) e["subresource"] = "status";
    return e;
  };
  for (Manager& m : managers) {
    if (is_self(m)) {
      entries.push_back(self_entry());
      wrote_self = true;
      continue;
    }
    if (m.fields.empty()) continue;
    m.entry["fieldsV1"] = ToTree(m.fields);
    entries.push_back(m.entry);
  }
  if (!wrote_self) entries.push_back(self_entry());
  live["metadata"]["managedFields"] = std::move(entries);
  return live;
}

}  // namespace fakek8s
