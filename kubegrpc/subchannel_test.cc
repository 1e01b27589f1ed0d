// GrpcSubchannelFactory with real channels on loopback: connectivity is
// reported as it changes, destroying the factory does not wait for the
// watches it left pending, and every call on a channel is counted on its
// endpoint's CallCounters (the interceptor), however it is made.

#include "kubegrpc/subchannel.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/named_echo.h"

namespace kubegrpc {
namespace {

// An echo server on a loopback port of its own (port 0 if it could not start).
struct EchoServer {
  EchoServer() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&echo);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    server = builder.BuildAndStart();
  }
  ~EchoServer() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
  }
  testing::NamedEcho echo{"pod"};
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

TEST(GrpcSubchannelTest, ReportsReadyAndItsFactoryDoesNotWaitForPendingRenewals) {
  // A server to connect to (no services are needed to reach READY).
  EchoServer echo;
  ASSERT_GT(echo.port, 0);
  const int port = echo.port;

  absl::Mutex mu;
  ChannelState last = ChannelState::kIdle;
  // A renewal an hour away: a destructor that waited for pending watches to
  // come back would take that long.
  auto factory = std::make_unique<GrpcSubchannelFactory>(grpc::InsecureChannelCredentials(),
                                                         grpc::ChannelArguments(), absl::Hours(1));
  Endpoint e;
  e.address = "127.0.0.1";
  e.port = port;
  std::unique_ptr<Subchannel> subchannel = factory->Create(e, nullptr);
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
}

TEST(GrpcSubchannelTest, TheChannelCountsEveryCallWithItsCode) {
  EchoServer echo;
  ASSERT_GT(echo.port, 0);
  const int port = echo.port;

  std::atomic<int> streaks{0};
  CallCounters::Rules rules;
  rules.failure_codes = MaskOf({grpc::StatusCode::DEADLINE_EXCEEDED});
  rules.consecutive_failures = 2;
  rules.on_streak = [&](const CallCounters&) { ++streaks; };
  auto calls = std::make_shared<CallCounters>(std::move(rules));
  GrpcSubchannelFactory factory(grpc::InsecureChannelCredentials(), grpc::ChannelArguments());
  Endpoint e;
  e.address = "127.0.0.1";
  e.port = port;
  std::unique_ptr<Subchannel> subchannel = factory.Create(e, calls);
  EXPECT_TRUE(subchannel->CountsCalls());
  auto stub = testing::Echo::NewStub(subchannel->channel());

  for (int i = 0; i < 3; ++i) {  // blocking, OK
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    testing::EchoRequest request;
    testing::EchoResponse response;
    ASSERT_TRUE(stub->Echo(&context, request, &response).ok());
  }
  for (int i = 0; i < 2; ++i) {  // a deadline already past: DEADLINE_EXCEEDED
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
    testing::EchoRequest request;
    testing::EchoResponse response;
    EXPECT_EQ(stub->Echo(&context, request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {  // the callback API, OK
    grpc::ClientContext context;
    testing::EchoRequest request;
    testing::EchoResponse response;
    absl::Notification done;
    stub->async()->Echo(&context, &request, &response, [&](grpc::Status s) {
      EXPECT_TRUE(s.ok());
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  }
  // The status is counted before the call returns to its caller.
  EXPECT_EQ(calls->finished(), 6);
  EXPECT_EQ(calls->failures(), 2);
  EXPECT_EQ(calls->in_flight(), 0);
  EXPECT_EQ(calls->consecutive_failures(), 0);  // the last call succeeded
  EXPECT_EQ(streaks.load(), 1);                 // two DEADLINE_EXCEEDED in a row
  CallCounters::Interval interval = calls->TakeInterval();
  EXPECT_EQ(interval.successes, 4);
  EXPECT_EQ(interval.failures, 2);
  EXPECT_GT(calls->total_latency(), absl::ZeroDuration());
  subchannel->Shutdown();
}

}  // namespace
}  // namespace kubegrpc
