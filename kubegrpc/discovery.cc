#include "kubegrpc/discovery.h"

#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kubegrpc {
namespace {

std::string PortList(const ServiceInfo& service) {
  std::vector<std::string> ports;
  for (const ServicePort& p : service.ports) {
    ports.push_back(p.name.empty() ? std::to_string(p.port) : absl::StrCat(p.port, "/", p.name));
  }
  return ports.empty() ? "none" : absl::StrJoin(ports, ", ");
}

}  // namespace

ServiceDiscovery::ServiceDiscovery(K8sClient* client, ServiceTarget target,
                                   DiscoveryOptions options, Callback callback,
                                   StatusCallback on_status)
    : client_(client),
      target_(std::move(target)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      callback_(std::move(callback)),
      on_status_(std::move(on_status)),
      backoff_(options.backoff,
               options.seed != 0 ? options.seed : std::hash<std::string>()(target_.ToString())),
      rng_(options.seed != 0 ? options.seed + 1
                             : std::hash<std::string>()(target_.ToString()) + 1) {}

ServiceDiscovery::~ServiceDiscovery() { Stop(); }

void ServiceDiscovery::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ServiceDiscovery::Stop() {
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void ServiceDiscovery::Run() {
  while (!cancel_.cancelled()) RunOnce();
}

std::shared_ptr<const EndpointSet> ServiceDiscovery::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

DiscoveryStatus ServiceDiscovery::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void ServiceDiscovery::Sleep(absl::Duration d) { clock_->SleepUntil(clock_->Now() + d, &cancel_); }

void ServiceDiscovery::Fail(const absl::Status& status) {
  DiscoveryStatus now;
  {
    absl::MutexLock lock(&mu_);
    status_.last_error = status;
    status_.last_error_at = clock_->Now();
    ++status_.errors;
    now = status_;
  }
  if (on_status_) on_status_(now);
  absl::Duration delay = backoff_.Next();
  if (std::optional<absl::Duration> retry_after = RetryAfter(status)) {
    delay = std::max(delay, *retry_after);
  }
  Sleep(delay);
}

void ServiceDiscovery::RunOnce() {
  if (cancel_.cancelled()) return;
  const absl::Time now = clock_->Now();
  if (options_.resync_interval > absl::ZeroDuration() && now >= next_resync_) need_list_ = true;
  if (need_list_) {
    absl::Status s = List();
    if (cancel_.cancelled()) return;  // stopping: not a failure
    if (!s.ok()) {
      Fail(s);
      return;
    }
    need_list_ = false;
    next_resync_ = options_.resync_interval > absl::ZeroDuration()
                       ? clock_->Now() + options_.resync_interval
                       : absl::InfiniteFuture();
    if (!options_.watch) backoff_.Reset();
    return;
  }
  if (!options_.watch) {
    // Polling: nothing to do until the next resync.
    clock_->SleepUntil(next_resync_, &cancel_);
    return;
  }
  absl::Status s = Watch();
  if (cancel_.cancelled()) return;
  if (!s.ok()) Fail(s);
}

absl::Status ServiceDiscovery::List() {
  const std::string svc = absl::StrCat(target_.ns, "/", target_.name);
  // The endpoint port's name comes from the Service (re-read at every relist:
  // its ports may change).
  absl::StatusOr<ServiceInfo> service = client_->GetService(target_.ns, target_.name, &cancel_);
  if (!service.ok()) return service.status();
  const ServicePort* match = nullptr;
  for (const ServicePort& p : service->ports) {
    if ((target_.port_name.empty() && p.port == target_.port) ||
        (!target_.port_name.empty() && p.name == target_.port_name)) {
      match = &p;
      break;
    }
  }
  if (match == nullptr) {
    // The Service exists but does not have the port. At start-up that is a
    // misconfigured target: nothing is published. Later it is the API saying
    // the port was removed (the slices lose it too): follow it, so the pool
    // empties with this error as the reason, and keep relisting until the
    // port returns.
    if (port_resolved_) {
      merger_.Clear();
      Publish();
    }
    return absl::NotFoundError(
        absl::StrCat("kube-grpc: Service ", svc, " has no port ",
                     target_.port_name.empty() ? std::to_string(target_.port) : target_.port_name,
                     " (its ports: ", PortList(*service), ")"));
  }
  port_name_ = match->name;
  port_resolved_ = true;

  absl::StatusOr<EndpointObjectList> list =
      client_->ListEndpoints(source_, target_.ns, target_.name, &cancel_);
  if (!list.ok() && list.status().code() == absl::StatusCode::kNotFound &&
      source_ == EndpointSource::kEndpointSlices) {
    // No discovery.k8s.io/v1 on this server: fall back to core/v1 Endpoints.
    source_ = EndpointSource::kEndpoints;
    {
      absl::MutexLock lock(&mu_);
      status_.using_endpoints = true;
    }
    list = client_->ListEndpoints(source_, target_.ns, target_.name, &cancel_);
  }
  if (!list.ok()) return list.status();
  // The list replaces what was known: objects not in it are gone.
  std::set<std::string> listed;
  for (const EndpointObject& o : list->items) {
    merger_.SetSlice(o.name, Convert(o));
    listed.insert(o.name);
  }
  for (const std::string& name : merger_.SliceNames()) {
    if (listed.count(name) == 0) merger_.RemoveSlice(name);
  }
  bool first_sync = false;
  bool recovered = false;
  bool annotated = false;
  DiscoveryStatus now;
  {
    absl::MutexLock lock(&mu_);
    first_sync = !status_.synced;
    recovered = FailingLocked();
    annotated = status_.annotations != service->annotations;
    status_.annotations = service->annotations;
    status_.synced = true;
    status_.resource_version = list->resource_version;
    status_.last_success_at = clock_->Now();
    ++status_.lists;
    now = status_;
  }
  // Before the set, so that its subscribers know discovery has synced.
  if ((first_sync || recovered || annotated) && on_status_) on_status_(now);
  Publish();
  return absl::OkStatus();
}

absl::Status ServiceDiscovery::Watch() {
  const absl::Time start = clock_->Now();
  std::string rv;
  {
    absl::MutexLock lock(&mu_);
    rv = status_.resource_version;
    ++status_.watches;
  }
  std::uniform_real_distribution<double> spread(1.0, 2.0);
  absl::Duration timeout = options_.watch_timeout * spread(rng_);
  if (next_resync_ != absl::InfiniteFuture()) {
    timeout = std::min(timeout, next_resync_ - start);
  }
  if (timeout < absl::Seconds(1)) {
    need_list_ = true;  // a resync is due
    return absl::OkStatus();
  }
  int64_t events = 0;
  bool expired = false;
  bool unpublished = false;  // changes not published yet (a burst still arriving)
  absl::Status event_error;
  absl::Status s = client_->WatchEndpoints(
      source_, target_.ns, target_.name,
      {rv, timeout, /*bookmarks=*/true, options_.watch_idle_timeout},
      [&](const WatchEvent& event) {
        ++events;
        switch (event.type) {
          case WatchEvent::Type::kError:
            if (event.error.code() == absl::StatusCode::kOutOfRange) {
              expired = true;
            } else {
              event_error = event.error;
            }
            return;
          case WatchEvent::Type::kBookmark:
            break;
          case WatchEvent::Type::kAdded:
          case WatchEvent::Type::kModified:
            merger_.SetSlice(event.object.name, Convert(event.object));
            break;
          case WatchEvent::Type::kDeleted:
            merger_.RemoveSlice(event.object.name);
            break;
        }
        std::optional<DiscoveryStatus> recovered;  // the first success after errors
        {
          absl::MutexLock lock(&mu_);
          const bool failing = FailingLocked();
          if (!event.resource_version.empty()) status_.resource_version = event.resource_version;
          status_.last_success_at = clock_->Now();
          ++status_.events;
          if (failing) recovered = status_;
        }
        if (recovered.has_value() && on_status_) on_status_(*recovered);
        // A burst (events that arrived together) is published once, at its end;
        // a lone change at once.
        if (event.type != WatchEvent::Type::kBookmark) unpublished = true;
        if (unpublished && event.last_in_batch) {
          Publish();
          unpublished = false;
        }
      },
      &cancel_);
  if (unpublished) Publish();
  if (expired) {
    // Too old: relist. Immediately the first time; a 410 right after a relist
    // (a storm) backs off like any failure.
    need_list_ = true;
    {
      absl::MutexLock lock(&mu_);
      ++status_.expired;
    }
    const bool storm = last_watch_expired_;
    last_watch_expired_ = true;
    if (storm) {
      return absl::OutOfRangeError(absl::StrCat("kube-grpc: watching Service ", target_.ns, "/",
                                                target_.name, ": resourceVersion expired again"));
    }
    return absl::OkStatus();
  }
  last_watch_expired_ = false;
  if (!event_error.ok()) return event_error;
  if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kResourceExhausted) {
    // An event that could not be decoded (garbage, an oversized line) is lost:
    // resuming after it would skip it, so relist for the whole state instead.
    need_list_ = true;
  }
  if (!s.ok()) return s;
  // A clean end. One that came at once and said nothing is a failure in disguise
  // (a proxy closing streams); otherwise the watch was healthy.
  if (events == 0 && clock_->Now() - start < options_.min_healthy_watch) {
    return absl::UnavailableError(absl::StrCat("kube-grpc: watching Service ", target_.ns, "/",
                                               target_.name,
                                               ": the watch ended at once without events"));
  }
  backoff_.Reset();
  return absl::OkStatus();
}

std::vector<Endpoint> EndpointsForPort(const EndpointObject& object, const std::string& port_name) {
  std::vector<Endpoint> endpoints;
  endpoints.reserve(object.endpoints.size());
  for (const EndpointInfo& e : object.endpoints) {
    const EndpointPort* port = nullptr;
    for (const EndpointPort& p : e.ports) {
      if (p.name == port_name && p.port > 0) {
        port = &p;
        break;
      }
    }
    if (port == nullptr) continue;  // this pod does not serve the port
    Endpoint out;
    out.address = e.address;
    out.port = port->port;
    out.pod_name = e.pod_name;
    out.node_name = e.node_name;
    out.zone = e.zone;
    out.for_zones = e.for_zones;
    out.hostname = e.hostname;
    out.ready = e.ready.value_or(true);
    out.serving = e.serving.value_or(true);
    out.terminating = e.terminating.value_or(false);
    endpoints.push_back(std::move(out));
  }
  return endpoints;
}

std::vector<Endpoint> ServiceDiscovery::Convert(const EndpointObject& object) const {
  return EndpointsForPort(object, port_name_);
}

void ServiceDiscovery::Publish() {
  if (!port_resolved_) return;
  std::vector<EndpointChange> changes = merger_.TakeChanges(published_.get());
  if (published_ != nullptr && changes.empty()) return;
  static const std::shared_ptr<const EndpointSet> kEmpty = EndpointSet::Create({});
  const EndpointSet& base = published_ != nullptr ? *published_ : *kEmpty;
  EndpointSet::Next next = base.With(std::move(changes));
  if (next.set == nullptr) {
    if (published_ != nullptr) return;  // nothing changed
    next.set = kEmpty;                  // the first publish, of no endpoints
  }
  published_ = next.set;
  {
    absl::MutexLock lock(&mu_);
    current_ = next.set;
    ++status_.publishes;
  }
  if (callback_) callback_(next.set, next.delta);
}

}  // namespace kubegrpc
