#include "testing/fake_pod.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "testing/matchers.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc::testing {
namespace {

grpc::Status CallEcho(const std::string& address, EchoResponse* response) {
  auto stub = Echo::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  EchoRequest request;
  request.set_message("hi");
  return stub->Echo(&ctx, request, response);
}

TEST(FakePodTest, ServesIdentityOnItsOwnAddressAndSharesThePort) {
  LoopbackSubnet subnet;
  auto a = FakePod::Start("web-0", subnet.Next(), 0, "uid-0");
  ASSERT_THAT(a, IsOk());
  auto b = FakePod::Start("web-1", subnet.Next(), (*a)->port());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*a)->port(), (*b)->port());
  EXPECT_NE((*a)->ip(), (*b)->ip());
  EchoResponse r;
  ASSERT_TRUE(CallEcho((*a)->address(), &r).ok());
  EXPECT_EQ(r.pod_name(), "web-0");
  EXPECT_EQ(r.pod_ip(), (*a)->ip());
  EXPECT_EQ(r.pod_uid(), "uid-0");
  EXPECT_EQ(r.incarnation(), 1u);
  ASSERT_TRUE(CallEcho((*b)->address(), &r).ok());
  EXPECT_EQ(r.pod_name(), "web-1");
}

TEST(FakePodTest, FailuresLatencyHealthCrashAndRestart) {
  LoopbackSubnet subnet;
  auto pod = FakePod::Start("web-0", subnet.Next(), 0);
  ASSERT_THAT(pod, IsOk());
  (*pod)->FailNextCalls(2, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EchoResponse r;
  EXPECT_EQ(CallEcho((*pod)->address(), &r).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CallEcho((*pod)->address(), &r).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(CallEcho((*pod)->address(), &r).ok());

  (*pod)->SetLatency(absl::Milliseconds(100));
  absl::Time start = absl::Now();
  EXPECT_TRUE(CallEcho((*pod)->address(), &r).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  (*pod)->SetLatency(absl::ZeroDuration());

  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel((*pod)->address(), grpc::InsecureChannelCredentials()));
  (*pod)->SetServing(false);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  (*pod)->Crash();
  EXPECT_FALSE((*pod)->running());
  EXPECT_EQ(CallEcho((*pod)->address(), &r).error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_THAT((*pod)->Restart(), IsOk());
  ASSERT_TRUE(CallEcho((*pod)->address(), &r).ok());
  EXPECT_EQ(r.incarnation(), 2u);
}

TEST(FakePodTest, AHungPodAnswersNothingUntilTheHangEnds) {
  LoopbackSubnet subnet;
  auto pod = FakePod::Start("web-0", subnet.Next(), 0);
  ASSERT_TRUE(pod.ok()) << pod.status();
  auto channel = grpc::CreateChannel((*pod)->address(), grpc::InsecureChannelCredentials());
  auto stub = Echo::NewStub(channel);
  auto call = [&](absl::Duration deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    EchoRequest request;
    EchoResponse response;
    return stub->Echo(&context, request, &response).error_code();
  };
  ASSERT_EQ(call(absl::Seconds(30)), grpc::StatusCode::OK);
  // Long enough that the two short calls below are made inside it even on a
  // loaded machine.
  (*pod)->Hang(absl::Seconds(8));
  EXPECT_EQ(call(absl::Milliseconds(200)), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Health checks hang too.
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    EXPECT_EQ(health->Check(&context, request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // A patient call is answered when the hang ends.
  EXPECT_EQ(call(absl::Seconds(60)), grpc::StatusCode::OK);
  EXPECT_EQ(call(absl::Seconds(30)), grpc::StatusCode::OK);
  EXPECT_NE((*pod)->first_call_at(), absl::InfinitePast());
  EXPECT_GE((*pod)->last_call_at(), (*pod)->first_call_at());
}

TEST(MatchersTest, RoundRobinAndStatus) {
  ExpectRoundRobin((std::map<std::string, int64_t>{{"a", 334}, {"b", 333}, {"c", 333}}),
                   (std::vector<std::string>{"a", "b", "c"}), 1);
  EXPECT_THAT(absl::UnavailableError("x"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
}

}  // namespace
}  // namespace kubegrpc::testing
