// File: kubegrpc/pool_options.h
// -----------------------------------------------------------------------------
// How a Service's pool of channels behaves: how long a removed pod's channel is
// kept for calls already made, and optional health checks (grpc.health.v1 or
// the caller's own check, the original package's Ping).

#ifndef KUBEGRPC_POOL_OPTIONS_H_
#define KUBEGRPC_POOL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
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

struct PoolOptions {
  // How long a removed endpoint's channel is kept for calls already picked.
  absl::Duration drain_grace = absl::Seconds(10);
  HealthCheckOptions health;
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
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_POOL_OPTIONS_H_
