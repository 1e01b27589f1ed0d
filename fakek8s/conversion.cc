#include "fakek8s/conversion.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

// core/v1 field -> events.k8s.io/v1 field.
const std::vector<std::pair<std::string, std::string>>& EventFields() {
  static const auto* const kFields = new std::vector<std::pair<std::string, std::string>>{
      {"involvedObject", "regarding"},
      {"message", "note"},
      {"source", "deprecatedSource"},
      {"firstTimestamp", "deprecatedFirstTimestamp"},
      {"lastTimestamp", "deprecatedLastTimestamp"},
      {"count", "deprecatedCount"},
      {"reportingComponent", "reportingController"},
  };
  return *kFields;
}

void Rename(json& object, const std::string& from, const std::string& to) {
  auto it = object.find(from);
  if (it == object.end()) return;
  json value = std::move(*it);
  object.erase(from);
  if (!value.is_null()) object[to] = std::move(value);
}

// "2026-01-01T00:00:00Z" -> "2026-01-01T00:00:00.000000Z" (eventTime is MicroTime).
std::string AsMicroTime(const std::string& t) {
  if (t.size() == 20 && t.back() == 'Z') return absl::StrCat(t.substr(0, 19), ".000000Z");
  return t;
}

}  // namespace

json ToServed(const ResourceInfo& info, json stored) {
  if (info.resource != Resource::kEventsV1 || !stored.is_object()) return stored;
  for (const auto& [core, v1] : EventFields()) Rename(stored, core, v1);
  if (!stored.contains("eventTime") || stored["eventTime"].is_null()) {
    const std::string first = stored.value("deprecatedFirstTimestamp", "");
    if (!first.empty()) stored["eventTime"] = AsMicroTime(first);
  }
  stored["apiVersion"] = info.ApiVersion();
  stored["kind"] = info.kind;
  return stored;
}

json ToStored(const ResourceInfo& info, json served) {
  if (info.resource != Resource::kEventsV1 || !served.is_object()) return served;
  for (const auto& [core, v1] : EventFields()) Rename(served, v1, core);
  const ResourceInfo& stored = Info(info.storage);
  served["apiVersion"] = stored.ApiVersion();
  served["kind"] = stored.kind;
  return served;
}

std::string StoredFieldSelector(const ResourceInfo& info, const std::string& selector) {
  if (info.resource != Resource::kEventsV1 || selector.empty()) return selector;
  std::vector<std::string> terms = absl::StrSplit(selector, ',');
  for (std::string& term : terms) {
    for (const auto& [core, v1] : EventFields()) {
      if (absl::StartsWith(term, v1 + ".") || absl::StartsWith(term, v1 + "=") ||
          absl::StartsWith(term, v1 + "!")) {
        term = core + term.substr(v1.size());
        break;
      }
    }
  }
  return absl::StrJoin(terms, ",");
}

}  // namespace fakek8s
