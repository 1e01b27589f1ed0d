// File: testing/fake_k8s_client.h
// -----------------------------------------------------------------------------
// FakeK8sClient: the one in-process K8sClient of kube-grpc's tests, benchmarks
// and simulations. It answers from fakek8s's ObjectStore (Services and
// EndpointSlices or Endpoints, encoded and decoded as the HTTP client would)
// and from a script that takes precedence (fixed answers, watch sessions,
// failures, an outage). It runs in real time or on a FakeClock.
//
//   fakek8s::ObjectStore store;                     // + an EndpointController, or
//   FakeK8sClient client({.store = &store});        //   slices written by hand
//   client.FailNext(2, absl::UnavailableError("down"));
//   ServiceDiscovery discovery(&client, target, {}, callback);
//
// Watches: a scripted session plays its events and ends as scripted. Else, with
// a store: in real time the stream delivers the store's changes as they happen
// until its timeout or cancellation; on virtual time with `poll` set, each call
// is one poll (what is pending, then `poll` passes); on virtual time without
// `poll`, what is pending and then the clock jumps to the stream's timeout.
// Without a store and a script, a stream is quiet until its timeout.
//
// Thread-safety: thread-safe; no lock is held while a watch callback runs.

#ifndef TESTING_FAKE_K8S_CLIENT_H_
#define TESTING_FAKE_K8S_CLIENT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/object_store.h"
#include "kubegrpc/k8s_client.h"
#include "testing/fake_clock.h"

namespace kubegrpc::testing {

class FakeK8sClient : public K8sClient {
 public:
  struct Options {
    // Where Services and endpoints come from (null: only what is scripted).
    fakek8s::ObjectStore* store = nullptr;
    // Virtual time (null: real time).
    FakeClock* clock = nullptr;
    // Virtual time: a watch call is one poll of a stream that lasts; see above.
    absl::Duration poll = absl::ZeroDuration();
    // Benchmarks: called for each event from the store once its line is
    // encoded, just before it is decoded (on the watching thread).
    std::function<void()> before_decode;
  };
  // A scripted watch stream: its events, then its end after `lasts`.
  struct Session {
    std::vector<WatchEvent> events;
    absl::Status end;
    absl::Duration lasts = absl::Seconds(30);
  };

  FakeK8sClient() : FakeK8sClient(Options()) {}
  explicit FakeK8sClient(Options options) : options_(options) {}

  // --- Script ---
  // Every GetService answers this (instead of the store).
  void ScriptService(absl::StatusOr<ServiceInfo> answer) ABSL_LOCKS_EXCLUDED(mu_);
  // List answers, in order; the last one repeats (instead of the store).
  void ScriptList(EndpointSource source, absl::StatusOr<EndpointObjectList> answer)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets every scripted list answer.
  void ClearLists() ABSL_LOCKS_EXCLUDED(mu_);
  // Watch sessions, in order (then the store, or quiet streams).
  void ScriptWatch(Session session) ABSL_LOCKS_EXCLUDED(mu_);
  // The next `count` requests of any kind fail with `status`.
  void FailNext(int count, absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // While on, every request fails with Unavailable ("simulated API outage").
  void SetOutage(bool outage) ABSL_LOCKS_EXCLUDED(mu_);

  // --- What was asked ---
  // Requests: Service gets, lists, watch streams (in poll mode, a poll that
  // continues the previous one within the stream's timeout counts once).
  int64_t gets() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t lists() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t watches() const ABSL_LOCKS_EXCLUDED(mu_);
  // Lists per "ns/service".
  int64_t lists_of(const std::string& ns_service) const ABSL_LOCKS_EXCLUDED(mu_);
  // "slices" / "endpoints", one per list request, in order.
  std::vector<std::string> list_log() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<WatchRequest> watch_requests() const ABSL_LOCKS_EXCLUDED(mu_);

  // --- K8sClient ---
  absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name,
                                         Cancellation* cancel = nullptr) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // From the store's Node (NotFound without a store or the Node).
  absl::StatusOr<std::string> GetNodeZone(const std::string& node,
                                          Cancellation* cancel = nullptr) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource source, const std::string& ns,
                                                   const std::string& service,
                                                   Cancellation* cancel = nullptr) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WatchEndpoints(EndpointSource source, const std::string& ns,
                              const std::string& service, const WatchRequest& request,
                              const std::function<void(const WatchEvent&)>& on_event,
                              Cancellation* cancel) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // An injected failure for the next request, if any.
  std::optional<absl::Status> InjectedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const;
  // Watches `store` from `rv`, delivering its events until the stream ends.
  absl::Status WatchStore(EndpointSource source, const std::string& ns, const std::string& service,
                          const WatchRequest& request,
                          const std::function<void(const WatchEvent&)>& on_event,
                          Cancellation* cancel);

  const Options options_;
  mutable absl::Mutex mu_;
  std::optional<absl::StatusOr<ServiceInfo>> service_ ABSL_GUARDED_BY(mu_);
  std::map<EndpointSource, std::deque<absl::StatusOr<EndpointObjectList>>> lists_script_
      ABSL_GUARDED_BY(mu_);
  std::deque<Session> sessions_ ABSL_GUARDED_BY(mu_);
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_status_ ABSL_GUARDED_BY(mu_);
  bool outage_ ABSL_GUARDED_BY(mu_) = false;
  int64_t gets_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t lists_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t watches_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> lists_of_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> list_log_ ABSL_GUARDED_BY(mu_);
  std::vector<WatchRequest> watch_requests_ ABSL_GUARDED_BY(mu_);
  // Poll mode: whether the last watch call left a stream open, and when it began.
  bool in_stream_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stream_start_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_K8S_CLIENT_H_
