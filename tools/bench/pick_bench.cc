// Pick overhead: ns per Next() through a Balancer (lock-free RCU picker), beside
// (a) copying one shared_ptr<grpc::Channel> - the floor, since Next() returns
// one - and (b) a re-creation of the original Go package's pick path (one global
// exclusive lock, a map lookup by service name, a random pick), labelled as such.
// The endpoints' channels are real grpc::Channel objects that never connect.
//
//   bazel run -c opt //tools/bench:pick_bench

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"
#include "kubegrpc/balancer.h"
#include "testing/fake_subchannel.h"
#include "tools/bench/bench_util.h"

namespace {

using kubegrpc::ChannelState;

// A Service of `n` ready endpoints in one slice; its watch stays quiet.
std::unique_ptr<kubegrpc::bench::SliceService> StaticService(int n) {
  std::vector<std::pair<std::string, bool>> endpoints;
  for (int i = 0; i < n; ++i) {
    endpoints.push_back({absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256), true});
  }
  return std::make_unique<kubegrpc::bench::SliceService>(
      "bench", "web",
      std::vector<nlohmann::json>{
          kubegrpc::bench::MakeSlice("bench", "web", "web-0", 8080, endpoints)});
}

struct Fixture {
  explicit Fixture(int n) {
    kubegrpc::BalancerOptions options;
    options.subchannel_factory = std::make_shared<kubegrpc::testing::FakeSubchannelFactory>(
        kubegrpc::testing::FakeSubchannelFactory::Options{.initial = ChannelState::kReady,
                                                          .with_channel = true});
    service = StaticService(n);
    balancer = *kubegrpc::Balancer::Create(service->client(), "bench", options);
    handle = *balancer->Connect("web:80");
    (void)balancer->WaitForReady("web:80", absl::Now() + absl::Seconds(60));
    // Wait until every endpoint is in the picker.
    for (int i = 0; i < 6000; ++i) {
      int picked = 0;
      const std::vector<kubegrpc::ServiceSnapshot> snapshot = balancer->Snapshot();
      for (const auto& e : snapshot[0].endpoints) picked += e.picked ? 1 : 0;
      if (picked == n) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  std::unique_ptr<kubegrpc::bench::SliceService> service;
  std::unique_ptr<kubegrpc::Balancer> balancer;
  kubegrpc::ChannelHandle handle;
};

Fixture* GetFixture(int n) {
  static std::map<int, Fixture*>* fixtures = new std::map<int, Fixture*>();
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  Fixture*& f = (*fixtures)[n];
  if (f == nullptr) f = new Fixture(n);  // kept for the process: threads share it
  return f;
}

void BM_BalancerNext(benchmark::State& state) {
  Fixture* f = GetFixture(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = f->handle.Next();
    benchmark::DoNotOptimize(channel);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(state.range(0), " endpoints"));
}
BENCHMARK(BM_BalancerNext)
    ->Arg(3)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

// The floor: Next() hands out a shared_ptr<grpc::Channel>, so it cannot be
// cheaper than copying one (whose reference count all threads share).
void BM_SharedPtrChannelCopy(benchmark::State& state) {
  static std::shared_ptr<grpc::Channel>* channel = new std::shared_ptr<grpc::Channel>(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  for (auto _ : state) {
    std::shared_ptr<grpc::Channel> copy = *channel;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("floor: one shared_ptr copy");
}
BENCHMARK(BM_SharedPtrChannelCopy)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();

// A C++ re-creation of the original Go package's pick path: one global
// exclusive lock, a map lookup by service name, a random pick.
void BM_OriginalDesignPick(benchmark::State& state) {
  struct Original {
    std::mutex mu;
    std::map<std::string, std::vector<std::shared_ptr<grpc::Channel>>> services;
    std::mt19937_64 rng{1};
  };
  // One instance per endpoint count, shared by the threads of a run.
  static std::mutex instances_mu;
  static std::map<int64_t, Original*>* instances = new std::map<int64_t, Original*>();
  Original* original;
  {
    std::lock_guard<std::mutex> lock(instances_mu);
    Original*& o = (*instances)[state.range(0)];
    if (o == nullptr) {
      o = new Original();
      // Distinct channels, like one per pod (only "web" is picked from).
      for (const char* name : {"auth", "billing", "web", "search"}) {
        for (int64_t i = 0; i < state.range(0); ++i) {
          o->services[name].push_back(
              grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
        }
      }
    }
    original = o;
  }
  for (auto _ : state) {
    std::shared_ptr<grpc::Channel> picked;
    {
      std::lock_guard<std::mutex> lock(original->mu);
      auto& v = original->services["web"];
      picked = v[original->rng() % v.size()];
    }
    benchmark::DoNotOptimize(picked);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(
      absl::StrCat("re-creation of the original's design, ", state.range(0), " endpoints"));
}
BENCHMARK(BM_OriginalDesignPick)
    ->Arg(3)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
