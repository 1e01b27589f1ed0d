// File: kubegrpc/snapshot.h
// -----------------------------------------------------------------------------
// What a Service looks like from inside kube-grpc, for logs, tests and status
// pages: discovery's state (DiscoveryStatus) and each endpoint's channel
// (EndpointSnapshot). Plain values, copied out under the owners' locks.

#ifndef KUBEGRPC_SNAPSHOT_H_
#define KUBEGRPC_SNAPSHOT_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kubegrpc/channel_state.h"
#include "kubegrpc/endpoint_set.h"

namespace kubegrpc {

struct DiscoveryStatus {
  bool synced = false;           // a list has succeeded at least once
  bool using_endpoints = false;  // fell back to core/v1 Endpoints
  std::string resource_version;
  absl::Status last_error;  // the last failure (OK if none yet)
  absl::Time last_error_at = absl::InfinitePast();
  absl::Time last_success_at = absl::InfinitePast();  // last list or watch event
  int64_t lists = 0;
  int64_t watches = 0;
  int64_t events = 0;
  int64_t errors = 0;
  int64_t expired = 0;  // 410s (each followed by a relist)
  int64_t publishes = 0;
  // The Service's kube-grpc.io/ annotations as last listed (policies for the
  // xDS door; re-read at every relist).
  std::map<std::string, std::string> annotations;
};

struct EndpointSnapshot {
  std::string host_port;
  std::string pod_name;
  std::string zone;
  // Hinted for the client's zone (PoolOptions::zone), so preferred by picks
  // while the zone has enough READY endpoints.
  bool local = false;
  ChannelState state = ChannelState::kIdle;
  bool healthy = true;
  bool draining = false;
  // In the current picker. Picks go to READY endpoints; only while none is
  // READY do they go to the CONNECTING and IDLE ones (and, if all are failing,
  // to all), so "picked" alone does not mean connected: check `state` too.
  bool picked = false;
  // Taken out by outlier detection until `ejected_until`, and why.
  bool ejected = false;
  absl::Time ejected_until = absl::InfinitePast();
  std::string ejection_reason;
  int ejections = 0;  // in a row
  int64_t ejections_total = 0;
  int64_t picks = 0;
  int64_t calls = 0;     // finished calls, as counted on its channel
  int64_t failures = 0;  // of which failed (any code but OK)
  int64_t in_flight = 0;
  absl::Duration mean_latency;  // of the finished calls (0 if none)
  // Finished calls by grpc::StatusCode (index = the code's value).
  std::array<int64_t, 17> calls_by_code = {};
  // The last failed call's grpc::StatusCode (0 = none yet) and when (real time).
  int last_failure_code = 0;
  absl::Time last_failure_at = absl::InfinitePast();
};

// Zone-aware routing (PoolOptions::zone) as a pool applies it now.
struct ZoneRouting {
  std::string client_zone;  // "" if none is known: no zone preference
  bool active = false;      // picks keep to the endpoints hinted for client_zone
  int64_t local = 0;        // endpoints hinted for client_zone (not draining)
  int64_t local_ready = 0;  // of which READY and in rotation
  std::string reason;       // why active or not, in words
};

struct ServiceSnapshot {
  std::string service;  // "ns/name:port"
  DiscoveryStatus discovery;
  std::vector<EndpointSnapshot> endpoints;
  // OK, or why the pool does not hold every usable endpoint (it was subset:
  // PoolOptions::max_endpoints, the descriptor limit).
  absl::Status pool_status;
  ZoneRouting zone;
  // Every endpoint as the API last reported it, usable or not (null before
  // discovery first listed the Service).
  std::shared_ptr<const EndpointSet> endpoint_set;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_SNAPSHOT_H_
