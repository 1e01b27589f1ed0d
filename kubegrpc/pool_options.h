// File: kubegrpc/pool_options.h
// -----------------------------------------------------------------------------
// How a Service's pool of channels behaves: how long a removed pod's channel is
// kept for calls already made, optional health checks (grpc.health.v1 or the
// caller's own check, the original package's Ping), and passive outlier
// detection from the calls' results (on by default).

#ifndef KUBEGRPC_POOL_OPTIONS_H_
#define KUBEGRPC_POOL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "kubegrpc/clock.h"

namespace kubegrpc {

class PoolEndpoint;

struct HealthCheckOptions {
  enum class Mode { kNone, kGrpcHealth, kCustom };
  Mode mode = Mode::kNone;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  // kGrpcHealth: the service name to ask about ("" = the whole server). A server
  // without the health service counts as healthy, as in gRPC's own client-side
  // health checking.
  std::string service;
  // kCustom: the caller's check (the original package's Ping). It should return
  // by `deadline`; an error, an exception or an answer after the deadline takes
  // the endpoint out of rotation until a later check passes. In real time each
  // check runs on a thread of its own: one that hangs only keeps its endpoint
  // out (no new check of it starts until it returns) and never holds up the
  // pool or its shutdown, which waits for checks at most `timeout` and then
  // abandons them. On virtual time (no worker), checks run inline.
  std::function<absl::Status(PoolEndpoint& endpoint, absl::Time deadline)> ping;
};

// Passive outlier detection: the pool learns from the calls themselves
// (counted on every pod's channel) and takes out, for a while, an endpoint
// that fails them, at no cost in extra RPCs. gRPC's A50 semantics, plus
// Envoy's consecutive-failures rule:
//  - an endpoint whose last `consecutive_failures` calls all ended with one of
//    `failure_codes` is ejected at once;
//  - every `interval`, the success-rate rule (and the failure-percentage rule,
//    if set) runs over the calls of that interval, as in A50;
//  - an ejection lasts base_ejection_time x (its ejections in a row), at most
//    max(base_ejection_time, max_ejection_time); the count falls by one per
//    interval the endpoint spends in the pool;
//  - at most max_ejection_percent % of the pool's endpoints are ejected at a
//    time (with any percentage above 0, at least one may be), and never the
//    last READY endpoint: a bad deploy never empties the pool.
// Only `failure_codes` count against an endpoint: other errors (NOT_FOUND,
// INVALID_ARGUMENT, ...) are the request's fault: they count neither way in
// the rates, but they end a run of failures (the endpoint answered).
struct OutlierDetectionOptions {
  bool enabled = true;
  std::vector<grpc::StatusCode> failure_codes = {
      grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
      grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN};
  int consecutive_failures = 5;  // 0: off
  absl::Duration interval = absl::Seconds(10);
  absl::Duration base_ejection_time = absl::Seconds(30);
  absl::Duration max_ejection_time = absl::Seconds(300);
  int max_ejection_percent = 10;
  struct SuccessRate {
    int stdev_factor = 1900;  // threshold: mean - stdev x stdev_factor / 1000
    int enforcement_percentage = 100;
    int minimum_hosts = 5;
    int request_volume = 100;  // calls in the interval for an endpoint to count
  };
  std::optional<SuccessRate> success_rate = SuccessRate{};
  struct FailurePercentage {
    int threshold = 85;  // eject above this % of failed calls
    int enforcement_percentage = 100;
    int minimum_hosts = 5;
    int request_volume = 50;
  };
  std::optional<FailurePercentage> failure_percentage;  // off, as in gRPC
};

// OK, or InvalidArgument naming the field that is out of range.
absl::Status ValidateOutlierDetection(const OutlierDetectionOptions& options);

// How a pick chooses among the endpoints in rotation.
enum class PickPolicy {
  // In turn (gRPC's round_robin): one atomic increment per pick.
  kRoundRobin,
  // Power of two choices: two endpoints at random, the one with fewer calls
  // in flight (as counted on its channel); as lock-free as round-robin. A slow
  // pod gets fewer calls; with equal pods it spreads like round-robin.
  kLeastRequest,
};

struct PoolOptions {
  // How long a removed endpoint's channel is kept for calls already picked.
  absl::Duration drain_grace = absl::Seconds(10);
  PickPolicy policy = PickPolicy::kRoundRobin;
  HealthCheckOptions health;
  OutlierDetectionOptions outlier_detection;
  // Run maintenance (health checks, drain expiry) on a thread of the pool's own.
  // Tests on virtual time turn this off and call RunMaintenance().
  bool start_worker = true;
  Clock* clock = nullptr;  // default RealClock()
  uint64_t seed = 1;       // where round-robin starts
  // At most this many endpoints get a channel. Past it (or past what the
  // process's descriptor limit, RLIMIT_NOFILE, leaves room for), the pool keeps
  // a deterministic subset: rendezvous hashing of `subset_key` with each
  // endpoint's host:port, so a client keeps the same subset as the Service
  // changes and clients spread evenly over the endpoints. The pool's status
  // (ServiceSnapshot::pool_status) says so.
  size_t max_endpoints = 10000;
  // Who this client is, for subsetting; "" = the host name (a pod's name).
  std::string subset_key;
  // The client's zone, for zone-aware routing. "" = found by the Balancer:
  // the KUBEGRPC_ZONE environment variable, else, when NODE_NAME is set (the
  // downward API's spec.nodeName), that Node's topology.kubernetes.io/zone
  // label, read once through the API (RBAC: get on nodes). With no zone known,
  // picks ignore zones.
  //
  // With a zone, the pool honours the Service's trafficDistribution through
  // the hints the API's EndpointSlice controller derives from it
  // (PreferSameZone, or its older name PreferClose: hints.forZones), as
  // kube-proxy does: when every endpoint carries a hint and some are hinted
  // for this zone, picks keep to those ("local") while at least one of them,
  // and at least half of them, are READY and in rotation (not ejected, not
  // failing health checks); otherwise picks spill over to every zone (the
  // usual rules). Endpoints without hints: no zone preference.
  std::string zone;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_POOL_OPTIONS_H_
