// File: fakek8s/object_store.h
// -----------------------------------------------------------------------------
// The object store behind fakek8s: Kubernetes objects as JSON, one global
// increasing resourceVersion, a bounded event history and watches.
//
//   fakek8s::ObjectStore store;
//   store.Create(Resource::kPods, pod_json);                 // ADDED, rv 2
//   absl::StatusOr<std::unique_ptr<ObjectStore::Watch>> w =
//       store.StartWatch(Resource::kPods, {.namespace_ = "demo", .from_rv = "2"});
//   ObjectStore::WatchEvent e;
//   (*w)->Next(absl::Seconds(1), &e);                        // later changes
//
// Semantics follow the real API server (docs/KUBERNETES.md §3):
// - resourceVersions are decimal strings of one counter shared by all resources;
//   a write that changes nothing does not bump it;
// - a watch from RV "" or "0" first gets a synthetic ADDED per current object;
//   from RV X it gets only changes after X, or OutOfRange (HTTP 410, reason
//   Expired, "too old resource version: X (Y)") if the history no longer holds them;
// - with a selector, an object that starts matching arrives as ADDED and one that
//   stops matching as DELETED;
// - the history keeps the last `history_limit` events, within
//   `history_bytes_limit` bytes (Compact() drops all).
//
// A `Reconciler` (the endpoint controller) can be installed; it runs inside each
// write to a Namespace, Service or Pod, under the store's lock, and makes its own
// writes through the `Transaction` it is given, so that derived objects change in
// the same step as their inputs, in order. `Observer`s (the event recorder) see
// every top-level write with the object before and after, the same way.
//
// Lists can be paginated (`limit` and an opaque `continue` token that lists the
// rest from the same resourceVersion: consistent pages, rebuilt from the event
// history; 410 Expired once the history no longer reaches back) and read at a
// resourceVersion (`resourceVersionMatch` Exact or NotOlderThan), as the real
// server serves them (docs/KUBERNETES.md §3).
//
// Thread-safety: ObjectStore is thread-safe. A Watch may be used by one thread at a
// time and may outlive the store. Errors are absl::Status values built with
// api_errors.h (NotFound, AlreadyExists, Conflict, Invalid, Expired).

#ifndef FAKEK8S_OBJECT_STORE_H_
#define FAKEK8S_OBJECT_STORE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/resources.h"
#include "fakek8s/selector.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

using json = nlohmann::json;

class ObjectStore {
 public:
  struct Options {
    // Events kept for watches that resume from a resourceVersion: at most this
    // many, holding at most about this many bytes of objects.
    size_t history_limit = 10000;
    size_t history_bytes_limit = 64 << 20;
    // Events buffered for one watch before it is closed as too slow.
    size_t max_watch_backlog = 100000;
    // Seed for uids and generated names.
    uint64_t seed = 20260101;
    // The clock for creationTimestamp / deletionTimestamp.
    std::function<absl::Time()> now = [] { return absl::Now(); };
  };

  // Writes made by a Reconciler, inside the write that triggered it.
  class Transaction {
   public:
    const json* Get(Resource resource, const std::string& ns, const std::string& name);
    std::vector<const json*> List(Resource resource, const std::string& ns);
    absl::StatusOr<json> Create(Resource resource, json object);
    absl::StatusOr<json> Update(Resource resource, json object);
    absl::Status Delete(Resource resource, const std::string& ns, const std::string& name);
    // A random lowercase suffix for generated names, from the store's seeded RNG.
    std::string RandomSuffix();

   private:
    friend class ObjectStore;
    explicit Transaction(ObjectStore* store) : store_(store) {}
    ObjectStore* store_;
  };
  // What a Reconciler is called for: one Namespace, Service or Pod write, or
  // (with `type` "" and no objects) a namespace to reconcile as a whole.
  struct Change {
    Resource resource;
    std::string ns;        // for a Namespace, its own name
    std::string type;      // ADDED, MODIFIED, DELETED, or ""
    const json* object;    // the state after (for DELETED, the last state)
    const json* previous;  // the state before (null for ADDED)
  };
  using Reconciler = std::function<void(Transaction& txn, const Change& change)>;
  // Called for each write that is not itself made by an observer: `type` is
  // ADDED, MODIFIED or DELETED; `previous` is the state before (null for ADDED).
  using Observer = std::function<void(Transaction& txn, Resource resource, const std::string& type,
                                      const json& object, const json& previous)>;

  struct ListOptions {
    LabelSelector labels;
    FieldSelector fields;
    // "" (the most recent state), "0" (any state: the most recent here), or a
    // resourceVersion, read as resourceVersionMatch says: "" or NotOlderThan
    // (at least that new: the most recent state; 504 Timeout if the store has
    // not reached it within about 3 s) or Exact (the state at that version;
    // 410 Expired if the history no longer holds it).
    std::string resource_version;
    std::string resource_version_match;
    int64_t limit = 0;           // 0: no limit
    std::string continue_token;  // from a previous page
  };

  struct ListResult {
    std::vector<json> items;  // with kind and apiVersion, sorted by namespace/name
    std::string resource_version;
    std::string continue_token;  // set when more items follow
    // Items after this page, when the list has no selector and more follow.
    std::optional<int64_t> remaining_item_count;
  };

  struct WatchOptions {
    std::string namespace_;  // "" = all namespaces
    LabelSelector labels;
    FieldSelector fields;
    std::string from_rv;               // "" or "0": current state as ADDED first
    bool send_initial_events = false;  // current state as ADDED even with an RV
  };

  struct WatchEvent {
    std::string type;  // ADDED, MODIFIED, DELETED
    json object;
  };

  // A stream of changes to one resource.
  class Watch {
   public:
    enum class Result { kEvent, kTimeout, kClosed };
    ~Watch();
    // Waits up to `timeout` for the next event.
    Result Next(absl::Duration timeout, WatchEvent* event);
    // With no event pending: every change up to this resourceVersion has been
    // delivered (what a BOOKMARK may carry). "" if unknown.
    std::string ProgressResourceVersion();
    // Why the watch was closed (slow consumer, CloseAllWatches()), or "".
    std::string CloseReason();

   private:
    friend class ObjectStore;
    struct State;
    explicit Watch(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
  };

  ObjectStore();
  explicit ObjectStore(Options options);
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;
  ~ObjectStore();

  // Installs the reconciler (at most one; before concurrent use) and runs it
  // once for every namespace, so that what exists already is reconciled.
  void SetReconciler(Reconciler reconciler) ABSL_LOCKS_EXCLUDED(mu_);
  // Adds an observer (before concurrent use).
  void AddObserver(Observer observer) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` under the store's lock, with a Transaction for its writes (which
  // observers see as their own and do not observe). `fn` must not call the
  // store directly.
  void Transact(const std::function<void(Transaction&)>& fn) ABSL_LOCKS_EXCLUDED(mu_);

  // Creates `object` (metadata.name or metadata.generateName required; namespaced
  // objects need an existing metadata.namespace). Fills uid, resourceVersion,
  // creationTimestamp, kind and apiVersion. Returns the stored object.
  absl::StatusOr<json> Create(Resource resource, json object) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces an existing object. If `object` carries metadata.resourceVersion it
  // must be the current one (Conflict otherwise).
  absl::StatusOr<json> Update(Resource resource, json object) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads, modifies and writes an object atomically. `mutate` may return an error
  // to abort; it runs under the store's lock and must not call the store.
  absl::StatusOr<json> Mutate(Resource resource, const std::string& ns, const std::string& name,
                              const std::function<absl::Status(json&)>& mutate)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes an object; returns its last state. Deleting a Namespace deletes
  // everything in it.
  absl::StatusOr<json> Delete(Resource resource, const std::string& ns, const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<json> Get(Resource resource, const std::string& ns, const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);
  ListResult List(Resource resource, const std::string& ns, const LabelSelector& labels = {},
                  const FieldSelector& fields = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // A list with pagination and resourceVersion semantics. Errors: BadRequest
  // for a malformed continue token, resourceVersion or combination of options
  // (with the real server's wording), Expired (410) for a continue token or
  // Exact version the history no longer reaches, Timeout (504) for a version
  // the store has not reached.
  absl::StatusOr<ListResult> List(Resource resource, const std::string& ns,
                                  const ListOptions& options) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts a watch. BadRequest for a malformed RV, Expired (410) for one older
  // than the history.
  absl::StatusOr<std::unique_ptr<Watch>> StartWatch(Resource resource, WatchOptions options)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::string CurrentResourceVersion() ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the event history: every watch resuming from an RV before now gets
  // 410 Expired (what etcd compaction does).
  void Compact() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every open watch (as an API server restart would).
  void CloseAllWatches(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  // Number of open watches.
  int OpenWatchCount() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct StoredEvent;
  using Key = std::pair<std::string, std::string>;  // namespace, name

  absl::StatusOr<json> CreateLocked(Resource resource, json object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<json> UpdateLocked(Resource resource, json object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<json> DeleteLocked(Resource resource, const std::string& ns,
                                    const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records an event, feeds it to watches and runs the reconciler.
  void CommitLocked(Resource resource, const std::string& type, const json& object, json previous)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ListResult> ListAtLocked(Resource resource, const std::string& ns,
                                          const ListOptions& options, uint64_t at_rv,
                                          const Key* start_after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Server-side defaults for a new or replaced object (`old` is null on create).
  absl::Status DefaultLocked(Resource resource, json& object, const json* old)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string AllocateClusterIpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewUidLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string RandomSuffixLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NowRfc3339() const;

  const Options options_;
  absl::Mutex mu_;
  uint64_t rv_ ABSL_GUARDED_BY(mu_) = 1;
  // Watches from an RV below this get 410: the history before it is gone.
  uint64_t oldest_resumable_rv_ ABSL_GUARDED_BY(mu_) = 1;
  std::array<std::map<Key, json>, kNumResources> objects_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const StoredEvent>> history_ ABSL_GUARDED_BY(mu_);
  size_t history_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Watch::State>> watches_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  Reconciler reconciler_;
  int reconcile_depth_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Observer> observers_;
  int observe_depth_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fakek8s

#endif  // FAKEK8S_OBJECT_STORE_H_
