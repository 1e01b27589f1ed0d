// File: fakek8s/schema.h
// -----------------------------------------------------------------------------
// The shape of the objects fakek8s serves: each kind's fields, their types, a
// one-line description, and how lists merge. One table serves three users:
//   - the OpenAPI v3 documents (openapi.h), which `kubectl explain` renders and
//     from which kubectl computes client-side apply patches;
//   - strategic merge patch (strategic_merge.h): `patch_merge_key` and
//     `patch_strategy` as the real types' struct tags declare them (Service
//     `ports` by `port`, Pod `containers` by `name`, container `ports` by
//     `containerPort`, `conditions` by `type`, ...);
//   - server-side apply (apply.h): `list_type` and `map_keys` (Service ports
//     are identified by port and protocol).
// It covers the fields fakek8s knows about, not every field of the real API:
// an unknown field is kept as written, maps merge and lists are replaced.
// Thread-safe (immutable after first use).

#ifndef FAKEK8S_SCHEMA_H_
#define FAKEK8S_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "fakek8s/resources.h"

namespace fakek8s::schema {

enum class Type {
  kString,
  kInteger,
  kBoolean,
  kNumber,
  kObject,       // a nested type, `ref`
  kArray,        // items of `ref`, or of `item` when `ref` is empty
  kMap,          // string keys, values of `item`
  kIntOrString,  // a port number or name
  kTime,         // RFC 3339 string
  kAny,          // free-form JSON
};

enum class ListType { kAtomic, kSet, kMap };

struct Field {
  std::string name;
  Type type = Type::kString;
  std::string ref;            // kObject / kArray of objects: the TypeDef's name
  Type item = Type::kString;  // kArray of primitives, kMap values
  std::string description;
  bool required = false;
  std::string default_json;  // the value the server fills in, as JSON ("" if none)
  std::vector<std::string> enum_values;
  // Lists (kArray).
  ListType list_type = ListType::kAtomic;
  std::vector<std::string> map_keys;  // ListType::kMap: what identifies an item
  // Strategic merge patch: "merge" (by `patch_merge_key` for objects, as a set
  // for primitives), "retainKeys", "merge,retainKeys" or "" (replace).
  std::string patch_strategy;
  std::string patch_merge_key;
  bool atomic_map = false;  // a map replaced as a whole (a Service's selector)

  // Builders, for the table in schema.cc.
  Field& Required() {
    required = true;
    return *this;
  }
  Field& Default(std::string json) {
    default_json = std::move(json);
    return *this;
  }
  Field& Enum(std::vector<std::string> values) {
    enum_values = std::move(values);
    return *this;
  }
};

struct TypeDef {
  std::string name;  // "io.k8s.api.core.v1.Pod", as the real OpenAPI names it
  std::string description;
  std::vector<Field> fields;
  // Set on the top-level kinds.
  std::string group, version, kind;

  const Field* Find(absl::string_view field) const;
};

// Every type, top-level kinds first.
const std::vector<TypeDef>& AllTypes();
const TypeDef* FindType(absl::string_view name);
// The type of a served resource's objects; nullptr if it has none.
const TypeDef* ForResource(Resource resource);
// The nested type of `field` (kObject, or kArray of objects); nullptr otherwise.
const TypeDef* Nested(const Field& field);

}  // namespace fakek8s::schema

#endif  // FAKEK8S_SCHEMA_H_
