#include "fakek8s/object_store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
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

// The QoS class of a pod, from its containers' requests and limits: BestEffort
// with none, Guaranteed when every container limits cpu and memory and
// requests (if set) equal the limits, Burstable otherwise.
std::string QosClass(const json& spec) {
  bool any = false;
  bool guaranteed = true;
  for (const char* list : {"containers", "initContainers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const json& c : spec[list]) {
      const json resources = c.is_object() ? c.value("resources", json::object()) : json::object();
      const json limits = resources.value("limits", json::object());
      const json requests = resources.value("requests", json::object());
      for (const char* r : {"cpu", "memory"}) {
        const bool limited = limits.is_object() && limits.contains(r);
        const bool requested = requests.is_object() && requests.contains(r);
        if (limited || requested) any = true;
        if (!limited || (requested && requests[r] != limits[r])) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void SetIfAbsent(json& object, const char* key, json value) {
  if (!object.contains(key) || object[key].is_null()) object[key] = std::move(value);
}

void DefaultPod(json& pod, const json* old) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) pod["spec"] = json::object();
  json& spec = pod["spec"];
  SetIfAbsent(spec, "restartPolicy", "Always");
  SetIfAbsent(spec, "dnsPolicy", "ClusterFirst");
  SetIfAbsent(spec, "schedulerName", "default-scheduler");
  SetIfAbsent(spec, "terminationGracePeriodSeconds", 30);
  SetIfAbsent(spec, "enableServiceLinks", true);
  SetIfAbsent(spec, "securityContext", json::object());
  SetIfAbsent(spec, "serviceAccountName", "default");
  for (const char* list : {"containers", "initContainers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (json& c : spec[list]) {
      if (!c.is_object()) continue;
      SetIfAbsent(c, "terminationMessagePath", "/dev/termination-log");
      SetIfAbsent(c, "terminationMessagePolicy", "File");
      SetIfAbsent(c, "resources", json::object());
      if (c.contains("image") && c["image"].is_string() && !c.contains("imagePullPolicy")) {
        // As the real defaulting: the latest tag (or none) is pulled always.
        const std::string image = c["image"].get<std::string>();
        const size_t slash = image.rfind('/');
        const size_t colon = image.rfind(':');
        const bool tagged = colon != std::string::npos &&
                            (slash == std::string::npos || colon > slash) &&
                            image.substr(colon + 1) != "latest";
        c["imagePullPolicy"] = tagged || absl::StrContains(image, '@') ? "IfNotPresent" : "Always";
      }
      if (c.contains("ports") && c["ports"].is_array()) {
        for (json& port : c["ports"]) {
          if (port.is_object()) SetIfAbsent(port, "protocol", "TCP");
        }
      }
    }
  }
  if (!pod.contains("status") || !pod["status"].is_object()) pod["status"] = json::object();
  json& status = pod["status"];
  SetIfAbsent(status, "phase", "Pending");
  if (!status.contains("qosClass")) {
    // Set at creation and kept: a pod's QoS class never changes.
    const bool had = old != nullptr && old->contains("status") && (*old)["status"].is_object() &&
                     (*old)["status"].contains("qosClass");
    status["qosClass"] = had ? (*old)["status"]["qosClass"] : json(QosClass(spec));
  }
}

bool IsReconciled(Resource r) {
  return r == Resource::kNamespaces || r == Resource::kServices || r == Resource::kPods ||
         r == Resource::kNodes;
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
  for (const std::string& ns : namespaces) {
    reconciler_(txn, Change{Resource::kNamespaces, ns, "", nullptr, nullptr});
  }
  --reconcile_depth_;
}

void ObjectStore::AddObserver(Observer observer) {
  absl::MutexLock lock(&mu_);
  observers_.push_back(std::move(observer));
}

void ObjectStore::Transact(const std::function<void(Transaction&)>& fn) {
  absl::MutexLock lock(&mu_);
  ++observe_depth_;
  Transaction txn(this);
  fn(txn);
  --observe_depth_;
}

std::string ObjectStore::AllocateClusterIpLocked() {
  std::set<std::string> used = {"10.96.0.1"};  // a real cluster's `kubernetes` Service
  for (const auto& [key, service] : objects_[static_cast<int>(Resource::kServices)]) {
    const json& spec = service.value("spec", json::object());
    if (spec.is_object() && spec.contains("clusterIP") && spec["clusterIP"].is_string()) {
      used.insert(spec["clusterIP"].get<std::string>());
    }
  }
  // 10.96.0.0/12, as kubeadm's default service range; never dialled by anything
  // here: a Service's virtual IP is only a field.
  while (true) {
    const uint32_t offset = 2 + static_cast<uint32_t>(rng_() % ((1u << 20) - 3));
    const uint32_t ip = (10u << 24) | (96u << 16) | offset;
    std::string text =
        absl::StrFormat("%d.%d.%d.%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    if (used.count(text) == 0) return text;
  }
}

absl::Status ObjectStore::DefaultLocked(Resource resource, json& object, const json* old) {
  if (resource == Resource::kPods) {
    DefaultPod(object, old);
    return absl::OkStatus();
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
  if (resource != Resource::kServices) return absl::OkStatus();
  if (!object.contains("spec") || !object["spec"].is_object()) object["spec"] = json::object();
  json& spec = object["spec"];
  const json old_spec = old != nullptr && old->contains("spec") && (*old)["spec"].is_object()
                            ? (*old)["spec"]
                            : json::object();
  SetIfAbsent(spec, "type", "ClusterIP");
  SetIfAbsent(spec, "sessionAffinity", "None");
  const std::string type = spec["type"].is_string() ? spec["type"].get<std::string>() : "";
  const std::string name = MetaString(object, "name");
  if (type != "ExternalName") {
    const std::string old_ip = old_spec.value("clusterIP", "");
    std::string ip = spec.contains("clusterIP") && spec["clusterIP"].is_string()
                         ? spec["clusterIP"].get<std::string>()
                         : "";
    if (ip.empty()) ip = old_ip;  // an update that leaves it out keeps it
    if (!old_ip.empty() && ip != old_ip) {
      return Invalid("Service", name,
                     absl::StrCat("spec.clusterIPs[0]: Invalid value: \"", ip,
                                  "\": may not change once set (it is \"", old_ip, "\")"));
    }
    if (ip.empty()) ip = AllocateClusterIpLocked();
    spec["clusterIP"] = ip;
    if (!spec.contains("clusterIPs") || !spec["clusterIPs"].is_array() ||
        spec["clusterIPs"].empty()) {
      spec["clusterIPs"] = json::array({ip});
    }
    SetIfAbsent(spec, "ipFamilies", json::array({"IPv4"}));
    SetIfAbsent(spec, "ipFamilyPolicy", "SingleStack");
    SetIfAbsent(spec, "internalTrafficPolicy", "Cluster");
  }
  const bool node_ports = type == "NodePort" || type == "LoadBalancer";
  if (node_ports) SetIfAbsent(spec, "externalTrafficPolicy", "Cluster");
  if (spec.contains("ports") && spec["ports"].is_array()) {
    std::set<int64_t> used;
    if (node_ports) {
      for (const auto& [key, service] : objects_[static_cast<int>(Resource::kServices)]) {
        const json& ports = service["spec"].value("ports", json::array());
        for (const json& p : ports) {
          if (p.is_object() && p.contains("nodePort") && p["nodePort"].is_number_integer()) {
            used.insert(p["nodePort"].get<int64_t>());
          }
        }
      }
    }
    for (json& port : spec["ports"]) {
      if (!port.is_object()) continue;
      if (!port.contains("protocol")) port["protocol"] = "TCP";
      if (!port.contains("targetPort") && port.contains("port")) port["targetPort"] = port["port"];
      if (!node_ports || port.contains("nodePort")) continue;
      // Keep the node port an update leaves out, else allocate one (30000-32767).
      for (const json& o : old_spec.value("ports", json::array())) {
        if (o.is_object() && o.value("port", -1) == port.value("port", -2) &&
            o.contains("nodePort")) {
          port["nodePort"] = o["nodePort"];
        }
      }
      while (!port.contains("nodePort")) {
        const int64_t candidate = 30000 + static_cast<int64_t>(rng_() % 2768);
        if (used.insert(candidate).second) port["nodePort"] = candidate;
      }
    }
  }
  return absl::OkStatus();
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

  if (absl::Status s = DefaultLocked(resource, object, nullptr); !s.ok()) return s;
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

  if (absl::Status s = DefaultLocked(resource, object, &old); !s.ok()) return s;
  object["kind"] = info.kind;
  object["apiVersion"] = info.ApiVersion();
  json& meta = object["metadata"];
  if (!info.namespaced) meta.erase("namespace");
  // An update that leaves managedFields out keeps them, as the real server does.
  if (!meta.contains("managedFields") && old["metadata"].contains("managedFields")) {
    meta["managedFields"] = old["metadata"]["managedFields"];
  }
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
    for (Resource r : {Resource::kServices, Resource::kPods, Resource::kEndpointSlices,
                       Resource::kEndpoints, Resource::kEvents}) {
      std::vector<std::string> names;
      auto& in = objects_[static_cast<int>(r)];
      for (auto o = in.lower_bound({name, ""}); o != in.end() && o->first.first == name; ++o) {
        names.push_back(o->first.second);
      }
      for (const std::string& n : names) (void)DeleteLocked(r, name, n);
    }
    it = objects.find({"", name});
  }
  json previous = std::move(it->second);
  objects.erase(it);
  json object = previous;
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  // The history keeps the state before the deletion too: lists at an older
  // resourceVersion are rebuilt from it.
  CommitLocked(resource, "DELETED", object, std::move(previous));
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
  if (!observers_.empty() && observe_depth_ == 0) {
    ++observe_depth_;
    Transaction txn(this);
    for (const Observer& observer : observers_) {
      observer(txn, resource, type, object, event->previous);
    }
    --observe_depth_;
  }
  if (reconciler_ && IsReconciled(resource) && reconcile_depth_ == 0) {
    ++reconcile_depth_;
    Transaction txn(this);
    reconciler_(txn, Change{resource,
                            event->ns.empty() && resource == Resource::kNamespaces
                                ? MetaString(object, "name")
                                : event->ns,
                            type, &object, type == "ADDED" ? nullptr : &event->previous});
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
  ListOptions options;
  options.labels = labels;
  options.fields = fields;
  absl::StatusOr<ListResult> result = ListAtLocked(resource, ns, options, rv_, nullptr);
  return result.ok() ? *std::move(result) : ListResult{{}, std::to_string(rv_)};
}

namespace {

// Continue tokens: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"ns/name"},
// the shape the real server uses; clients treat it as opaque.
std::string EncodeContinue(uint64_t rv, const std::string& ns, const std::string& name) {
  json token = {{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", absl::StrCat(ns, "/", name)}};
  return absl::WebSafeBase64Escape(token.dump());
}

absl::Status BadContinue(absl::string_view why) {
  return BadRequest(absl::StrCat("continue key is not valid: ", why));
}

absl::Status DecodeContinue(const std::string& text, uint64_t* rv, std::string* ns,
                            std::string* name) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw) && !absl::Base64Unescape(text, &raw)) {
    return BadContinue("not base64");
  }
  json token = json::parse(raw, nullptr, false);
  if (!token.is_object() || token.value("v", "") != "meta.k8s.io/v1" || !token.contains("rv") ||
      !token["rv"].is_number_unsigned() || !token.contains("start") ||
      !token["start"].is_string()) {
    return BadContinue("not a continue token of this server");
  }
  *rv = token["rv"].get<uint64_t>();
  const std::string start = token["start"].get<std::string>();
  const size_t slash = start.find('/');
  if (*rv == 0 || slash == std::string::npos) return BadContinue("malformed");
  *ns = start.substr(0, slash);
  *name = start.substr(slash + 1);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ObjectStore::ListResult> ObjectStore::List(Resource resource, const std::string& ns,
                                                          const ListOptions& options) {
  absl::MutexLock lock(&mu_);
  const std::string& rv_text = options.resource_version;
  const std::string& match = options.resource_version_match;
  if (options.limit < 0) return BadRequest("limit: Invalid value: must not be negative");
  if (!options.continue_token.empty()) {
    if ((!rv_text.empty() && rv_text != "0") || !match.empty()) {
      return BadRequest(
          "specifying resourceVersion or resourceVersionMatch is not allowed when using "
          "continue");
    }
    uint64_t at = 0;
    Key start;
    if (absl::Status s = DecodeContinue(options.continue_token, &at, &start.first, &start.second);
        !s.ok()) {
      return s;
    }
    if (at > rv_) return BadContinue("its resourceVersion is in the future");
    if (at < oldest_resumable_rv_) {
      return Expired(
          absl::StrCat("the continue token is too old (resourceVersion ", at, ", history from ",
                       oldest_resumable_rv_,
                       "): the rest of that list can no longer be given consistently; list again"));
    }
    return ListAtLocked(resource, ns, options, at, &start);
  }
  if (!match.empty() && match != "Exact" && match != "NotOlderThan") {
    return BadRequest(absl::StrCat("resourceVersionMatch: Unsupported value: \"", match,
                                   "\": supported values: \"Exact\", \"NotOlderThan\""));
  }
  if (!match.empty() && rv_text.empty()) {
    return BadRequest(
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
        "resourceVersion is provided");
  }
  if (match == "Exact" && rv_text == "0") {
    return BadRequest(
        "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is "
        "forbidden for resourceVersion \"0\"");
  }
  if (rv_text.empty() || rv_text == "0") return ListAtLocked(resource, ns, options, rv_, nullptr);
  uint64_t want = 0;
  if (!absl::SimpleAtoi(rv_text, &want)) {
    return BadRequest(absl::StrCat("invalid resource version \"", rv_text,
                                   "\": resource versions are numbers here"));
  }
  if (want > rv_) {
    // As the real server's cache does: wait a little for the store to catch up.
    auto reached = [this, want]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return rv_ >= want; };
    mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(3));
    if (want > rv_) {
      return WithDetails(
          ApiError(504, "Timeout",
                   absl::StrCat("Too large resource version: ", want, ", current: ", rv_)),
          {{"causes", json::array({{{"reason", "ResourceVersionTooLarge"},
                                    {"message", "Too large resource version"}}})},
           {"retryAfterSeconds", 1}});
    }
  }
  if (match != "Exact") return ListAtLocked(resource, ns, options, rv_, nullptr);
  if (want < oldest_resumable_rv_) {
    return Expired(
        absl::StrCat("too old resource version: ", want, " (", oldest_resumable_rv_, ")"));
  }
  return ListAtLocked(resource, ns, options, want, nullptr);
}

absl::StatusOr<ObjectStore::ListResult> ObjectStore::ListAtLocked(Resource resource,
                                                                  const std::string& ns,
                                                                  const ListOptions& options,
                                                                  uint64_t at_rv,
                                                                  const Key* start_after) {
  const auto& objects = objects_[static_cast<int>(resource)];
  // The state at `at_rv`: the current objects, with each one written since
  // replaced by what it was then (the first event after at_rv says: absent
  // before an ADDED, `previous` before a MODIFIED or DELETED).
  std::map<Key, const json*> then;  // nullptr: did not exist at at_rv
  if (at_rv < rv_) {
    auto first = std::lower_bound(
        history_.begin(), history_.end(), at_rv + 1,
        [](const std::shared_ptr<const StoredEvent>& e, uint64_t rv) { return e->rv < rv; });
    for (auto it = first; it != history_.end(); ++it) {
      const StoredEvent& e = **it;
      if (e.resource != resource || e.type == "BOOKMARK") continue;
      Key key{e.ns, MetaString(e.object, "name")};
      if (then.count(key) > 0) continue;
      then[key] = e.type == "ADDED" ? nullptr : &e.previous;
    }
  }
  const bool selecting = !options.labels.empty() || !options.fields.empty();
  auto wanted = [&](const Key& key, const json& object) {
    if (!ns.empty() && key.first != ns) return false;
    if (!selecting) return true;
    const json& meta = object["metadata"];
    return options.labels.Matches(meta.contains("labels") ? meta["labels"] : json()) &&
           options.fields.Matches(object);
  };
  ListResult result;
  result.resource_version = std::to_string(at_rv);
  const size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : 0;
  int64_t remaining = 0;
  bool more = false;
  Key last;
  // Walk the union of current keys and rewritten keys in order.
  auto cur = start_after == nullptr ? objects.begin() : objects.upper_bound(*start_after);
  auto old = start_after == nullptr ? then.begin() : then.upper_bound(*start_after);
  if (!ns.empty()) {
    const Key from{ns, ""};
    if (cur != objects.end() && cur->first < from) cur = objects.lower_bound(from);
    if (old != then.end() && old->first < from) old = then.lower_bound(from);
  }
  while (cur != objects.end() || old != then.end()) {
    const Key* key;
    const json* object;
    if (old == then.end() || (cur != objects.end() && cur->first < old->first)) {
      key = &cur->first;
      object = &cur->second;
      ++cur;
    } else {
      if (cur != objects.end() && cur->first == old->first) ++cur;  // rewritten
      key = &old->first;
      object = old->second;
      ++old;
    }
    if (!ns.empty() && key->first != ns) break;  // sorted by namespace first
    if (object == nullptr || !wanted(*key, *object)) continue;
    if (limit > 0 && result.items.size() == limit) {
      more = true;
      if (selecting) break;  // the count is given only for lists without a selector
      ++remaining;
      continue;
    }
    result.items.push_back(*object);
    last = *key;
  }
  if (more) {
    result.continue_token = EncodeContinue(at_rv, last.first, last.second);
    if (!selecting) result.remaining_item_count = remaining;
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
