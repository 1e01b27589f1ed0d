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
#include "grpcpp/grpcpp.h"
#include "kubegrpc/channel_state.h"
#include "kubegrpc/endpoint_set.h"

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
};

class SubchannelFactory {
 public:
  virtual ~SubchannelFactory() = default;
  virtual std::unique_ptr<Subchannel> Create(const Endpoint& endpoint) = 0;
};

// Real gRPC channels, one per endpoint, with the given credentials and channel
// arguments; connectivity is watched with NotifyOnStateChange on one completion
// queue and thread shared by all its subchannels.
class GrpcSubchannelFactory : public SubchannelFactory {
 public:
  GrpcSubchannelFactory(std::shared_ptr<grpc::ChannelCredentials> credentials,
                        grpc::ChannelArguments args);
  ~GrpcSubchannelFactory() override;  // shuts the queue down and joins its thread
  std::unique_ptr<Subchannel> Create(const Endpoint& endpoint) override;

  struct Watch;  // one pending NotifyOnStateChange
  // Asks to hear when `core`'s channel leaves state `from` (or a renewal is due).
  void Arm(const std::shared_ptr<SubchannelCore>& core, grpc_connectivity_state from)
      ABSL_LOCKS_EXCLUDED(arm_mu_);

 private:
  void Loop();
  absl::Mutex arm_mu_;
  bool shut_down_ ABSL_GUARDED_BY(arm_mu_) = false;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const grpc::ChannelArguments args_;
  grpc::CompletionQueue cq_;
  std::thread thread_;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_SUBCHANNEL_H_
