#include "fakek8s/object_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fakek8s/api_errors.h"

namespace fakek8s {

struct ObjectStore::StoredEvent {
  uint64_t rv;
  Resource resource;
  std::string ns;
  std::string type;  // ADDED, MODIFIED, DELETED, or BOOKMARK (initial-events end)
  json object;
  json previous;     // the state before a MODIFIED; null otherwise
  size_t bytes = 0;  // about how much memory object and previous hold
};

namespace {

// About how many bytes `j` holds (strings, keys, and a node's overhead).
size_t ApproxBytes(const json& j) {
  size_t n = 16;
  if (j.is_string()) {
    n += j.get_ref<const std::string&>().size();
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) n += key.size() + ApproxBytes(value);
  } else if (j.is_array()) {
    for (const json& v : j) n += ApproxBytes(v);
  }
  return n;
}

}  // namespace

struct ObjectStore::Watch::State {
  State(Resource r, WatchOptions o, uint64_t min, size_t backlog)
      : resource(r), options(std::move(o)), min_rv(min), max_backlog(backlog) {}

  // Queues `event` unless the watch is closed; closes it if too far behind.
  void Push(std::shared_ptr<const StoredEvent> event) {
    absl::MutexLock lock(&mu);
    if (closed || event->rv <= min_rv) return;
    if (queue.size() >= max_backlog) {
      CloseLocked("watch closed: the client is too slow to keep up");
      return;
    }
    queue.push_back(std::move(event));
  }
  void CloseLocked(std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (closed) return;
    closed = true;
    close_reason = std::move(reason);
    queue.clear();
  }
  bool Wanted(Resource r, const std::string& ns) const {
    return r == resource && (options.namespace_.empty() || options.namespace_ == ns);
  }
  bool Matches(const json& object) const {
    static const json kNull;
    const json& labels =
        object.contains("metadata") ? object["metadata"].value("labels", kNull) : kNull;
    return options.labels.Matches(labels) && options.fields.Matches(object);
  }

  const Resource resource;
  const WatchOptions options;
  const uint64_t min_rv;  // events at or below this RV are not delivered
  const size_t max_backlog;
  absl::Mutex mu;
  std::deque<std::shared_ptr<const StoredEvent>> queue ABSL_GUARDED_BY(mu);
  uint64_t progress_rv ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu) = false;
  std::string close_reason ABSL_GUARDED_BY(mu);
};

namespace {

bool IsDns1123Subdomain(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return absl::ascii_isalnum(static_cast<unsigned char>(name.front())) &&
         absl::ascii_isalnum(static_cast<unsigned char>(name.back()));
}

std::string MetaString(const json& object, const char* field) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

// Server-side defaults the real API server applies on write.
void ApplyDefaults(Resource resource, json& object) {
  if (resource == Resource::kServices && object.contains("spec") && object["spec"].is_object()) {
    json& spec = object["spec"];
    if (!spec.contains("type")) spec["type"] = "ClusterIP";
    if (spec.contains("ports") && spec["ports"].is_array()) {
      for (json& port : spec["ports"]) {
        if (!port.is_object()) continue;
        if (!port.contains("protocol")) port["protocol"] = "TCP";
        if (!port.contains("targetPort") && port.contains("port")) {
          port["targetPort"] = port["port"];
        }
      }
    }
  }
  if (resource == Resource::kNamespaces && !object.contains("status")) {
    object["status"] = {{"phase", "Active"}};
  }
  if (resource == Resource::kEndpointSlices) {
    // A Go server may write null; fakek8s writes [] (older python clients crash
    // on null).
    if (!object.contains("endpoints") || object["endpoints"].is_null()) {
      object["endpoints"] = json::array();
    }
    if (!object.contains("ports") || object["ports"].is_null()) {
      object["ports"] = json::array();
    }
  }
}

bool IsReconciled(Resource r) {
  return r == Resource::kNamespaces || r == Resource::kServices || r == Resource::kPods;
}

}  // namespace

// --- Watch -------------------------------------------------------------------

ObjectStore::Watch::~Watch() {
  absl::MutexLock lock(&state_->mu);
  state_->CloseLocked("watch ended by the client");
}

ObjectStore::Watch::Result ObjectStore::Watch::Next(absl::Duration timeout, WatchEvent* event) {
  const absl::Time deadline = absl::Now() + timeout;
  State& s = *state_;
  while (true) {
    std::shared_ptr<const StoredEvent> raw;
    {
      absl::MutexLock lock(&s.mu);
      auto ready = [&s]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return !s.queue.empty() || s.closed; };
      s.mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
      if (s.closed) return Result::kClosed;
      if (s.queue.empty()) return Result::kTimeout;
      raw = std::move(s.queue.front());
      s.queue.pop_front();
    }
    if (raw->type == "BOOKMARK") {
      *event = {raw->type, raw->object};
      return Result::kEvent;
    }
    const bool now_matches = s.Matches(raw->object);
    if (raw->type == "ADDED" || raw->type == "DELETED") {
      if (!now_matches) continue;
      *event = {raw->type, raw->object};
      return Result::kEvent;
    }
    const bool before_matched = s.Matches(raw->previous);
    if (before_matched && now_matches) {
      *event = {"MODIFIED", raw->object};
    } else if (now_matches) {
      *event = {"ADDED", raw->object};
    } else if (before_matched) {
      // Stopped matching: the client sees it leave, with the last matching state.
      json gone = raw->previous;
      gone["metadata"]["resourceVersion"] = std::to_string(raw->rv);
      *event = {"DELETED", std::move(gone)};
    } else {
      continue;
    }
    return Result::kEvent;
  }
}

std::string ObjectStore::Watch::ProgressResourceVersion() {
  absl::MutexLock lock(&state_->mu);
  if (!state_->queue.empty() || state_->progress_rv == 0) return "";
  return std::to_string(state_->progress_rv);
}

std::string ObjectStore::Watch::CloseReason() {
  absl::MutexLock lock(&state_->mu);
  return state_->close_reason;
}

// --- Transaction -------------------------------------------------------------

const json* ObjectStore::Transaction::Get(Resource resource, const std::string& ns,
                                          const std::string& name) {
  store_->mu_.AssertHeld();
  const auto& objects = store_->objects_[static_cast<int>(resource)];
  auto it = objects.find({ns, name});
  return it == objects.end() ? nullptr : &it->second;
}

std::vector<const json*> ObjectStore::Transaction::List(Resource resource, const std::string& ns) {
  store_->mu_.AssertHeld();
  std::vector<const json*> out;
  const auto& objects = store_->objects_[static_cast<int>(resource)];
  for (auto it = objects.lower_bound({ns, ""}); it != objects.end() && it->first.first == ns;
       ++it) {
    out.push_back(&it->second);
  }
  return out;
}

absl::StatusOr<json> ObjectStore::Transaction::Create(Resource resource, json object) {
  store_->mu_.AssertHeld();
  return store_->CreateLocked(resource, std::move(object));
}

absl::StatusOr<json> ObjectStore::Transaction::Update(Resource resource, json object) {
  store_->mu_.AssertHeld();
  return store_->UpdateLocked(resource, std::move(object));
}

absl::Status ObjectStore::Transaction::Delete(Resource resource, const std::string& ns,
                                              const std::string& name) {
  store_->mu_.AssertHeld();
  return store_->DeleteLocked(resource, ns, name).status();
}

std::string ObjectStore::Transaction::RandomSuffix() {
  store_->mu_.AssertHeld();
  return store_->RandomSuffixLocked();
}

// --- ObjectStore ---------------------------------------------------------------

ObjectStore::ObjectStore() : ObjectStore(Options()) {}

ObjectStore::ObjectStore(Options options) : options_(std::move(options)), rng_(options_.seed) {
  absl::MutexLock lock(&mu_);
  for (const char* ns : {"default", "kube-system"}) {
    (void)CreateLocked(Resource::kNamespaces, {{"metadata", {{"name", ns}}}});
  }
}

ObjectStore::~ObjectStore() { CloseAllWatches("the API server is shutting down"); }

void ObjectStore::SetReconciler(Reconciler reconciler) {
  absl::MutexLock lock(&mu_);
  reconciler_ = std::move(reconciler);
  std::vector<std::string> namespaces;
  for (const auto& [key, ns] : objects_[static_cast<int>(Resource::kNamespaces)]) {
    namespaces.push_back(key.second);
  }
  ++reconcile_depth_;
  Transaction txn(this);
  for (const std::string& ns : namespaces) reconciler_(txn, Resource::kNamespaces, ns);
  --reconcile_depth_;
}

std::string ObjectStore::NowRfc3339() const {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", options_.now(), absl::UTCTimeZone());
}

std::string ObjectStore::NewUidLocked() {
  uint64_t hi = rng_();
  uint64_t lo = rng_();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

std::string ObjectStore::RandomSuffixLocked() {
  // The alphabet Kubernetes uses for generated names (no vowels, no 0/1/3).
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix.push_back(kAlphabet[rng_() % 27]);
  return suffix;
}

absl::StatusOr<json> ObjectStore::Create(Resource resource, json object) {
  absl::MutexLock lock(&mu_);
  return CreateLocked(resource, std::move(object));
}

absl::StatusOr<json> ObjectStore::CreateLocked(Resource resource, json object) {
  const ResourceInfo& info = Info(resource);
  if (!object.is_object()) {
    return BadRequest(absl::StrCat("the body of a ", info.kind, " must be a JSON object"));
  }
  if (!object.contains("metadata")) object["metadata"] = json::object();
  if (!object["metadata"].is_object()) return BadRequest("metadata must be a JSON object");
  json& meta = object["metadata"];
  std::string name = MetaString(object, "name");
  const std::string generate = MetaString(object, "generateName");
  if (name.empty() && !generate.empty()) {
    auto& objects = objects_[static_cast<int>(resource)];
    const std::string ns = MetaString(object, "namespace");
    do {
      name = generate + RandomSuffixLocked();
    } while (objects.count({ns, name}) > 0);
    meta["name"] = name;
  }
  if (name.empty()) {
    return Invalid(info.kind, "",
                   "metadata.name: Required value: name or generateName is required");
  }
  if (!IsDns1123Subdomain(name)) {
    return Invalid(info.kind, name,
                   absl::StrCat("metadata.name: Invalid value: \"", name,
                                "\": a lowercase RFC 1123 subdomain must consist of "
                                "lower case alphanumeric characters, '-' or '.', and "
                                "must start and end with an alphanumeric character"));
  }
  std::string ns;
  if (info.namespaced) {
    ns = MetaString(object, "namespace");
    if (ns.empty()) {
      return Invalid(info.kind, name, "metadata.namespace: Required value");
    }
    if (objects_[static_cast<int>(Resource::kNamespaces)].count({"", ns}) == 0) {
      return NotFound("namespaces", ns);
    }
  } else {
    meta.erase("namespace");
  }
  auto& objects = objects_[static_cast<int>(resource)];
  if (objects.count({ns, name}) > 0) return AlreadyExists(info.QualifiedName(), name);

  ApplyDefaults(resource, object);
  object["kind"] = info.kind;
  object["apiVersion"] = info.ApiVersion();
  meta["uid"] = NewUidLocked();
  meta["creationTimestamp"] = NowRfc3339();
  meta["resourceVersion"] = std::to_string(++rv_);
  objects[{ns, name}] = object;
  CommitLocked(resource, "ADDED", object, nullptr);
  return object;
}

absl::StatusOr<json> ObjectStore::Update(Resource resource, json object) {
  absl::MutexLock lock(&mu_);
  return UpdateLocked(resource, std::move(object));
}

absl::StatusOr<json> ObjectStore::UpdateLocked(Resource resource, json object) {
  const ResourceInfo& info = Info(resource);
  if (!object.is_object()) {
    return BadRequest(absl::StrCat("the body of a ", info.kind, " must be a JSON object"));
  }
  const std::string name = MetaString(object, "name");
  const std::string ns = info.namespaced ? MetaString(object, "namespace") : "";
  auto& objects = objects_[static_cast<int>(resource)];
  auto it = objects.find({ns, name});
  if (it == objects.end()) return NotFound(info.QualifiedName(), name);
  const json& old = it->second;
  const std::string want_rv = MetaString(object, "resourceVersion");
  const std::string old_rv = MetaString(old, "resourceVersion");
  if (!want_rv.empty() && want_rv != old_rv) return Conflict(info.QualifiedName(), name);

  ApplyDefaults(resource, object);
  object["kind"] = info.kind;
  object["apiVersion"] = info.ApiVersion();
  json& meta = object["metadata"];
  if (!info.namespaced) meta.erase("namespace");
  for (const char* kept : {"uid", "creationTimestamp", "generateName"}) {
    if (old["metadata"].contains(kept)) {
      meta[kept] = old["metadata"][kept];
    } else {
      meta.erase(kept);
    }
  }
  meta["resourceVersion"] = old_rv;
  if (object == old) return old;  // nothing changed: no new resourceVersion
  meta["resourceVersion"] = std::to_string(++rv_);
  json previous = std::move(it->second);
  it->second = object;
  CommitLocked(resource, "MODIFIED", object, std::move(previous));
  return object;
}

absl::StatusOr<json> ObjectStore::Mutate(Resource resource, const std::string& ns,
                                         const std::string& name,
                                         const std::function<absl::Status(json&)>& mutate) {
  absl::MutexLock lock(&mu_);
  const ResourceInfo& info = Info(resource);
  auto& objects = objects_[static_cast<int>(resource)];
  auto it = objects.find({info.namespaced ? ns : "", name});
  if (it == objects.end()) return NotFound(info.QualifiedName(), name);
  json copy = it->second;
  if (absl::Status s = mutate(copy); !s.ok()) return s;
  if (!copy.is_object() || !copy.contains("metadata") || !copy["metadata"].is_object()) {
    return BadRequest(absl::StrCat("a ", info.kind, " must stay a JSON object with metadata"));
  }
  // The target is fixed by the arguments, whatever `mutate` did to metadata.
  copy["metadata"]["name"] = name;
  if (info.namespaced) copy["metadata"]["namespace"] = ns;
  copy["metadata"]["resourceVersion"] = it->second["metadata"]["resourceVersion"];
  return UpdateLocked(resource, std::move(copy));
}

absl::StatusOr<json> ObjectStore::Delete(Resource resource, const std::string& ns,
                                         const std::string& name) {
  absl::MutexLock lock(&mu_);
  return DeleteLocked(resource, ns, name);
}

absl::StatusOr<json> ObjectStore::DeleteLocked(Resource resource, const std::string& ns,
                                               const std::string& name) {
  const ResourceInfo& info = Info(resource);
  auto& objects = objects_[static_cast<int>(resource)];
  auto it = objects.find({info.namespaced ? ns : "", name});
  if (it == objects.end()) return NotFound(info.QualifiedName(), name);
  if (resource == Resource::kNamespaces) {
    // Everything in the namespace goes first, as the namespace controller does.
    // Services first: the controller then removes their slices and Endpoints.
    for (Resource r :
         {Resource::kServices, Resource::kPods, Resource::kEndpointSlices, Resource::kEndpoints}) {
      std::vector<std::string> names;
      auto& in = objects_[static_cast<int>(r)];
      for (auto o = in.lower_bound({name, ""}); o != in.end() && o->first.first == name; ++o) {
        names.push_back(o->first.second);
      }
      for (const std::string& n : names) (void)DeleteLocked(r, name, n);
    }
    it = objects.find({"", name});
  }
  json object = std::move(it->second);
  objects.erase(it);
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  CommitLocked(resource, "DELETED", object, nullptr);
  return object;
}

void ObjectStore::CommitLocked(Resource resource, const std::string& type, const json& object,
                               json previous) {
  const size_t bytes = ApproxBytes(object) + ApproxBytes(previous);
  auto event = std::make_shared<const StoredEvent>(StoredEvent{
      rv_, resource, MetaString(object, "namespace"), type, object, std::move(previous), bytes});
  history_.push_back(event);
  history_bytes_ += bytes;
  while (!history_.empty() && (history_.size() > options_.history_limit ||
                               history_bytes_ > options_.history_bytes_limit)) {
    oldest_resumable_rv_ = history_.front()->rv;
    history_bytes_ -= history_.front()->bytes;
    history_.pop_front();
  }
  // Feed open watches; forget the ones that were closed.
  auto open_end =
      std::remove_if(watches_.begin(), watches_.end(), [&](const std::shared_ptr<Watch::State>& w) {
        absl::MutexLock lock(&w->mu);
        return w->closed;
      });
  watches_.erase(open_end, watches_.end());
  for (const std::shared_ptr<Watch::State>& w : watches_) {
    if (w->Wanted(resource, event->ns)) w->Push(event);
    absl::MutexLock lock(&w->mu);
    w->progress_rv = rv_;
  }
  if (reconciler_ && IsReconciled(resource) && reconcile_depth_ == 0) {
    ++reconcile_depth_;
    Transaction txn(this);
    reconciler_(txn, resource,
                event->ns.empty() && resource == Resource::kNamespaces ? MetaString(object, "name")
                                                                       : event->ns);
    --reconcile_depth_;
  }
}

absl::StatusOr<json> ObjectStore::Get(Resource resource, const std::string& ns,
                                      const std::string& name) {
  absl::MutexLock lock(&mu_);
  const ResourceInfo& info = Info(resource);
  const auto& objects = objects_[static_cast<int>(resource)];
  auto it = objects.find({info.namespaced ? ns : "", name});
  if (it == objects.end()) return NotFound(info.QualifiedName(), name);
  return it->second;
}

ObjectStore::ListResult ObjectStore::List(Resource resource, const std::string& ns,
                                          const LabelSelector& labels,
                                          const FieldSelector& fields) {
  absl::MutexLock lock(&mu_);
  ListResult result;
  result.resource_version = std::to_string(rv_);
  const auto& objects = objects_[static_cast<int>(resource)];
  for (const auto& [key, object] : objects) {
    if (!ns.empty() && key.first != ns) continue;
    const json& meta = object["metadata"];
    if (!labels.Matches(meta.contains("labels") ? meta["labels"] : json())) continue;
    if (!fields.Matches(object)) continue;
    result.items.push_back(object);
  }
  return result;
}

absl::StatusOr<std::unique_ptr<ObjectStore::Watch>> ObjectStore::StartWatch(Resource resource,
                                                                            WatchOptions options) {
  absl::MutexLock lock(&mu_);
  const bool from_now = options.from_rv.empty() || options.from_rv == "0";
  uint64_t from = 0;
  if (!from_now && !absl::SimpleAtoi(options.from_rv, &from)) {
    return BadRequest(absl::StrCat("invalid resource version \"", options.from_rv,
                                   "\": resource versions are numbers here"));
  }
  if (!from_now && from < oldest_resumable_rv_) {
    return Expired(
        absl::StrCat("too old resource version: ", from, " (", oldest_resumable_rv_, ")"));
  }
  const bool initial = from_now || options.send_initial_events;
  auto state = std::make_shared<Watch::State>(resource, std::move(options), initial ? rv_ : from,
                                              options_.max_watch_backlog);
  {
    absl::MutexLock wlock(&state->mu);
    state->progress_rv = rv_;
    if (initial) {
      for (const auto& [key, object] : objects_[static_cast<int>(resource)]) {
        if (!state->Wanted(resource, key.first)) continue;
        state->queue.push_back(std::make_shared<const StoredEvent>(
            StoredEvent{rv_, resource, key.first, "ADDED", object, nullptr}));
      }
      if (state->options.send_initial_events) {
        json bookmark = {{"kind", Info(resource).kind},
                         {"apiVersion", Info(resource).ApiVersion()},
                         {"metadata",
                          {{"resourceVersion", std::to_string(rv_)},
                           {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
        state->queue.push_back(std::make_shared<const StoredEvent>(
            StoredEvent{rv_, resource, "", "BOOKMARK", std::move(bookmark), nullptr}));
      }
    } else {
      for (const auto& event : history_) {
        if (event->rv > from && state->Wanted(event->resource, event->ns)) {
          state->queue.push_back(event);
        }
      }
    }
  }
  watches_.push_back(state);
  return std::unique_ptr<Watch>(new Watch(std::move(state)));
}

std::string ObjectStore::CurrentResourceVersion() {
  absl::MutexLock lock(&mu_);
  return std::to_string(rv_);
}

void ObjectStore::Compact() {
  absl::MutexLock lock(&mu_);
  history_.clear();
  history_bytes_ = 0;
  oldest_resumable_rv_ = rv_;
}

void ObjectStore::CloseAllWatches(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Watch::State>& w : watches_) {
    absl::MutexLock wlock(&w->mu);
    w->CloseLocked(reason);
  }
  watches_.clear();
}

int ObjectStore::OpenWatchCount() {
  absl::MutexLock lock(&mu_);
  int open = 0;
  for (const std::shared_ptr<Watch::State>& w : watches_) {
    absl::MutexLock wlock(&w->mu);
    if (!w->closed) ++open;
  }
  return open;
}

}  // namespace fakek8s
