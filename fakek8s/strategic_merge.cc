#include "fakek8s/strategic_merge.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakek8s/api_errors.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;
using schema::Field;
using schema::TypeDef;

constexpr char kSetOrder[] = "$setElementOrder/";
constexpr char kDeleteFrom[] = "$deleteFromPrimitiveList/";

// `value` without directives, at every depth (what "$patch: replace" keeps).
json StripDirectives(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) {
      if (!absl::StartsWith(k, "$")) out[k] = StripDirectives(v);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) {
      if (v.is_object() && v.size() == 1 && v.contains("$patch")) continue;
      out.push_back(StripDirectives(v));
    }
    return out;
  }
  return value;
}

std::string PatchDirective(const json& object) {
  if (!object.is_object()) return "";
  auto it = object.find("$patch");
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool MergesList(const Field* field) {
  return field != nullptr && field->type == schema::Type::kArray &&
         absl::StrContains(field->patch_strategy, "merge");
}

class Merger {
 public:
  // nullopt: the object is to be deleted ("$patch: delete").
  absl::StatusOr<std::optional<json>> MergeObject(json original, const json& patch,
                                                  const TypeDef* type, const std::string& path) {
    const std::string directive = PatchDirective(patch);
    if (directive == "delete") return std::optional<json>();
    if (directive == "replace") return std::optional<json>(StripDirectives(patch));
    if (!directive.empty() && directive != "merge") {
      return BadRequest(absl::StrCat("unknown patch type \"", directive, "\" at ", Where(path)));
    }
    if (!original.is_object()) original = json::object();
    if (auto retain = patch.find("$retainKeys"); retain != patch.end()) {
      if (!retain->is_array()) {
        return BadRequest(absl::StrCat("$retainKeys at ", Where(path), " must be a list"));
      }
      json kept = json::object();
      for (const auto& [k, v] : original.items()) {
        if (std::find(retain->begin(), retain->end(), json(k)) != retain->end()) kept[k] = v;
      }
      original = std::move(kept);
    }
    for (const auto& [key, value] : patch.items()) {
      if (absl::StartsWith(key, "$")) continue;
      const std::string child = Join(path, key);
      const Field* field = type != nullptr ? type->Find(key) : nullptr;
      if (value.is_null()) {
        original.erase(key);
        continue;
      }
      if (value.is_object() && !(field != nullptr && field->atomic_map)) {
        const TypeDef* nested = field != nullptr ? schema::Nested(*field) : nullptr;
        json current = original.contains(key) ? original[key] : json::object();
        absl::StatusOr<std::optional<json>> merged =
            MergeObject(std::move(current), value, nested, child);
        if (!merged.ok()) return merged.status();
        if (merged->has_value()) {
          original[key] = **merged;
        } else {
          original.erase(key);
        }
        continue;
      }
      if (value.is_array() && MergesList(field)) {
        json current =
            original.contains(key) && original[key].is_array() ? original[key] : json::array();
        absl::StatusOr<json> merged = MergeList(std::move(current), value, *field, child);
        if (!merged.ok()) return merged.status();
        original[key] = *std::move(merged);
        continue;
      }
      original[key] = StripDirectives(value);
    }
    // List directives, after the lists they name were merged.
    for (const auto& [key, value] : patch.items()) {
      if (absl::StartsWith(key, kDeleteFrom)) {
        const std::string list = key.substr(sizeof(kDeleteFrom) - 1);
        if (!value.is_array()) {
          return BadRequest(absl::StrCat(key, " at ", Where(path), " must be a list"));
        }
        if (original.contains(list) && original[list].is_array()) {
          json kept = json::array();
          for (const json& v : original[list]) {
            if (std::find(value.begin(), value.end(), v) == value.end()) kept.push_back(v);
          }
          original[list] = std::move(kept);
        }
      }
    }
    for (const auto& [key, value] : patch.items()) {
      if (!absl::StartsWith(key, kSetOrder)) continue;
      const std::string list = key.substr(sizeof(kSetOrder) - 1);
      if (!value.is_array()) {
        return BadRequest(absl::StrCat(key, " at ", Where(path), " must be a list"));
      }
      if (!original.contains(list) || !original[list].is_array()) continue;
      const Field* field = type != nullptr ? type->Find(list) : nullptr;
      const std::string merge_key = field != nullptr ? field->patch_merge_key : "";
      original[list] = Reorder(std::move(original[list]), value, merge_key);
    }
    return std::optional<json>(std::move(original));
  }

 private:
  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : absl::StrCat(path, ".", key);
  }
  static std::string Where(const std::string& path) {
    return path.empty() ? "the top level" : absl::StrCat("\"", path, "\"");
  }

  absl::StatusOr<json> MergeList(json original, const json& patch, const Field& field,
                                 const std::string& path) {
    const std::string& key = field.patch_merge_key;
    if (key.empty()) {
      // A set of primitives: union, without duplicates, patch items last.
      for (const json& item : patch) {
        if (item.is_object()) {
          if (PatchDirective(item) == "replace") return StripDirectives(patch);
          return BadRequest(absl::StrCat("\"", path, "\" is a list of values, not of objects"));
        }
        if (std::find(original.begin(), original.end(), item) == original.end()) {
          original.push_back(item);
        }
      }
      return original;
    }
    for (const json& item : patch) {
      if (PatchDirective(item) == "replace") return StripDirectives(patch);
    }
    const TypeDef* nested = schema::Nested(field);
    for (const json& item : patch) {
      if (!item.is_object() || !item.contains(key)) {
        return BadRequest(
            absl::StrCat("an item of \"", path, "\" does not contain its merge key \"", key, "\""));
      }
      const json& id = item[key];
      if (PatchDirective(item) == "delete") {
        json kept = json::array();
        for (const json& e : original) {
          if (!(e.is_object() && e.contains(key) && e[key] == id)) kept.push_back(e);
        }
        original = std::move(kept);
        continue;
      }
      auto same = std::find_if(original.begin(), original.end(), [&](const json& e) {
        return e.is_object() && e.contains(key) && e[key] == id;
      });
      const std::string child = absl::StrCat(path, "[", key, "=", id.dump(), "]");
      json base = same != original.end() ? *same : json::object();
      absl::StatusOr<std::optional<json>> merged =
          MergeObject(std::move(base), item, nested, child);
      if (!merged.ok()) return merged.status();
      if (!merged->has_value()) {
        if (same != original.end()) original.erase(same);
      } else if (same != original.end()) {
        *same = **merged;
      } else {
        original.push_back(**merged);
      }
    }
    return original;
  }

  // The items `order` names take its order, in the positions such items hold;
  // the others stay where they are.
  static json Reorder(json list, const json& order, const std::string& merge_key) {
    auto id_of = [&](const json& item) -> std::optional<json> {
      // in_place: json converts to anything, so `return item;` is ambiguous with
      // nlohmann-json 3.11.3.
      if (merge_key.empty()) return std::optional<json>(std::in_place, item);
      if (item.is_object() && item.contains(merge_key)) {
        return std::optional<json>(std::in_place, item[merge_key]);
      }
      return std::nullopt;
    };
    auto rank = [&](const json& item) -> std::optional<size_t> {
      std::optional<json> id = id_of(item);
      if (!id) return std::nullopt;
      for (size_t i = 0; i < order.size(); ++i) {
        std::optional<json> want = id_of(order[i]);
        if (want && *want == *id) return i;
      }
      return std::nullopt;
    };
    std::vector<std::pair<size_t, json>> named;
    std::vector<size_t> slots;
    for (size_t i = 0; i < list.size(); ++i) {
      if (std::optional<size_t> r = rank(list[i])) {
        named.emplace_back(*r, list[i]);
        slots.push_back(i);
      }
    }
    std::stable_sort(named.begin(), named.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < slots.size(); ++i) list[slots[i]] = std::move(named[i].second);
    return list;
  }
};

}  // namespace

absl::StatusOr<json> StrategicMergePatch(const json& original, const json& patch,
                                         const schema::TypeDef* type) {
  if (!patch.is_object()) return BadRequest("a strategic merge patch must be a JSON object");
  Merger merger;
  absl::StatusOr<std::optional<json>> merged = merger.MergeObject(original, patch, type, "");
  if (!merged.ok()) return merged.status();
  if (!merged->has_value()) return BadRequest("a patch cannot delete the whole object");
  return **merged;
}

}  // namespace fakek8s
