#include "kubegrpc/service_registry.h"

#include <algorithm>
#include <utility>

namespace kubegrpc {

// One Service port's discovery and its subscribers.
struct ServiceRegistry::Subscription::Entry {
  ServiceTarget target;
  std::unique_ptr<ServiceDiscovery> discovery;
  int refs = 0;  // guarded by the registry's mu_
  // Serializes delivery and (un)subscribing; taken by nothing else.
  absl::Mutex deliver_mu;
  struct Sub {
    Subscriber* subscriber;
    std::shared_ptr<const EndpointSet> last;  // the set it got last (null: none yet)
  };
  std::vector<Sub> subscribers ABSL_GUARDED_BY(deliver_mu);

  void Deliver(const std::shared_ptr<const EndpointSet>& set, const EndpointDelta& delta) {
    absl::MutexLock lock(&deliver_mu);
    for (Sub& s : subscribers) {
      // A subscriber that joined after discovery made `set` current got it then.
      if (s.last == set) continue;
      s.last = set;
      s.subscriber->OnEndpoints(set, delta);
    }
  }
  void DeliverStatus(const DiscoveryStatus& status) {
    absl::MutexLock lock(&deliver_mu);
    for (Sub& s : subscribers) s.subscriber->OnDiscoveryStatus(status);
  }
};

ServiceRegistry::ServiceRegistry(K8sClient* client, DiscoveryOptions options)
    : client_(client), options_(options) {}

std::shared_ptr<ServiceRegistry> ServiceRegistry::Create(std::shared_ptr<K8sClient> client,
                                                         DiscoveryOptions options) {
  K8sClient* raw = client.get();
  // The deleter holds the client: it goes after the registry.
  return std::shared_ptr<ServiceRegistry>(
      new ServiceRegistry(raw, options),
      [client = std::move(client)](ServiceRegistry* registry) { delete registry; });
}

ServiceRegistry::~ServiceRegistry() {
  std::map<std::string, std::shared_ptr<Subscription::Entry>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(entries_);
  }
  for (auto& [key, entry] : left) entry->discovery->Stop();
}

std::unique_ptr<ServiceRegistry::Subscription> ServiceRegistry::Subscribe(
    const ServiceTarget& target, Subscriber* subscriber) {
  const std::string key = target.ToString();
  std::shared_ptr<Subscription::Entry> entry;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      entry = std::make_shared<Subscription::Entry>();
      entry->target = target;
      Subscription::Entry* raw = entry.get();
      entry->discovery = std::make_unique<ServiceDiscovery>(
          client_, target, options_,
          [raw](std::shared_ptr<const EndpointSet> set, const EndpointDelta& delta) {
            raw->Deliver(set, delta);
          },
          [raw](const DiscoveryStatus& status) { raw->DeliverStatus(status); });
      entries_.emplace(key, entry);
      start = true;
    } else {
      entry = it->second;
    }
    ++entry->refs;
  }
  {
    // The current state first, then whatever discovery publishes next.
    absl::MutexLock lock(&entry->deliver_mu);
    entry->subscribers.push_back({subscriber, nullptr});
    if (!start) {
      subscriber->OnDiscoveryStatus(entry->discovery->status());
      if (std::shared_ptr<const EndpointSet> set = entry->discovery->current()) {
        entry->subscribers.back().last = set;
        subscriber->OnEndpoints(set, Diff(nullptr, *set));
      }
    }
  }
  if (start) entry->discovery->Start();
  return std::unique_ptr<Subscription>(new Subscription(this, std::move(entry), subscriber));
}

void ServiceRegistry::Release(const std::shared_ptr<Subscription::Entry>& entry,
                              Subscriber* subscriber) {
  {
    absl::MutexLock lock(&entry->deliver_mu);
    auto& subs = entry->subscribers;
    subs.erase(std::find_if(subs.begin(), subs.end(),
                            [subscriber](const auto& s) { return s.subscriber == subscriber; }));
  }
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    last = --entry->refs == 0;
    if (last) {
      auto it = entries_.find(entry->target.ToString());
      if (it != entries_.end() && it->second == entry) entries_.erase(it);
    }
  }
  if (last) entry->discovery->Stop();
}

std::vector<std::string> ServiceRegistry::Services() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_) out.push_back(key);
  return out;
}

ServiceRegistry::Subscription::~Subscription() { registry_->Release(entry_, subscriber_); }

const ServiceTarget& ServiceRegistry::Subscription::target() const { return entry_->target; }

std::shared_ptr<const EndpointSet> ServiceRegistry::Subscription::current() const {
  return entry_->discovery->current();
}

DiscoveryStatus ServiceRegistry::Subscription::status() const {
  return entry_->discovery->status();
}

}  // namespace kubegrpc
