#include "kubegrpc/subchannel.h"

#include <atomic>
#include <utility>

#include "absl/time/clock.h"
#include "kubegrpc/internal/call_interceptor.h"
#include "kubegrpc/internal/tsan.h"

namespace kubegrpc {

namespace {

ChannelState FromGrpc(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_IDLE:
      return ChannelState::kIdle;
    case GRPC_CHANNEL_CONNECTING:
      return ChannelState::kConnecting;
    case GRPC_CHANNEL_READY:
      return ChannelState::kReady;
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return ChannelState::kTransientFailure;
    case GRPC_CHANNEL_SHUTDOWN:
      return ChannelState::kShutdown;
  }
  return ChannelState::kIdle;
}

}  // namespace

// Shared by a GrpcSubchannel and its pending watch (which may outlive it).
struct SubchannelCore {
  std::shared_ptr<grpc::Channel> channel;
  absl::Mutex mu;
  bool shutdown ABSL_GUARDED_BY(mu) = false;
  grpc_connectivity_state last ABSL_GUARDED_BY(mu) = GRPC_CHANNEL_IDLE;
  std::function<void(ChannelState)> on_change ABSL_GUARDED_BY(mu);
};

// The completion queue whose thread hears of every subchannel's connectivity.
// Shared with that thread, which outlives the factory: a pending watch can only
// complete (at its renewal deadline), not be cancelled, so the factory does not
// wait for them; the thread drains the queue and frees it.
struct WatchQueue {
  struct Watch {
    std::shared_ptr<SubchannelCore> core;
    grpc_connectivity_state watched;
  };

  explicit WatchQueue(absl::Duration renewal) : renewal(renewal) {}

  // Asks to hear when `core`'s channel leaves state `from` (or a renewal is due).
  void Arm(const std::shared_ptr<SubchannelCore>& core, grpc_connectivity_state from)
      ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    if (shut_down) return;  // the queue takes no new operations
    auto* watch = new Watch{core, from};
    internal::TsanHandOff(watch);  // comes back from the queue on Loop()'s thread
    core->channel->NotifyOnStateChange(
        from, std::chrono::system_clock::now() + absl::ToChronoMicroseconds(renewal), &cq, watch);
  }
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    shut_down = true;
    cq.Shutdown();
  }
  // Until the queue is shut down and drained.
  static void Loop(std::shared_ptr<WatchQueue> queue);

  const absl::Duration renewal;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  grpc::CompletionQueue cq;
};

namespace {

class GrpcSubchannel : public Subchannel {
 public:
  GrpcSubchannel(std::shared_ptr<grpc::Channel> channel, std::shared_ptr<WatchQueue> queue,
                 bool counts_calls)
      : core_(std::make_shared<SubchannelCore>()),
        queue_(std::move(queue)),
        counts_calls_(counts_calls) {
    core_->channel = std::move(channel);
  }
  ~GrpcSubchannel() override { Shutdown(); }

  std::shared_ptr<grpc::Channel> channel() const override { return core_->channel; }
  bool CountsCalls() const override { return counts_calls_; }
  ChannelState state() const override {
    absl::MutexLock lock(&core_->mu);
    return FromGrpc(core_->last);
  }
  void ResetBackoff() override {
    grpc::experimental::ChannelResetConnectionBackoff(core_->channel.get());
    core_->channel->GetState(/*try_to_connect=*/true);
  }
  void Start(std::function<void(ChannelState)> on_change) override {
    grpc_connectivity_state now = core_->channel->GetState(/*try_to_connect=*/true);
    {
      absl::MutexLock lock(&core_->mu);
      core_->on_change = std::move(on_change);
      core_->last = now;
    }
    queue_->Arm(core_, now);
  }
  void Shutdown() override {
    absl::MutexLock lock(&core_->mu);
    core_->shutdown = true;
    core_->on_change = nullptr;
  }

 private:
  std::shared_ptr<SubchannelCore> core_;
  std::shared_ptr<WatchQueue> queue_;
  const bool counts_calls_;  // it has the call-counting interceptor
};

}  // namespace

GrpcSubchannelFactory::GrpcSubchannelFactory(std::shared_ptr<grpc::ChannelCredentials> credentials,
                                             grpc::ChannelArguments args,
                                             absl::Duration watch_renewal)
    : credentials_(std::move(credentials)),
      args_(std::move(args)),
      queue_(std::make_shared<WatchQueue>(watch_renewal)) {
  std::thread([queue = queue_] { WatchQueue::Loop(queue); }).detach();
}

GrpcSubchannelFactory::~GrpcSubchannelFactory() { queue_->Shutdown(); }

std::unique_ptr<Subchannel> GrpcSubchannelFactory::Create(const Endpoint& endpoint,
                                                          std::shared_ptr<CallCounters> calls) {
  // "ipv4:" / "ipv6:" targets skip DNS for IP addresses; names go through DNS.
  const std::string target = endpoint.HostPort();
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  const bool counts = calls != nullptr;
  if (counts) {
    interceptors.push_back(std::make_unique<internal::CallCountingFactory>(std::move(calls)));
  }
  std::shared_ptr<grpc::Channel> channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      target, credentials_, args_, std::move(interceptors));
  return std::make_unique<GrpcSubchannel>(std::move(channel), queue_, counts);
}

void WatchQueue::Loop(std::shared_ptr<WatchQueue> queue) {
  void* tag = nullptr;
  bool ok = false;
  while (queue->cq.Next(&tag, &ok)) {
    internal::TsanTakeOver(tag);
    std::unique_ptr<Watch> watch(static_cast<Watch*>(tag));
    std::shared_ptr<SubchannelCore> core = watch->core;
    grpc_connectivity_state now = core->channel->GetState(/*try_to_connect=*/false);
    std::function<void(ChannelState)> notify;
    {
      absl::MutexLock lock(&core->mu);
      if (core->shutdown) continue;  // released: let the channel go
      if (now != core->last) {
        core->last = now;
        notify = core->on_change;
      }
    }
    // An IDLE channel reconnects only when asked: a pod's channel should stay warm.
    if (now == GRPC_CHANNEL_IDLE) core->channel->GetState(/*try_to_connect=*/true);
    if (notify) notify(FromGrpc(now));
    queue->Arm(core, now);
  }
}

}  // namespace kubegrpc
