// File: kubegrpc/balancer_options.h
// -----------------------------------------------------------------------------
// BalancerOptions: everything a Balancer can be told, in one struct of the
// discovery and pool options plus the pods' channel credentials.

#ifndef KUBEGRPC_BALANCER_OPTIONS_H_
#define KUBEGRPC_BALANCER_OPTIONS_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "kubegrpc/discovery_options.h"
#include "kubegrpc/pool_options.h"

namespace kubegrpc {

class SubchannelFactory;

struct BalancerOptions {
  DiscoveryOptions discovery;  // resync interval, watch, backoff
  PoolOptions pool;            // drain grace, health checks
  // For the pods' channels: insecure by default; grpc::SslCredentials(...) for TLS
  // or mTLS (with GRPC_SSL_TARGET_NAME_OVERRIDE_ARG in `channel_args` when the
  // pods' certificates name the Service rather than the pod IP).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments channel_args;
  // Tests only (//testing:fake_subchannel): the pods' channels come from here
  // instead of real gRPC channels.
  std::shared_ptr<SubchannelFactory> subchannel_factory;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_BALANCER_OPTIONS_H_
