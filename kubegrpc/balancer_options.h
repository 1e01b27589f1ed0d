// File: kubegrpc/balancer_options.h
// -----------------------------------------------------------------------------
// BalancerOptions: everything a Balancer can be told, in one struct of the
// discovery and pool options plus the pods' channel credentials.

#ifndef KUBEGRPC_BALANCER_OPTIONS_H_
#define KUBEGRPC_BALANCER_OPTIONS_H_

#include <functional>
#include <memory>

#include "grpcpp/grpcpp.h"
#include "kubegrpc/discovery_options.h"
#include "kubegrpc/event.h"
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
  // For logs: each endpoint added, removed, ejected or returned and each
  // discovery error (and recovery), with the Service named. Called on a
  // thread of the Balancer's own, one event at a time in order, with no lock
  // held; it may call into the Balancer (not destroy it). A callback that
  // falls more than 10,000 events behind loses the oldest.
  std::function<void(const BalancerEvent&)> on_event;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_BALANCER_OPTIONS_H_
