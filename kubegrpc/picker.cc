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

PickerLink::~PickerLink() {
  std::shared_ptr<PickerLink> n = std::move(next);
  // Unlink the chain one link at a time while this is its only owner.
  while (n != nullptr && n.use_count() == 1) {
    std::shared_ptr<PickerLink> after = std::move(n->next);
    n = std::move(after);
  }
}

namespace {

std::vector<PoolEndpoint*> Raw(const std::vector<std::shared_ptr<PoolEndpoint>>& endpoints) {
  std::vector<PoolEndpoint*> raw;
  raw.reserve(endpoints.size());
  for (const auto& e : endpoints) raw.push_back(e.get());
  return raw;
}

std::shared_ptr<const PickerLink> Owning(std::vector<std::shared_ptr<PoolEndpoint>> endpoints) {
  auto link = std::make_shared<PickerLink>();
  link->retired = std::move(endpoints);
  return link;
}

}  // namespace

Picker::Picker(std::vector<std::shared_ptr<PoolEndpoint>> endpoints, uint64_t start,
               absl::Status empty_status)
    : endpoints_(Raw(endpoints)),
      keep_(Owning(std::move(endpoints))),
      next_(start),
      empty_status_(std::move(empty_status)) {}

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
