#include "testing/fake_k8s_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/resources.h"
#include "fakek8s/selector.h"
#include "kubegrpc/internal/k8s_json.h"

namespace kubegrpc::testing {
namespace {

using json = nlohmann::json;

fakek8s::Resource ResourceOf(EndpointSource source) {
  return source == EndpointSource::kEndpointSlices ? fakek8s::Resource::kEndpointSlices
                                                   : fakek8s::Resource::kEndpoints;
}

// The selector discovery would send for `service`'s objects.
void Select(EndpointSource source, const std::string& service, fakek8s::LabelSelector* labels,
            fakek8s::FieldSelector* fields) {
  if (source == EndpointSource::kEndpointSlices) {
    *labels = *fakek8s::LabelSelector::Parse("kubernetes.io/service-name=" + service);
  } else {
    *fields = *fakek8s::FieldSelector::Parse(
        "metadata.name=" + service, fakek8s::Info(fakek8s::Resource::kEndpoints).selectable_fields);
  }
}

}  // namespace

void FakeK8sClient::ScriptService(absl::StatusOr<ServiceInfo> answer) {
  absl::MutexLock lock(&mu_);
  service_ = std::move(answer);
}

void FakeK8sClient::ScriptList(EndpointSource source, absl::StatusOr<EndpointObjectList> answer) {
  absl::MutexLock lock(&mu_);
  lists_script_[source].push_back(std::move(answer));
}

void FakeK8sClient::ClearLists() {
  absl::MutexLock lock(&mu_);
  lists_script_.clear();
}

void FakeK8sClient::ScriptWatch(Session session) {
  absl::MutexLock lock(&mu_);
  sessions_.push_back(std::move(session));
}

void FakeK8sClient::FailNext(int count, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_status_ = std::move(status);
}

void FakeK8sClient::SetOutage(bool outage) {
  absl::MutexLock lock(&mu_);
  outage_ = outage;
}

int64_t FakeK8sClient::gets() const {
  absl::MutexLock lock(&mu_);
  return gets_;
}

int64_t FakeK8sClient::lists() const {
  absl::MutexLock lock(&mu_);
  return lists_;
}

int64_t FakeK8sClient::watches() const {
  absl::MutexLock lock(&mu_);
  return watches_;
}

int64_t FakeK8sClient::lists_of(const std::string& ns_service) const {
  absl::MutexLock lock(&mu_);
  auto it = lists_of_.find(ns_service);
  return it == lists_of_.end() ? 0 : it->second;
}

std::vector<std::string> FakeK8sClient::list_log() const {
  absl::MutexLock lock(&mu_);
  return list_log_;
}

std::vector<WatchRequest> FakeK8sClient::watch_requests() const {
  absl::MutexLock lock(&mu_);
  return watch_requests_;
}

absl::Time FakeK8sClient::Now() const {
  return options_.clock != nullptr ? options_.clock->Now() : absl::Now();
}

std::optional<absl::Status> FakeK8sClient::InjectedLocked() {
  if (outage_) return absl::UnavailableError("simulated API outage");
  if (fail_count_ > 0) {
    --fail_count_;
    return fail_status_;
  }
  return std::nullopt;
}

absl::StatusOr<ServiceInfo> FakeK8sClient::GetService(const std::string& ns,
                                                      const std::string& name, Cancellation*) {
  {
    absl::MutexLock lock(&mu_);
    ++gets_;
    in_stream_ = false;
    if (std::optional<absl::Status> failed = InjectedLocked()) return *failed;
    if (service_.has_value()) return *service_;
  }
  if (options_.store == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("services \"", name, "\" not found (nothing scripted)"));
  }
  absl::StatusOr<json> s = options_.store->Get(fakek8s::Resource::kServices, ns, name);
  if (!s.ok()) return absl::NotFoundError(s.status().message());
  return internal::DecodeService(*s);
}

absl::StatusOr<std::string> FakeK8sClient::GetNodeZone(const std::string& node, Cancellation*) {
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<absl::Status> failed = InjectedLocked()) return *failed;
  }
  if (options_.store == nullptr) {
    return absl::NotFoundError(absl::StrCat("nodes \"", node, "\" not found (no store)"));
  }
  absl::StatusOr<json> n = options_.store->Get(fakek8s::Resource::kNodes, "", node);
  if (!n.ok()) return absl::NotFoundError(n.status().message());
  return internal::DecodeNodeZone(*n);
}

absl::StatusOr<EndpointObjectList> FakeK8sClient::ListEndpoints(EndpointSource source,
                                                                const std::string& ns,
                                                                const std::string& service,
                                                                Cancellation*) {
  {
    absl::MutexLock lock(&mu_);
    ++lists_;
    ++lists_of_[absl::StrCat(ns, "/", service)];
    list_log_.push_back(source == EndpointSource::kEndpointSlices ? "slices" : "endpoints");
    in_stream_ = false;
    if (std::optional<absl::Status> failed = InjectedLocked()) return *failed;
    auto& queue = lists_script_[source];
    if (!queue.empty()) {
      absl::StatusOr<EndpointObjectList> answer = queue.front();
      if (queue.size() > 1) queue.pop_front();  // the last answer repeats
      return answer;
    }
  }
  if (options_.store == nullptr) {
    return absl::UnavailableError("kube-grpc: test: no list scripted");
  }
  fakek8s::LabelSelector labels;
  fakek8s::FieldSelector fields;
  Select(source, service, &labels, &fields);
  const fakek8s::Resource resource = ResourceOf(source);
  fakek8s::ObjectStore::ListResult list = options_.store->List(resource, ns, labels, fields);
  // The body an API server would send, decoded as HttpK8sClient decodes it.
  const fakek8s::ResourceInfo& info = fakek8s::Info(resource);
  json body = {{"kind", info.kind + "List"},
               {"apiVersion", info.ApiVersion()},
               {"metadata", {{"resourceVersion", list.resource_version}}},
               {"items", std::move(list.items)}};
  return internal::DecodeEndpointList(source, body.dump());
}

absl::Status FakeK8sClient::WatchEndpoints(EndpointSource source, const std::string& ns,
                                           const std::string& service, const WatchRequest& request,
                                           const std::function<void(const WatchEvent&)>& on_event,
                                           Cancellation* cancel) {
  std::optional<Session> session;
  std::optional<absl::Status> failed;
  const bool poll = options_.clock != nullptr && options_.poll > absl::ZeroDuration();
  {
    absl::MutexLock lock(&mu_);
    watch_requests_.push_back(request);
    if (!poll || !in_stream_ || Now() - stream_start_ >= request.timeout) {
      ++watches_;
      stream_start_ = Now();
    }
    in_stream_ = poll;
    failed = InjectedLocked();
    if (failed.has_value()) {
      in_stream_ = false;
    } else if (!sessions_.empty()) {
      session = std::move(sessions_.front());
      sessions_.pop_front();
    }
  }
  if (failed.has_value()) {
    if (poll) options_.clock->Advance(options_.poll);  // the failed poll takes its time
    return *failed;
  }
  if (session.has_value()) {
    for (const WatchEvent& e : session->events) on_event(e);
    if (options_.clock != nullptr) {
      options_.clock->Advance(session->lasts);
    } else if (cancel != nullptr && cancel->WaitUntil(absl::Now() + session->lasts)) {
      return absl::CancelledError("kube-grpc: test: watch cancelled");
    }
    return session->end;
  }
  if (options_.store != nullptr) {
    return WatchStore(source, ns, service, request, on_event, cancel);
  }
  // A quiet stream until the server's timeout.
  if (options_.clock != nullptr) {
    options_.clock->Advance(request.timeout);
    return absl::OkStatus();
  }
  if (cancel != nullptr && cancel->WaitUntil(absl::Now() + request.timeout)) {
    return absl::CancelledError("kube-grpc: test: watch cancelled");
  }
  return absl::OkStatus();
}

absl::Status FakeK8sClient::WatchStore(EndpointSource source, const std::string& ns,
                                       const std::string& service, const WatchRequest& request,
                                       const std::function<void(const WatchEvent&)>& on_event,
                                       Cancellation* cancel) {
  fakek8s::ObjectStore::WatchOptions options;
  options.namespace_ = ns;
  Select(source, service, &options.labels, &options.fields);
  options.from_rv = request.resource_version;
  absl::StatusOr<std::unique_ptr<fakek8s::ObjectStore::Watch>> watch =
      options_.store->StartWatch(ResourceOf(source), options);
  if (!watch.ok()) {
    if (fakek8s::HttpCode(watch.status()) != 410)
      return absl::InternalError(watch.status().message());
    // As a server does it: a 200, one ERROR event, then the end.
    WatchEvent expired;
    expired.type = WatchEvent::Type::kError;
    expired.error = absl::OutOfRangeError(watch.status().message());
    {
      absl::MutexLock lock(&mu_);
      in_stream_ = false;
    }
    on_event(expired);
    return absl::OkStatus();
  }
  // Delivers what is pending; false if an event could not be decoded.
  // Delivers what is pending (waiting up to `wait` for the first), each event
  // marked as the last of its burst unless another is already there.
  auto drain = [&](absl::Duration wait) -> absl::Status {
    using Result = fakek8s::ObjectStore::Watch::Result;
    fakek8s::ObjectStore::WatchEvent e;
    bool have = (*watch)->Next(wait, &e) == Result::kEvent;
    while (have) {
      const std::string line = json{{"type", e.type}, {"object", e.object}}.dump();
      if (options_.before_decode) options_.before_decode();
      absl::StatusOr<WatchEvent> event = internal::DecodeWatchEvent(source, line);
      if (!event.ok()) return event.status();
      have = (*watch)->Next(absl::ZeroDuration(), &e) == Result::kEvent;
      event->last_in_batch = !have;
      on_event(*event);
    }
    return absl::OkStatus();
  };
  if (options_.clock != nullptr) {
    FakeClock& clock = *options_.clock;
    if (options_.poll > absl::ZeroDuration()) {
      // One poll: what is pending now; the stream goes on in the next call.
      absl::Status s = drain(absl::ZeroDuration());
      clock.Advance(options_.poll);
      return s;
    }
    // The whole stream: changes made by alarms on the way arrive at their time.
    const absl::Time end = clock.Now() + request.timeout;
    while (true) {
      if (absl::Status s = drain(absl::ZeroDuration()); !s.ok()) return s;
      if (clock.Now() >= end) return absl::OkStatus();
      clock.Advance(std::max(absl::ZeroDuration(), std::min(clock.NextAlarm(), end) - clock.Now()));
    }
  }
  const absl::Time end = absl::Now() + request.timeout;
  while (absl::Now() < end) {
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError("kube-grpc: test: watch cancelled");
    }
    if (absl::Status s = drain(std::min(absl::Milliseconds(20), end - absl::Now())); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace kubegrpc::testing
