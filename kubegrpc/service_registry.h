// File: kubegrpc/service_registry.h
// -----------------------------------------------------------------------------
// ServiceRegistry: the one owner of discovery in a process. It runs one
// ServiceDiscovery per Service port (ServiceTarget key, "ns/name:port"),
// shared by every subscriber of that key: started on the first Subscribe,
// stopped when the last Subscription goes. The Balancer's pools subscribe to
// it, and so can anything else that needs a Service's endpoints.
//
//   ServiceRegistry registry(client, discovery_options);
//   std::unique_ptr<ServiceRegistry::Subscription> sub =
//       registry.Subscribe(target, &my_subscriber);   // target.ns must be set
//   ...                                               // callbacks arrive
//   sub.reset();                                       // no callback after this
//
// A new subscriber of a Service already discovered gets its current state at
// once (the status, then the set with a delta from nothing), so that every
// subscriber sees one consistent sequence of sets and deltas.
//
// Thread-safety: thread-safe. The callbacks of one Service are serialized (one
// at a time, in order) and run on its discovery thread, or on the subscribing
// thread for the initial state. They must not subscribe to, or release a
// subscription of, the same Service (that would deadlock); they run under a
// lock of that Service that only delivery and (un)subscribing take.

#ifndef KUBEGRPC_SERVICE_REGISTRY_H_
#define KUBEGRPC_SERVICE_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kubegrpc/discovery.h"
#include "kubegrpc/discovery_options.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/k8s_client.h"
#include "kubegrpc/snapshot.h"
#include "kubegrpc/target.h"

namespace kubegrpc {

class ServiceRegistry {
 public:
  // What a subscriber hears about its Service.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // A new set and its delta from the set this subscriber got before.
    virtual void OnEndpoints(const std::shared_ptr<const EndpointSet>& set,
                             const EndpointDelta& delta) = 0;
    // Discovery synced for the first time, or failed (see DiscoveryStatus).
    virtual void OnDiscoveryStatus(const DiscoveryStatus& status) {}
  };

  // Keeps a Service's discovery running; no callback after it is destroyed.
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    const ServiceTarget& target() const;
    // The last published set (null before the first list) and discovery's status.
    std::shared_ptr<const EndpointSet> current() const;
    DiscoveryStatus status() const;

   private:
    friend class ServiceRegistry;
    struct Entry;
    Subscription(ServiceRegistry* registry, std::shared_ptr<Entry> entry, Subscriber* subscriber)
        : registry_(registry), entry_(std::move(entry)), subscriber_(subscriber) {}
    ServiceRegistry* const registry_;
    const std::shared_ptr<Entry> entry_;
    Subscriber* const subscriber_;
  };

  // `client` must outlive the registry.
  ServiceRegistry(K8sClient* client, DiscoveryOptions options);
  // A registry that keeps `client` alive as long as itself, for sharing: the
  // Balancer's (Balancer::registry()) can also feed an xDS server.
  static std::shared_ptr<ServiceRegistry> Create(std::shared_ptr<K8sClient> client,
                                                 DiscoveryOptions options);
  // Every Subscription must be gone by then.
  ~ServiceRegistry();
  ServiceRegistry(const ServiceRegistry&) = delete;
  ServiceRegistry& operator=(const ServiceRegistry&) = delete;

  // Subscribes `subscriber` (which must outlive the subscription) to the
  // endpoints of `target` (its namespace set), starting its discovery if it is
  // the first subscriber.
  std::unique_ptr<Subscription> Subscribe(const ServiceTarget& target, Subscriber* subscriber)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The keys of the Services discovered now ("ns/name:port").
  std::vector<std::string> Services() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Release(const std::shared_ptr<Subscription::Entry>& entry, Subscriber* subscriber)
      ABSL_LOCKS_EXCLUDED(mu_);

  K8sClient* const client_;
  const DiscoveryOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Subscription::Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_SERVICE_REGISTRY_H_
