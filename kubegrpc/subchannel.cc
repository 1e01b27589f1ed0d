#include "kubegrpc/subchannel.h"

#include <atomic>
#include <utility>

#include "absl/time/clock.h"
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

// How long one NotifyOnStateChange waits before it is renewed. Renewal is cheap;
// the bound is how long a released subchannel's channel can outlive its pool.
constexpr absl::Duration kWatchRenewal = absl::Seconds(5);

}  // namespace

// Shared by a GrpcSubchannel and its pending watch (which may outlive it).
struct SubchannelCore {
  std::shared_ptr<grpc::Channel> channel;
  absl::Mutex mu;
  bool shutdown ABSL_GUARDED_BY(mu) = false;
  grpc_connectivity_state last ABSL_GUARDED_BY(mu) = GRPC_CHANNEL_IDLE;
  std::function<void(ChannelState)> on_change ABSL_GUARDED_BY(mu);
};

struct GrpcSubchannelFactory::Watch {
  std::shared_ptr<SubchannelCore> core;
  grpc_connectivity_state watched;
};

void GrpcSubchannelFactory::Arm(const std::shared_ptr<SubchannelCore>& core,
                                grpc_connectivity_state from) {
  absl::MutexLock lock(&arm_mu_);
  if (shut_down_) return;  // the queue takes no new operations
  auto* watch = new Watch{core, from};
  internal::TsanHandOff(watch);  // comes back from the queue on Loop()'s thread
  core->channel->NotifyOnStateChange(
      from, std::chrono::system_clock::now() + absl::ToChronoSeconds(kWatchRenewal), &cq_, watch);
}

namespace {

class GrpcSubchannel : public Subchannel {
 public:
  GrpcSubchannel(std::shared_ptr<grpc::Channel> channel, GrpcSubchannelFactory* factory)
      : core_(std::make_shared<SubchannelCore>()), factory_(factory) {
    core_->channel = std::move(channel);
  }
  ~GrpcSubchannel() override { Shutdown(); }

  std::shared_ptr<grpc::Channel> channel() const override { return core_->channel; }
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
    factory_->Arm(core_, now);
  }
  void Shutdown() override {
    absl::MutexLock lock(&core_->mu);
    core_->shutdown = true;
    core_->on_change = nullptr;
  }

 private:
  std::shared_ptr<SubchannelCore> core_;
  GrpcSubchannelFactory* factory_;
};

}  // namespace

GrpcSubchannelFactory::GrpcSubchannelFactory(std::shared_ptr<grpc::ChannelCredentials> credentials,
                                             grpc::ChannelArguments args)
    : credentials_(std::move(credentials)), args_(std::move(args)) {
  thread_ = std::thread([this] { Loop(); });
}

GrpcSubchannelFactory::~GrpcSubchannelFactory() {
  {
    absl::MutexLock lock(&arm_mu_);
    shut_down_ = true;
    cq_.Shutdown();
  }
  thread_.join();
}

std::unique_ptr<Subchannel> GrpcSubchannelFactory::Create(const Endpoint& endpoint) {
  // "ipv4:" / "ipv6:" targets skip DNS for IP addresses; names go through DNS.
  const std::string target = endpoint.HostPort();
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target, credentials_, args_);
  return std::make_unique<GrpcSubchannel>(std::move(channel), this);
}

void GrpcSubchannelFactory::Loop() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
    internal::TsanTakeOver(tag);
    std::unique_ptr<Watch> watch(static_cast<Watch*>(tag));
    std::shared_ptr<SubchannelCore> core = watch->core;
    grpc_connectivity_state now = core->channel->GetState(/*try_to_connect=*/false);
    std::function<void(ChannelState)> notify;
    bool rearm = false;
    {
      absl::MutexLock lock(&core->mu);
      if (core->shutdown) continue;  // released: let the channel go
      if (now != core->last) {
        core->last = now;
        notify = core->on_change;
      }
      rearm = true;
    }
    // An IDLE channel reconnects only when asked: a pod's channel should stay warm.
    if (now == GRPC_CHANNEL_IDLE) core->channel->GetState(/*try_to_connect=*/true);
    if (notify) notify(FromGrpc(now));
    if (rearm) Arm(core, now);
  }
}

}  // namespace kubegrpc
