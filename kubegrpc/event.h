// File: kubegrpc/event.h
// -----------------------------------------------------------------------------
// BalancerEvent: one thing a Balancer's pools or discovery did, for logs
// (BalancerOptions::on_event): an endpoint added, removed, ejected as an
// outlier or back from it; a discovery error, or discovery working again;
// zone-aware routing turning on or off, and the client's zone.

#ifndef KUBEGRPC_EVENT_H_
#define KUBEGRPC_EVENT_H_

#include <string>

#include "absl/time/time.h"

namespace kubegrpc {

struct BalancerEvent {
  enum class Kind {
    kEndpointAdded,       // discovery reported it usable: a channel is made
    kEndpointRemoved,     // no longer usable: it drains
    kEndpointEjected,     // outlier detection took it out (`detail`: why, and for how long)
    kEndpointReturned,    // back from an ejection
    kDiscoveryError,      // a request to the Kubernetes API failed (`detail`: the error)
    kDiscoveryRecovered,  // the first list or watch event after errors
    kZoneRouting,         // a Service's picks began or stopped keeping to the client's zone
    kClientZone,          // the client's zone was found, or could not be (`detail`)
  };
  Kind kind = Kind::kEndpointAdded;
  std::string service;  // "ns/name:port"
  std::string address;  // "ip:port" (endpoint events)
  std::string pod;      // the endpoint's pod (endpoint events)
  std::string detail;
  absl::Time time;  // when it happened, by the balancer's clock
};

// "endpoint_added", "endpoint_removed", ...
inline const char* KindName(BalancerEvent::Kind kind) {
  switch (kind) {
    case BalancerEvent::Kind::kEndpointAdded:
      return "endpoint_added";
    case BalancerEvent::Kind::kEndpointRemoved:
      return "endpoint_removed";
    case BalancerEvent::Kind::kEndpointEjected:
      return "endpoint_ejected";
    case BalancerEvent::Kind::kEndpointReturned:
      return "endpoint_returned";
    case BalancerEvent::Kind::kDiscoveryError:
      return "discovery_error";
    case BalancerEvent::Kind::kDiscoveryRecovered:
      return "discovery_recovered";
    case BalancerEvent::Kind::kZoneRouting:
      return "zone_routing";
    case BalancerEvent::Kind::kClientZone:
      return "client_zone";
  }
  return "unknown";
}

}  // namespace kubegrpc

#endif  // KUBEGRPC_EVENT_H_
