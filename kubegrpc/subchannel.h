// File: kubegrpc/subchannel.h
// -----------------------------------------------------------------------------
// A Subchannel is the pool's handle on one endpoint's gRPC channel: the channel
// itself and its connectivity, reported as it changes (no polling). The real one
// wraps grpc::Channel (GrpcSubchannelFactory); tests use fakes whose state they
// set by hand (//testing:fake_subchannel).
//
// Thread-safety: implementations are thread-safe; `on_change` may be called on
// any thread, never under a lock the pool holds.

#ifndef KUBEGRPC_SUBCHANNEL_H_
#define KUBEGRPC_SUBCHANNEL_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/channel_state.h"
#include "kubegrpc/endpoint_set.h"
#include "kubegrpc/picker.h"

namespace kubegrpc {

struct SubchannelCore;

class Subchannel {
 public:
  virtual ~Subchannel() = default;
  // The channel to make calls on (null for fakes that make no calls).
  virtual std::shared_ptr<grpc::Channel> channel() const = 0;
  virtual ChannelState state() const = 0;
  // Starts connecting and reporting state changes to `on_change`, until Shutdown().
  virtual void Start(std::function<void(ChannelState)> on_change) = 0;
  // Stops reporting. Idempotent. The channel stays usable by whoever holds it.
  virtual void Shutdown() = 0;
  // The API says the pod is ready again: skip any reconnect backoff left from
  // its earlier failures and connect now.
  virtual void ResetBackoff() {}
  // Whether the channel records every call on it into the CallCounters given
  // to Create (the real one does, with an interceptor); if not, the call
  // helper counts its own calls.
  virtual bool CountsCalls() const { return false; }
};

class SubchannelFactory {
 public:
  virtual ~SubchannelFactory() = default;
  // `calls` is the endpoint's call accounting (outcomes feed outlier
  // detection); a factory whose channels make calls should record them there.
  virtual std::unique_ptr<Subchannel> Create(const Endpoint& endpoint,
                                             std::shared_ptr<CallCounters> calls) = 0;
  // Whether each subchannel may hold a descriptor (a connection): the pool then
  // keeps within the process's descriptor limit.
  virtual bool UsesDescriptors() const { return true; }
};

struct WatchQueue;

// Real gRPC channels, one per endpoint, with the given credentials and channel
// arguments; connectivity is watched with NotifyOnStateChange on one completion
// queue and thread shared by all its subchannels. Each watch is renewed every
// `watch_renewal`; a released subchannel's channel lives at most that long
// after (its pending watch holds it). Destruction does not wait: the queue's
// thread drains what is pending and ends on its own.
class GrpcSubchannelFactory : public SubchannelFactory {
 public:
  static constexpr absl::Duration kDefaultWatchRenewal = absl::Seconds(5);
  GrpcSubchannelFactory(std::shared_ptr<grpc::ChannelCredentials> credentials,
                        grpc::ChannelArguments args,
                        absl::Duration watch_renewal = kDefaultWatchRenewal);
  ~GrpcSubchannelFactory() override;  // shuts the queue down; returns at once
  // Each channel carries a call-counting interceptor (internal/call_interceptor.h)
  // into `calls`; none if `calls` is null.
  std::unique_ptr<Subchannel> Create(const Endpoint& endpoint,
                                     std::shared_ptr<CallCounters> calls) override;

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const grpc::ChannelArguments args_;
  const std::shared_ptr<WatchQueue> queue_;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_SUBCHANNEL_H_
