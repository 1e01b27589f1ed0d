// File: kubegrpc/metrics.h
// -----------------------------------------------------------------------------
// What the pool is doing, without writing code: Prometheus metrics (text
// exposition, built with Debian's prometheus-cpp core) and an HTML status page,
// served together on one loopback or pod port. Optional: link
// //kubegrpc:metrics only if you want it.
//
//   auto server = kubegrpc::ServeMetrics(*balancer, "0.0.0.0:9464");
//   // GET /metrics  (Prometheus scrape)     GET /status  (HTML, refreshes itself)
//
// Metrics, each labelled with the Service ("ns/name:port"):
//   kubegrpc_endpoints{state}                 gauge: endpoints by state (ready,
//                                             connecting, idle, transient_failure,
//                                             unhealthy, ejected, draining)
//   kubegrpc_endpoint_picks_total{pod,address}
//   kubegrpc_endpoint_calls_total{pod,address,code}   finished calls by gRPC code
//   kubegrpc_endpoint_in_flight{pod,address}
//   kubegrpc_endpoint_ejections_total{pod,address}
//   kubegrpc_discovery_lists_total, _watches_total, _events_total, _errors_total
//   kubegrpc_discovery_synced                 gauge: 1 once a list has succeeded
//   kubegrpc_discovery_last_update_age_seconds  since the last list or watch event
//
// Values are read from Balancer::Snapshot() at each scrape: nothing is
// counted twice and an idle balancer costs nothing.
//
// Thread-safety: thread-safe. The balancer must outlive the server.

#ifndef KUBEGRPC_METRICS_H_
#define KUBEGRPC_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kubegrpc/balancer.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace kubegrpc {

// The balancer's state as Prometheus metric families; register it with your
// own prometheus::Exposer or Registry-based setup if you have one.
class BalancerCollector : public prometheus::Collectable {
 public:
  explicit BalancerCollector(const Balancer& balancer) : balancer_(balancer) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Balancer& balancer_;
};

// The text of the status page for these snapshots; `rates` holds each
// endpoint's calls per second since the previous page, by "service|address".
std::string StatusPage(const std::vector<ServiceSnapshot>& services,
                       const std::map<std::string, double>& rates, absl::Time now);

class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
  // The port it listens on (useful with port 0).
  virtual int port() const = 0;
};

// Serves /metrics and /status for `balancer` on `address` ("host:port"; port 0
// picks a free one). InvalidArgument for an address that does not parse,
// Unavailable if it cannot be bound. Stops when the returned object is destroyed.
absl::StatusOr<std::unique_ptr<MetricsServer>> ServeMetrics(const Balancer& balancer,
                                                            const std::string& address);

}  // namespace kubegrpc

#endif  // KUBEGRPC_METRICS_H_
