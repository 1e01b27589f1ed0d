// File: testing/fake_subchannel.h
// -----------------------------------------------------------------------------
// Fake subchannels for ChannelPool / Balancer tests: no sockets; a test sets each
// endpoint's connectivity state by hand and the pool hears of it at once, on the
// test's thread. Optionally each fake carries a real (never-connected) grpc::Channel
// so that code which copies channels has something to copy.
//
//   auto factory = std::make_shared<kubegrpc::testing::FakeSubchannelFactory>();
//   ... pool.Apply(set) ...
//   factory->SetState("10.0.0.1:8080", kubegrpc::ChannelState::kReady);
//
// Thread-safety: thread-safe.

#ifndef TESTING_FAKE_SUBCHANNEL_H_
#define TESTING_FAKE_SUBCHANNEL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/subchannel.h"

namespace kubegrpc::testing {

class FakeSubchannelFactory : public SubchannelFactory {
 public:
  struct Options {
    ChannelState initial = ChannelState::kIdle;
    // Give each fake a real grpc::Channel (to 127.0.0.1:1, never used for calls).
    bool with_channel = false;
    // Whether the pool should count the fakes against the descriptor limit
    // (they hold none; tests of that limit say they do).
    bool uses_descriptors = false;
  };
  FakeSubchannelFactory() : FakeSubchannelFactory(Options()) {}
  explicit FakeSubchannelFactory(Options options) : options_(options) {}

  // The fakes make no calls: whoever simulates calls records them in `calls`.
  std::unique_ptr<Subchannel> Create(const Endpoint& endpoint,
                                     std::shared_ptr<CallCounters> calls) override;
  bool UsesDescriptors() const override { return options_.uses_descriptors; }

  // Sets the state of the live fake for `host_port` (reporting it if started).
  void SetState(const std::string& host_port, ChannelState state) ABSL_LOCKS_EXCLUDED(mu_);
  // How many fakes were created for `host_port`, and how many are live.
  int created(const std::string& host_port) ABSL_LOCKS_EXCLUDED(mu_);
  int live() ABSL_LOCKS_EXCLUDED(mu_);
  // How often the pool asked the live fake for `host_port` to skip its backoff.
  int resets(const std::string& host_port) ABSL_LOCKS_EXCLUDED(mu_);

  struct Fake;

 private:
  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Fake>> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> created_ ABSL_GUARDED_BY(mu_);
};

struct FakeSubchannelFactory::Fake {
  absl::Mutex mu;
  ChannelState state ABSL_GUARDED_BY(mu) = ChannelState::kIdle;
  std::function<void(ChannelState)> on_change ABSL_GUARDED_BY(mu);
  bool shutdown ABSL_GUARDED_BY(mu) = false;
  int resets ABSL_GUARDED_BY(mu) = 0;
  std::shared_ptr<grpc::Channel> channel;
};

namespace internal_fake {
class FakeSubchannel : public Subchannel {
 public:
  FakeSubchannel(std::shared_ptr<FakeSubchannelFactory::Fake> fake) : fake_(std::move(fake)) {}
  ~FakeSubchannel() override { Shutdown(); }
  std::shared_ptr<grpc::Channel> channel() const override { return fake_->channel; }
  ChannelState state() const override {
    absl::MutexLock lock(&fake_->mu);
    return fake_->state;
  }
  void Start(std::function<void(ChannelState)> on_change) override {
    absl::MutexLock lock(&fake_->mu);
    fake_->on_change = std::move(on_change);
  }
  void ResetBackoff() override {
    absl::MutexLock lock(&fake_->mu);
    ++fake_->resets;
  }
  void Shutdown() override {
    absl::MutexLock lock(&fake_->mu);
    fake_->shutdown = true;
    fake_->on_change = nullptr;
  }

 private:
  std::shared_ptr<FakeSubchannelFactory::Fake> fake_;
};
}  // namespace internal_fake

inline std::unique_ptr<Subchannel> FakeSubchannelFactory::Create(
    const Endpoint& endpoint, std::shared_ptr<CallCounters> calls) {
  auto fake = std::make_shared<Fake>();
  {
    absl::MutexLock lock(&fake->mu);
    fake->state = options_.initial;
  }
  if (options_.with_channel) {
    fake->channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  }
  absl::MutexLock lock(&mu_);
  live_[endpoint.HostPort()] = fake;
  ++created_[endpoint.HostPort()];
  return std::make_unique<internal_fake::FakeSubchannel>(fake);
}

inline void FakeSubchannelFactory::SetState(const std::string& host_port, ChannelState state) {
  std::shared_ptr<Fake> fake;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(host_port);
    if (it == live_.end()) return;
    fake = it->second;
  }
  std::function<void(ChannelState)> notify;
  {
    absl::MutexLock lock(&fake->mu);
    if (fake->state == state) return;
    fake->state = state;
    notify = fake->on_change;
  }
  if (notify) notify(state);
}

inline int FakeSubchannelFactory::created(const std::string& host_port) {
  absl::MutexLock lock(&mu_);
  return created_[host_port];
}

inline int FakeSubchannelFactory::resets(const std::string& host_port) {
  std::shared_ptr<Fake> fake;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(host_port);
    if (it == live_.end()) return 0;
    fake = it->second;
  }
  absl::MutexLock lock(&fake->mu);
  return fake->resets;
}

inline int FakeSubchannelFactory::live() {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (auto& [key, fake] : live_) {
    absl::MutexLock f(&fake->mu);
    if (!fake->shutdown) ++n;
  }
  return n;
}

}  // namespace kubegrpc::testing

#endif  // TESTING_FAKE_SUBCHANNEL_H_
