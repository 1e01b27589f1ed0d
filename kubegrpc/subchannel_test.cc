// GrpcSubchannelFactory with real channels on loopback: connectivity is
// reported as it changes, and destroying the factory does not wait for the
// watches it left pending.

#include "kubegrpc/subchannel.h"

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/named_echo.h"

namespace kubegrpc {
namespace {

TEST(GrpcSubchannelTest, ReportsReadyAndItsFactoryDoesNotWaitForPendingRenewals) {
  // A server to connect to (no services are needed to reach READY).
  testing::NamedEcho echo("pod");
  grpc::ServerBuilder builder;
  builder.RegisterService(&echo);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_GT(port, 0);

  absl::Mutex mu;
  ChannelState last = ChannelState::kIdle;
  // A renewal an hour away: a destructor that waited for pending watches to
  // come back would take that long.
  auto factory = std::make_unique<GrpcSubchannelFactory>(grpc::InsecureChannelCredentials(),
                                                         grpc::ChannelArguments(), absl::Hours(1));
  Endpoint e;
  e.address = "127.0.0.1";
  e.port = port;
  std::unique_ptr<Subchannel> subchannel = factory->Create(e);
  subchannel->Start([&](ChannelState s) {
    absl::MutexLock lock(&mu);
    last = s;
  });
  {
    absl::MutexLock lock(&mu);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return last == ChannelState::kReady; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(60)));
  }
  const absl::Time start = absl::Now();
  subchannel->Shutdown();
  subchannel.reset();
  factory.reset();
  EXPECT_LT(absl::Now() - start, absl::Minutes(1));
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace kubegrpc
