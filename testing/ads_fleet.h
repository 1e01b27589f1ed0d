// File: testing/ads_fleet.h
// -----------------------------------------------------------------------------
// AdsFleet: many xDS clients in one process, for tests and benchmarks of a
// control plane (kube-grpc-xds, AdsServer). Each member is one ADS stream
// (state of the world, v3) that subscribes to the ClusterLoadAssignments of
// the given clusters ("ns/name:port") and ACKs every response at once, as
// gRPC's own xDS client does; it keeps, per cluster, how many endpoints the
// last response said were HEALTHY and when that response arrived.
//
//   auto fleet = kubegrpc::testing::AdsFleet::Start("127.0.0.1:18000", 1000,
//                                                   {"demo/web:80", "demo/api:80"});
//   (*fleet)->WaitUntil([&](const auto& views) { ... }, absl::Seconds(30));
//
// Streams run on gRPC's callback API (no thread per stream) and are spread
// over `channels` connections (a real fleet has one per process).
//
// Thread-safety: thread-safe. Errors: Start answers InvalidArgument without a
// stream or a cluster; a stream the server ends is counted in ended().

#ifndef TESTING_ADS_FLEET_H_
#define TESTING_ADS_FLEET_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kubegrpc::testing {

class AdsFleet {
 public:
  // What one member knows of one cluster.
  struct ClusterView {
    size_t healthy = 0;  // HEALTHY endpoints (counted: parsing stays cheap for big fleets)
    absl::Time received = absl::InfinitePast();
    int64_t responses = 0;  // that carried this cluster
  };
  using MemberView = std::map<std::string, ClusterView>;  // by cluster name

  struct Options {
    int channels = 0;  // connections the streams share; 0: one per 10 streams
    std::string node_prefix = "fleet";
  };
  static absl::StatusOr<std::unique_ptr<AdsFleet>> Start(const std::string& address, int streams,
                                                         std::vector<std::string> clusters,
                                                         Options options);
  static absl::StatusOr<std::unique_ptr<AdsFleet>> Start(const std::string& address, int streams,
                                                         std::vector<std::string> clusters) {
    return Start(address, streams, std::move(clusters), Options());
  }
  ~AdsFleet();  // cancels every stream and waits for them

  // A WaitUntil condition: every member's last response for `cluster` said
  // `healthy` endpoints were HEALTHY.
  static std::function<bool(const std::vector<MemberView>&)> AllSee(const std::string& cluster,
                                                                    size_t healthy);

  // Waits until `done` holds over every member's view (checked when any
  // response arrives, and every 10 ms); false after `timeout`.
  bool WaitUntil(const std::function<bool(const std::vector<MemberView>&)>& done,
                 absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<MemberView> Views() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t responses() const ABSL_LOCKS_EXCLUDED(mu_);
  // Streams that ended (the server closed them, or failed).
  int ended() const ABSL_LOCKS_EXCLUDED(mu_);

  class Member;  // one stream

 private:
  AdsFleet() = default;
  friend class Member;
  void Record(int index, const std::string& cluster, size_t healthy, absl::Time at)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Ended(int index) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<std::unique_ptr<Member>> members_;
  mutable absl::Mutex mu_;
  std::vector<MemberView> views_ ABSL_GUARDED_BY(mu_);
  int64_t responses_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kubegrpc::testing

#endif  // TESTING_ADS_FLEET_H_
