#include "fakek8s/events.h"

#include <cstdint>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

const json& Field(const json& object, const char* a, const char* b = nullptr) {
  static const json kNull;
  if (!object.is_object() || !object.contains(a)) return kNull;
  const json& first = object[a];
  if (b == nullptr) return first;
  if (!first.is_object() || !first.contains(b)) return kNull;
  return first[b];
}

std::string Text(const json& j) { return j.is_string() ? j.get<std::string>() : ""; }

std::string ReadyStatus(const json& pod) {
  const json& conditions = Field(pod, "status", "conditions");
  if (!conditions.is_array()) return "";
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "");
  }
  return "";
}

std::string ReadyMessage(const json& pod) {
  const json& conditions = Field(pod, "status", "conditions");
  if (!conditions.is_array()) return "";
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("message", "");
  }
  return "";
}

std::vector<std::string> ContainerNames(const json& pod) {
  std::vector<std::string> names;
  const json& containers = Field(pod, "spec", "containers");
  if (containers.is_array()) {
    for (const json& c : containers) {
      if (c.is_object() && c.contains("name") && c["name"].is_string()) {
        names.push_back(c["name"].get<std::string>());
      }
    }
  }
  if (names.empty()) names.push_back(Text(Field(pod, "metadata", "name")));
  return names;
}

std::map<std::string, int64_t> Restarts(const json& pod) {
  std::map<std::string, int64_t> out;
  const json& statuses = Field(pod, "status", "containerStatuses");
  if (!statuses.is_array()) return out;
  for (const json& s : statuses) {
    if (s.is_object() && s.contains("restartCount") && s["restartCount"].is_number_integer()) {
      out[s.value("name", "")] = s["restartCount"].get<int64_t>();
    }
  }
  return out;
}

}  // namespace

EventRecorder::EventRecorder(ObjectStore* store, Options options)
    : store_(store), options_(std::move(options)) {}

json EventRecorder::ReferenceTo(const json& object) {
  json ref = json::object();
  for (const char* key : {"apiVersion", "kind"}) {
    if (object.contains(key)) ref[key] = object[key];
  }
  for (const char* key : {"namespace", "name", "uid", "resourceVersion"}) {
    const json& v = Field(object, "metadata", key);
    if (v.is_string()) ref[key] = v;
  }
  return ref;
}

void EventRecorder::WatchPods() {
  if (!options_.enabled) return;
  store_->AddObserver([this](ObjectStore::Transaction& txn, Resource resource,
                             const std::string& type, const json& object, const json& previous) {
    if (resource == Resource::kPods) OnPodWrite(txn, type, object, previous);
  });
}

void EventRecorder::Record(const EventRecord& record) {
  if (!options_.enabled) return;
  store_->Transact([&](ObjectStore::Transaction& txn) { RecordIn(txn, record); });
}

void EventRecorder::RecordIn(ObjectStore::Transaction& txn, const EventRecord& record) {
  if (!options_.enabled) return;
  const std::string involved_ns = record.involved.value("namespace", "");
  const std::string ns = involved_ns.empty() ? "default" : involved_ns;
  const std::string involved_name = record.involved.value("name", "");
  const std::string name =
      absl::StrFormat("%s.%016x", involved_name.empty() ? "event" : involved_name,
                      Fnv1a(absl::StrCat(record.involved.value("kind", ""), "/", ns, "/",
                                         involved_name, "/", record.involved.value("uid", ""), "/",
                                         record.type, "/", record.reason, "/", record.message)));
  const absl::Time now = options_.now();
  const std::string ts = Rfc3339(now);
  if (const json* existing = txn.Get(Resource::kEvents, ns, name)) {
    json again = *existing;
    again["count"] = again.value("count", 1) + 1;
    again["lastTimestamp"] = ts;
    (void)txn.Update(Resource::kEvents, std::move(again));
    return;
  }
  json event = {{"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject", record.involved},
                {"reason", record.reason},
                {"message", record.message},
                {"type", record.type},
                {"source", {{"component", record.component}}},
                {"firstTimestamp", ts},
                {"lastTimestamp", ts},
                {"count", 1},
                {"eventTime", nullptr},
                {"reportingComponent", record.component},
                {"reportingInstance", "fakek8s"}};
  if (!txn.Create(Resource::kEvents, std::move(event)).ok()) return;  // e.g. no such namespace
  absl::MutexLock lock(&mu_);
  written_.push_back({{ns, name}, now});
  while (!written_.empty() &&
         (written_.size() > options_.max_events || written_.front().second < now - options_.ttl)) {
    (void)txn.Delete(Resource::kEvents, written_.front().first.first,
                     written_.front().first.second);
    written_.pop_front();
  }
}

void EventRecorder::OnPodWrite(ObjectStore::Transaction& txn, const std::string& type,
                               const json& pod, const json& previous) {
  if (type == "DELETED") return;
  const std::string ns = Text(Field(pod, "metadata", "namespace"));
  const std::string name = Text(Field(pod, "metadata", "name"));
  const json ref = ReferenceTo(pod);
  auto record = [&](const std::string& event_type, const std::string& reason,
                    const std::string& message, const std::string& component,
                    const std::string& container = "") {
    EventRecord r;
    r.involved = ref;
    if (!container.empty())
      r.involved["fieldPath"] = absl::StrCat("spec.containers{", container, "}");
    r.type = event_type;
    r.reason = reason;
    r.message = message;
    r.component = component;
    RecordIn(txn, r);
  };
  const bool added = type == "ADDED";
  if (added) {
    const std::string node = Text(Field(pod, "spec", "nodeName"));
    record("Normal", "Scheduled",
           node.empty()
               ? absl::StrCat("Successfully assigned ", ns, "/", name, " (fakek8s runs no nodes)")
               : absl::StrCat("Successfully assigned ", ns, "/", name, " to ", node),
           "default-scheduler");
  }
  const std::string phase = Text(Field(pod, "status", "phase"));
  const std::string old_phase = added ? "" : Text(Field(previous, "status", "phase"));
  if (phase == "Running" && old_phase != "Running") {
    for (const std::string& c : ContainerNames(pod)) {
      record("Normal", "Started", absl::StrCat("Started container ", c), "kubelet", c);
    }
  } else if (!added) {
    const std::map<std::string, int64_t> before = Restarts(previous);
    for (const auto& [c, count] : Restarts(pod)) {
      auto it = before.find(c);
      if (it != before.end() && count > it->second) {
        record("Normal", "Started", absl::StrCat("Started container ", c), "kubelet", c);
      }
    }
  }
  if (phase == "Failed" && old_phase != "Failed") {
    std::string why = Text(Field(pod, "status", "message"));
    record("Warning", "Failed", why.empty() ? "The pod failed" : why, "kubelet");
  }
  const bool terminating = !Field(pod, "metadata", "deletionTimestamp").is_null();
  const bool was_terminating =
      !added && !Field(previous, "metadata", "deletionTimestamp").is_null();
  if (terminating && !was_terminating) {
    for (const std::string& c : ContainerNames(pod)) {
      record("Normal", "Killing", absl::StrCat("Stopping container ", c), "kubelet", c);
    }
  }
  if (!added && !terminating && phase == "Running" && ReadyStatus(previous) == "True" &&
      ReadyStatus(pod) == "False") {
    const std::string why = ReadyMessage(pod);
    record("Warning", "Unhealthy",
           why.empty() ? "Readiness probe failed" : absl::StrCat("Readiness probe failed: ", why),
           "kubelet");
  }
}

}  // namespace fakek8s
