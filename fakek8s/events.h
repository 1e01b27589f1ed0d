// File: fakek8s/events.h
// -----------------------------------------------------------------------------
// Events, so that `kubectl get events -w` narrates what happens in a fake
// cluster. An EventRecorder writes core/v1 Events (served as events.k8s.io/v1
// too) into an ObjectStore:
//   - for pod lifecycle changes it sees in the store (WatchPods): Scheduled
//     (created), Started (running, and again on each container restart),
//     Unhealthy (Ready turned False while running), Killing (deletion began),
//     Failed (phase Failed), with the kubelet's or scheduler's reasons;
//   - for anything a caller reports: faults the API server injects, faults the
//     test harness injects into pods (Record).
// The same event again (same object, type, reason and message) updates the
// existing Event's count and lastTimestamp, as the real recorder aggregates.
// At most `max_events` are kept (the oldest go first) and none longer than
// `ttl`, as the real API server's event TTL.
//
// Thread-safety: thread-safe. The store must outlive the recorder; WatchPods
// before concurrent use of the store.

#ifndef FAKEK8S_EVENTS_H_
#define FAKEK8S_EVENTS_H_

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fakek8s/object_store.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

struct EventRecord {
  // The object it is about: {apiVersion, kind, namespace, name, uid, ...}. The
  // Event lives in the object's namespace ("default" for cluster objects).
  nlohmann::json involved;
  std::string type = "Normal";  // or "Warning"
  std::string reason;           // CamelCase: Started, Unhealthy, FaultInjected, ...
  std::string message;
  std::string component = "fakek8s";  // source.component / reportingComponent
};

class EventRecorder {
 public:
  struct Options {
    bool enabled = true;  // false: records nothing (benchmarks at scale)
    size_t max_events = 10000;
    absl::Duration ttl = absl::Hours(1);
    std::function<absl::Time()> now = [] { return absl::Now(); };
  };

  EventRecorder(ObjectStore* store, Options options);
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Narrates pod lifecycle changes (installs a store observer).
  void WatchPods() ABSL_LOCKS_EXCLUDED(mu_);
  // Records an event (takes the store's lock).
  void Record(const EventRecord& record) ABSL_LOCKS_EXCLUDED(mu_);
  // The involved-object reference for an object of the store.
  static nlohmann::json ReferenceTo(const nlohmann::json& object);

 private:
  void RecordIn(ObjectStore::Transaction& txn, const EventRecord& record) ABSL_LOCKS_EXCLUDED(mu_);
  void OnPodWrite(ObjectStore::Transaction& txn, const std::string& type, const nlohmann::json& pod,
                  const nlohmann::json& previous);

  ObjectStore* const store_;
  const Options options_;
  absl::Mutex mu_;
  // The events written, oldest first: (namespace, name), when created.
  std::deque<std::pair<std::pair<std::string, std::string>, absl::Time>> written_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace fakek8s

#endif  // FAKEK8S_EVENTS_H_
