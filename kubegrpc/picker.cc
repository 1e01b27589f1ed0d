#include "kubegrpc/picker.h"

#include <utility>

namespace kubegrpc {

int PoolEndpoint::NextCacheSlot() {
  static std::atomic<int> next{0};
  return next.fetch_add(1);
}

PoolEndpoint::PoolEndpoint(std::string host_port, std::string pod_name,
                           std::shared_ptr<grpc::Channel> channel)
    : host_port_(std::move(host_port)),
      pod_name_(std::move(pod_name)),
      channel_(std::move(channel)) {}

PoolEndpoint::~PoolEndpoint() {
  for (int i = 0; i < kCacheSlots; ++i) {
    void* p = cache_[i].load();
    void (*deleter)(void*) = cache_deleters_[i].load();
    if (p != nullptr && deleter != nullptr) deleter(p);
  }
}

void StateCounts::Add(ChannelState state, int64_t n) {
  switch (state) {
    case ChannelState::kReady:
      ready += n;
      break;
    case ChannelState::kTransientFailure:
    case ChannelState::kShutdown:
      failing += n;
      break;
    case ChannelState::kIdle:
    case ChannelState::kConnecting:
      other += n;
      break;
  }
}

PickTier ChoosePickTier(const StateCounts& counts) {
  if (counts.ready > 0) return PickTier::kReady;
  if (counts.other > 0) return PickTier::kNotFailing;
  return PickTier::kAll;
}

bool InPickTier(PickTier tier, ChannelState state) {
  switch (tier) {
    case PickTier::kReady:
      return state == ChannelState::kReady;
    case PickTier::kNotFailing:
      return state != ChannelState::kTransientFailure && state != ChannelState::kShutdown;
    case PickTier::kAll:
      return true;
  }
  return true;
}

}  // namespace kubegrpc
