#include "kubegrpc/xds/ads_server.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "google/protobuf/any.pb.h"
#include "grpcpp/server_builder.h"
#include "kubegrpc/xds/resources.h"

namespace kubegrpc::xds {
namespace internal {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

// The types served, in the order a response of each is considered.
const char* const kTypes[] = {kListenerType, kRouteConfigType, kClusterType, kEndpointType};

bool Served(const std::string& type) {
  for (const char* t : kTypes) {
    if (type == t) return true;
  }
  return false;
}

// The Service a resource name of `type` stands for (routes are inline: none).
absl::StatusOr<ServiceTarget> TargetOf(const std::string& type, const std::string& name) {
  if (type == kListenerType) return ListenerTarget(name);
  if (type == kClusterType || type == kEndpointType) return ClusterTarget(name);
  return absl::InvalidArgumentError("kube-grpc xDS: route configurations are sent inline");
}

}  // namespace

class StreamCore;

// One Service's discovery, kept for the streams that need it; tells them when
// what it knows changes.
class ServiceWatch : public ServiceRegistry::Subscriber {
 public:
  enum class Existence { kUnknown, kExists, kMissing };
  struct State {
    Existence existence = Existence::kUnknown;
    bool synced = false;                     // a list succeeded
    std::shared_ptr<const EndpointSet> set;  // null until the first list is published
    // `set` as a packed ClusterLoadAssignment, built once per change for
    // every stream (null with `set`).
    std::shared_ptr<const google::protobuf::Any> endpoints;
    std::shared_ptr<const ServicePolicy> policy = std::make_shared<ServicePolicy>();
  };

  // `log` hears of annotations that cannot be used. A `refused` Service (a
  // namespace not served) does not exist for the streams, and is never watched.
  ServiceWatch(ServiceTarget target, std::function<void(const std::string&)> log,
               bool refused = false)
      : target_(std::move(target)), log_(std::move(log)) {
    if (refused) {
      state_.existence = Existence::kMissing;
      state_.synced = true;
    }
  }

  const ServiceTarget& target() const { return target_; }

  void Start(ServiceRegistry& registry) ABSL_LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<ServiceRegistry::Subscription> sub = registry.Subscribe(target_, this);
    {
      absl::MutexLock lock(&mu_);
      if (!stopped_) {
        subscription_ = std::move(sub);
        return;
      }
    }
    sub.reset();  // stopped while subscribing
  }
  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<ServiceRegistry::Subscription> sub;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      sub.swap(subscription_);
    }
    sub.reset();  // no callback after this
  }

  void AddListener(const std::shared_ptr<StreamCore>& stream) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    listeners_.push_back(stream);
  }
  void RemoveListener(const StreamCore* stream) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      std::shared_ptr<StreamCore> s = it->lock();
      it = (s == nullptr || s.get() == stream) ? listeners_.erase(it) : it + 1;
    }
  }

  State state() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return state_;
  }

  void OnEndpoints(const std::shared_ptr<const EndpointSet>& set, const EndpointDelta&) override {
    std::shared_ptr<google::protobuf::Any> endpoints;
    if (set != nullptr) {
      endpoints = std::make_shared<google::protobuf::Any>();
      endpoints->PackFrom(MakeLoadAssignment(target_, set.get()));
    }
    {
      absl::MutexLock lock(&mu_);
      state_.set = set;
      state_.endpoints = std::move(endpoints);
    }
    Notify();
  }
  void OnDiscoveryStatus(const DiscoveryStatus& status) override {
    Existence existence;
    const bool missing = status.last_error.code() == absl::StatusCode::kNotFound &&
                         status.last_error_at >= status.last_success_at;
    if (missing) {
      existence = Existence::kMissing;
    } else if (status.synced || status.errors > 0) {
      // Synced, or the API cannot be reached yet: served as existing, with
      // the endpoints known (none until discovery lists them).
      existence = Existence::kExists;
    } else {
      existence = Existence::kUnknown;
    }
    std::vector<std::string> errors;
    {
      absl::MutexLock lock(&mu_);
      const bool annotated = annotations_ != status.annotations;
      if (state_.existence == existence && state_.synced == status.synced && !annotated) return;
      state_.existence = existence;
      state_.synced = status.synced;
      if (annotated) {
        annotations_ = status.annotations;
        auto policy = std::make_shared<ServicePolicy>(PolicyFromAnnotations(annotations_));
        errors = policy->errors;
        state_.policy = std::move(policy);
      }
    }
    for (const std::string& e : errors) {
      if (log_) log_(absl::StrCat("kube-grpc xDS: Service ", target_.ToString(), ": ", e));
    }
    Notify();
  }

 private:
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);

  const ServiceTarget target_;
  const std::function<void(const std::string&)> log_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> annotations_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<ServiceRegistry::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<StreamCore>> listeners_ ABSL_GUARDED_BY(mu_);
};

class AdsStream;

// A stream's protocol state, shared with the watches it listens to (which
// hold it weakly); the reactor forwards gRPC's reactions here.
class StreamCore : public std::enable_shared_from_this<StreamCore> {
 public:
  StreamCore(AdsServer* server, AdsStream* reactor, std::string peer)
      : server_(server), peer_(std::move(peer)), reactor_(reactor) {}

  // A request arrived (gRPC's thread).
  void OnRequest(const DiscoveryRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  // A Service this stream follows changed (discovery's thread).
  void OnServiceChanged(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  // The previous write finished.
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // The client closed its side, or the call ended.
  void OnReadsDone() ABSL_LOCKS_EXCLUDED(mu_);
  // The call is over: no reactor any more; releases the Services.
  void Detach() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct TypeState {
    std::set<std::string> names;  // subscribed
    // The names that are targets, and their Services' keys.
    std::map<std::string, std::string> keys;
    // ClusterLoadAssignments: what each name carried last (a response need
    // carry only those that changed: absent ones are kept by the client).
    std::map<std::string, std::shared_ptr<const google::protobuf::Any>> sent_endpoints;
    std::string nonce;    // of the last response sent
    int64_t version = 0;  // of the last response sent
    std::string sent;     // its resources, serialized (to skip repeats)
    bool dirty = false;   // a response may be due
    bool force = false;   // due even if it would repeat the last one
  };

  // The Services `types_` names, by key.
  std::map<std::string, ServiceTarget> WantedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the watches held match the names; outside mu_ (Acquire may start
  // discovery, whose first callbacks come back here).
  void SyncServices() ABSL_LOCKS_EXCLUDED(mu_);
  // Builds the next due response into response_ and marks a write started;
  // false if none is due or a write is under way.
  bool NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enum class Built {
    kSend,        // `out` is the response to send
    kWait,        // a Service's existence is not known yet
    kNothingNew,  // it would repeat the last response, unasked
  };
  Built BuildLocked(const std::string& type, TypeState& t, DiscoveryResponse* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWrite() ABSL_LOCKS_EXCLUDED(mu_);

  AdsServer* const server_;
  const std::string peer_;  // the client's address, for logs
  mutable absl::Mutex mu_;
  AdsStream* reactor_ ABSL_GUARDED_BY(mu_);  // null once the call is over
  // The client's node id, from its first request (clients may send the node
  // only then); for logs.
  std::string node_ ABSL_GUARDED_BY(mu_);
  bool introduced_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, TypeState> types_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<ServiceWatch>> services_ ABSL_GUARDED_BY(mu_);
  int64_t nonces_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  DiscoveryResponse response_ ABSL_GUARDED_BY(mu_);  // the write under way
};

class AdsStream : public grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse> {
 public:
  AdsStream(AdsServer* server, std::string peer)
      : core_(std::make_shared<StreamCore>(server, this, std::move(peer))) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      core_->OnReadsDone();
      return;
    }
    core_->OnRequest(request_);
    StartRead(&request_);
  }
  void OnWriteDone(bool ok) override { core_->OnWriteDone(ok); }
  void OnDone() override {
    core_->Detach();
    delete this;
  }

 private:
  const std::shared_ptr<StreamCore> core_;
  DiscoveryRequest request_;
};

void ServiceWatch::Notify() {
  std::vector<std::shared_ptr<StreamCore>> streams;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& weak : listeners_) {
      if (std::shared_ptr<StreamCore> s = weak.lock()) streams.push_back(std::move(s));
    }
  }
  const std::string key = target_.ToString();
  for (const auto& s : streams) s->OnServiceChanged(key);
}

void StreamCore::OnRequest(const DiscoveryRequest& request) {
  server_->Count(&AdsServerStats::requests);
  {
    std::string opened;
    {
      absl::MutexLock lock(&mu_);
      if (!introduced_) {
        introduced_ = true;
        node_ = request.node().id();
        opened =
            absl::StrCat("kube-grpc xDS: stream from node \"", node_, "\" (", peer_, ") opened");
      }
    }
    if (!opened.empty()) server_->Log(opened);
  }
  const std::string& type = request.type_url();
  if (!Served(type)) {
    server_->Log(absl::StrCat("kube-grpc xDS: a request for type \"", type,
                              "\", which this server does not serve: ignored"));
    return;
  }
  bool names_changed = false;
  std::string nack;
  {
    absl::MutexLock lock(&mu_);
    TypeState& t = types_[type];
    if (!request.response_nonce().empty()) {
      if (request.response_nonce() != t.nonce) {
        server_->Count(&AdsServerStats::stale);
        return;  // answers an older response: ignored
      }
      if (request.has_error_detail()) {
        server_->Count(&AdsServerStats::nacks);
        // The client kept none of that response: the next one carries every
        // assignment again, not only those that change.
        t.sent_endpoints.clear();
        nack = absl::StrCat("kube-grpc xDS: client \"", node_, "\" rejected ", type, " version ",
                            t.version, " and keeps version \"", request.version_info(),
                            "\": ", request.error_detail().message());
      } else {
        server_->Count(&AdsServerStats::acks);
      }
    }
    std::set<std::string> names(request.resource_names().begin(), request.resource_names().end());
    if (names != t.names || request.response_nonce().empty()) {
      // New names, or the first request of this type: answer it.
      names_changed = names != t.names;
      if (names_changed) {
        t.keys.clear();
        for (const std::string& name : names) {
          absl::StatusOr<ServiceTarget> target = TargetOf(type, name);
          if (target.ok()) t.keys.emplace(name, target->ToString());
        }
      }
      t.names = std::move(names);
      t.dirty = true;
      t.force = true;
    }
  }
  if (!nack.empty()) server_->Log(nack);
  if (names_changed) SyncServices();
  StartWrite();
}

std::map<std::string, ServiceTarget> StreamCore::WantedLocked() const {
  std::map<std::string, ServiceTarget> wanted;
  for (const auto& [type, t] : types_) {
    for (const std::string& name : t.names) {
      absl::StatusOr<ServiceTarget> target = TargetOf(type, name);
      if (target.ok()) wanted.emplace(target->ToString(), *target);
    }
  }
  return wanted;
}

void StreamCore::SyncServices() {
  std::map<std::string, ServiceTarget> wanted;
  std::vector<std::shared_ptr<ServiceWatch>> leaving;
  {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr) return;
    wanted = WantedLocked();
    for (auto it = services_.begin(); it != services_.end();) {
      if (wanted.count(it->first) == 0) {
        leaving.push_back(std::move(it->second));
        it = services_.erase(it);
      } else {
        wanted.erase(it->first);  // held already
        ++it;
      }
    }
  }
  for (const auto& watch : leaving) {
    watch->RemoveListener(this);
    server_->Release(watch);
  }
  for (const auto& [key, target] : wanted) {
    std::shared_ptr<ServiceWatch> watch = server_->Acquire(target);
    if (watch == nullptr) continue;  // shutting down
    watch->AddListener(shared_from_this());
    bool keep = false;
    {
      absl::MutexLock lock(&mu_);
      if (reactor_ != nullptr && services_.count(key) == 0) {
        services_.emplace(key, watch);
        keep = true;
      }
    }
    if (!keep) {
      watch->RemoveListener(this);
      server_->Release(watch);
    }
  }
  // A response that waited for a Service being acquired is due again (the
  // watch may have learnt everything before this stream listened to it).
  absl::MutexLock lock(&mu_);
  for (auto& [type, t] : types_) t.dirty |= t.force;
}

void StreamCore::OnServiceChanged(const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr) return;
    for (auto& [type, t] : types_) {
      for (const auto& [name, name_key] : t.keys) {
        if (name_key == key) {
          t.dirty = true;
          break;
        }
      }
    }
  }
  StartWrite();
}

StreamCore::Built StreamCore::BuildLocked(const std::string& type, TypeState& t,
                                          DiscoveryResponse* out) {
  out->Clear();
  out->set_type_url(type);
  const bool endpoints = type == kEndpointType;
  std::map<std::string, std::shared_ptr<const google::protobuf::Any>> sent_endpoints;
  for (const std::string& name : t.names) {
    auto key = t.keys.find(name);
    if (key == t.keys.end()) continue;  // not a Service: never exists
    auto it = services_.find(key->second);
    if (it == services_.end()) return Built::kWait;  // being acquired
    const ServiceWatch::State state = it->second->state();
    if (endpoints) {
      if (state.existence == ServiceWatch::Existence::kMissing) continue;
      if (state.set != nullptr) {
        // Only what changed since this stream's last response, unless the
        // client asked (a new subscription): the same packed message for
        // every stream.
        auto sent = t.sent_endpoints.find(name);
        if (t.force || sent == t.sent_endpoints.end() || sent->second != state.endpoints) {
          *out->add_resources() = *state.endpoints;
        }
        sent_endpoints.emplace(name, state.endpoints);
      } else if (state.synced || state.existence == ServiceWatch::Existence::kUnknown) {
        return Built::kWait;  // listed (its set is on the way), or not heard of yet
      }
      continue;  // the API cannot be reached yet: nothing to say of its endpoints
    }
    absl::StatusOr<ServiceTarget> target = TargetOf(type, name);
    if (!target.ok()) continue;
    if (state.existence == ServiceWatch::Existence::kUnknown) return Built::kWait;
    if (state.existence == ServiceWatch::Existence::kMissing) continue;  // does not exist
    if (type == kListenerType) {
      out->add_resources()->PackFrom(MakeListener(name, *target, *state.policy));
    } else {
      out->add_resources()->PackFrom(MakeCluster(*target, *state.policy));
    }
  }
  if (endpoints) {
    if (!t.force && out->resources_size() == 0) return Built::kNothingNew;
    t.sent_endpoints = std::move(sent_endpoints);
  } else {
    std::string serialized;
    for (const auto& any : out->resources()) serialized += any.SerializeAsString();
    if (!t.force && serialized == t.sent) return Built::kNothingNew;
    t.sent = std::move(serialized);
  }
  t.force = false;
  out->set_version_info(std::to_string(++t.version));
  t.nonce = std::to_string(++nonces_);
  out->set_nonce(t.nonce);
  return Built::kSend;
}

bool StreamCore::NextWriteLocked() {
  if (reactor_ == nullptr || writing_ || finished_) return false;
  for (const char* type : kTypes) {
    auto it = types_.find(type);
    if (it == types_.end() || !it->second.dirty) continue;
    // Waiting (kWait) needs no flag: the Service's watch calls back when it
    // knows more, and `force` is kept until a response goes.
    it->second.dirty = false;
    if (BuildLocked(type, it->second, &response_) != Built::kSend) continue;
    writing_ = true;
    return true;
  }
  return false;
}

void StreamCore::StartWrite() {
  AdsStream* reactor = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!NextWriteLocked()) return;
    reactor = reactor_;
  }
  // writing_ keeps the call (and so the reactor) alive until OnWriteDone.
  reactor->StartWrite(&response_);
}

void StreamCore::OnWriteDone(bool ok) {
  AdsStream* finish = nullptr;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) server_->Count(&AdsServerStats::responses);
    if (!ok || reads_done_) {
      if (!finished_) {
        finished_ = true;
        finish = reactor_;
      }
    }
  }
  if (finish != nullptr) {
    finish->Finish(grpc::Status::OK);
    return;
  }
  StartWrite();
}

void StreamCore::OnReadsDone() {
  AdsStream* finish = nullptr;
  {
    absl::MutexLock lock(&mu_);
    reads_done_ = true;
    if (!writing_ && !finished_) {
      finished_ = true;
      finish = reactor_;
    }
  }
  if (finish != nullptr) finish->Finish(grpc::Status::OK);
}

void StreamCore::Detach() {
  std::map<std::string, std::shared_ptr<ServiceWatch>> services;
  std::string closed;
  {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    services.swap(services_);
    if (introduced_) {
      closed = absl::StrCat("kube-grpc xDS: stream from node \"", node_, "\" (", peer_, ") closed");
    }
  }
  if (!closed.empty()) server_->Log(closed);
  for (const auto& [key, watch] : services) {
    watch->RemoveListener(this);
    server_->Release(watch);
  }
  server_->Count(&AdsServerStats::open_streams, -1);
}

class AdsService final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  explicit AdsService(AdsServer* server) : server_(server) {}
  grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse>* StreamAggregatedResources(
      grpc::CallbackServerContext* context) override {
    server_->Count(&AdsServerStats::streams);
    server_->Count(&AdsServerStats::open_streams);
    return new AdsStream(server_, context->peer());
  }

 private:
  AdsServer* const server_;
};

}  // namespace internal

AdsServer::AdsServer(ServiceRegistry* registry, AdsServerOptions options)
    : registry_(registry), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<AdsServer>> AdsServer::Start(ServiceRegistry* registry,
                                                            const std::string& address,
                                                            AdsServerOptions options) {
  if (address.empty() || address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc xDS: listen address \"", address,
                                                   "\" is not host:port (\"127.0.0.1:0\")"));
  }
  std::unique_ptr<AdsServer> server(new AdsServer(registry, std::move(options)));
  server->service_ = std::make_unique<internal::AdsService>(server.get());
  grpc::ServerBuilder builder;
  // A port in use is an error, not a second server sharing it (gRPC sets
  // SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address,
                           server->options_.credentials != nullptr
                               ? server->options_.credentials
                               : grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("kube-grpc xDS: cannot listen on ", address, " (in use, or not local?)"));
  }
  server->reaper_ = std::thread([s = server.get()] { s->Reap(); });
  return server;
}

AdsServer::~AdsServer() { Shutdown(); }

void AdsServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now());  // cancels open streams
    server_->Wait();
  }
  if (reaper_.joinable()) reaper_.join();
  std::map<std::string, Watched> watches;
  {
    absl::MutexLock lock(&mu_);
    watches.swap(watches_);
    stats_.services = 0;
  }
  for (auto& [key, w] : watches) w.watch->Stop();
}

AdsServerStats AdsServer::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void AdsServer::Count(int64_t AdsServerStats::*field, int64_t n) {
  absl::MutexLock lock(&mu_);
  stats_.*field += n;
}

void AdsServer::Log(const std::string& line) const {
  if (options_.on_log) options_.on_log(line);
}

std::shared_ptr<internal::ServiceWatch> AdsServer::Acquire(const ServiceTarget& target) {
  std::shared_ptr<internal::ServiceWatch> start;
  std::shared_ptr<internal::ServiceWatch> watch;
  bool refused = false;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return nullptr;
    Watched& w = watches_[target.ToString()];
    if (w.watch == nullptr) {
      refused = !options_.namespaces.empty() && options_.namespaces.count(target.ns) == 0;
      w.watch = std::make_shared<internal::ServiceWatch>(
          target, [this](const std::string& line) { Log(line); }, refused);
      if (!refused) start = w.watch;
      stats_.services = static_cast<int64_t>(watches_.size());
    }
    ++w.streams;
    w.idle_since = absl::InfiniteFuture();
    watch = w.watch;
  }
  if (refused) {
    Log(absl::StrCat("kube-grpc xDS: Service ", target.ToString(),
                     " asked for, but its namespace is not served: answered as does-not-exist"));
  }
  if (start != nullptr) start->Start(*registry_);
  return watch;
}

void AdsServer::Release(const std::shared_ptr<internal::ServiceWatch>& watch) {
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(watch->target().ToString());
  if (it == watches_.end() || it->second.watch != watch) return;
  if (--it->second.streams == 0) it->second.idle_since = absl::Now();
}

void AdsServer::Reap() {
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_; };
  while (true) {
    std::vector<std::shared_ptr<internal::ServiceWatch>> idle;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(&stopping),
          std::clamp(options_.unsubscribe_grace, absl::Milliseconds(50), absl::Seconds(1)));
      if (shutdown_) return;
      const absl::Time now = absl::Now();
      for (auto it = watches_.begin(); it != watches_.end();) {
        if (it->second.streams == 0 && now - it->second.idle_since >= options_.unsubscribe_grace) {
          idle.push_back(std::move(it->second.watch));
          it = watches_.erase(it);
        } else {
          ++it;
        }
      }
      stats_.services = static_cast<int64_t>(watches_.size());
    }
    for (const auto& w : idle) w->Stop();  // outside mu_: waits for discovery
  }
}

}  // namespace kubegrpc::xds
