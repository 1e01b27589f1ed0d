// File: kubegrpc/target.h
// -----------------------------------------------------------------------------
// Parsing the name of a Kubernetes Service that a client wants to reach.
//
//   absl::StatusOr<kubegrpc::ServiceTarget> t =
//       kubegrpc::ParseTarget("greeter.prod.svc.cluster.local:50051");
//   // t->name == "greeter", t->ns == "prod", t->port == 50051
//
// Accepted forms (any cluster domain after `.svc.`):
//   name.namespace.svc.cluster.local:port     name.namespace.svc:port
//   name.namespace:port                       name:port  (the client's namespace)
//   kubernetes:///name.namespace:port         (and kubernetes:/// + any form above)
// `port` is the Service's port number or the name of one of its ports (`:grpc`).
//
// Errors: InvalidArgument naming the target, what is wrong and an accepted form.
// Thread-safe (pure functions); ServiceTarget is a value type.

#ifndef KUBEGRPC_TARGET_H_
#define KUBEGRPC_TARGET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kubegrpc {

struct ServiceTarget {
  std::string name;       // the Service's name
  std::string ns;         // its namespace; "" = the client's own namespace
  int port = 0;           // the Service port number, or 0 if port_name is set
  std::string port_name;  // the Service port's name, or "" if port is set

  // "namespace/name:port" (namespace "<default>" while unresolved).
  std::string ToString() const;
  bool operator==(const ServiceTarget& o) const {
    return name == o.name && ns == o.ns && port == o.port && port_name == o.port_name;
  }
};

absl::StatusOr<ServiceTarget> ParseTarget(absl::string_view target);

}  // namespace kubegrpc

#endif  // KUBEGRPC_TARGET_H_
