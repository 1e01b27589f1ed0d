// End-to-end proof that the offline toolchain works: protoc + grpc_cpp_plugin code
// generation, a real gRPC server and client on loopback, and each system library the
// project links (cpp-httplib with TLS support compiled in, nlohmann_json, yaml-cpp,
// abseil).

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "testing/proto/echo.grpc.pb.h"
#include "yaml-cpp/yaml.h"

namespace kubegrpc::testing {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class EchoImpl final : public Echo::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* request,
                    EchoResponse* response) override {
    absl::MutexLock lock(&mu_);
    response->set_message(request->message());
    response->set_pod_name("pod-a");
    response->set_pod_ip("127.0.0.1");
    response->set_incarnation(1);
    response->set_served_count(++served_);
    response->set_peer(context->peer());
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  uint64_t served_ ABSL_GUARDED_BY(mu_) = 0;
};

class HealthImpl final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest* request,
                     HealthCheckResponse* response) override {
    if (!request->service().empty() && request->service() != "kubegrpc.testing.Echo") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    }
    response->set_status(HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

TEST(ToolchainSmokeTest, GrpcEchoAndHealthOnLoopback) {
  EchoImpl echo;
  HealthImpl health;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&echo);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = Echo::NewStub(channel);
  for (int i = 1; i <= 3; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    EchoRequest request;
    request.set_message(absl::StrCat("hello ", i));
    EchoResponse response;
    grpc::Status status = stub->Echo(&ctx, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.message(), absl::StrCat("hello ", i));
    EXPECT_EQ(response.pod_name(), "pod-a");
    EXPECT_EQ(response.served_count(), static_cast<uint64_t>(i));
    EXPECT_THAT(response.peer(), ::testing::HasSubstr("127.0.0.1"));
  }

  auto health_stub = grpc::health::v1::Health::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    HealthCheckRequest request;
    request.set_service("kubegrpc.testing.Echo");
    HealthCheckResponse response;
    ASSERT_TRUE(health_stub->Check(&ctx, request, &response).ok());
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    HealthCheckRequest request;
    request.set_service("no.such.Service");
    HealthCheckResponse response;
    EXPECT_EQ(health_stub->Check(&ctx, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  server->Shutdown();
}

TEST(ToolchainSmokeTest, HttplibServesJsonOnLoopback) {
  httplib::Server server;
  server.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(nlohmann::json{{"major", "1"}, {"minor", "31"}}.dump(), "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  // The socket already listens after bind_to_any_port(), so the client can connect
  // even before the accept loop runs.

  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(30);
  client.set_read_timeout(30);
  httplib::Result result = client.Get("/version");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  nlohmann::json body = nlohmann::json::parse(result->body);
  EXPECT_EQ(body["minor"], "31");

  server.stop();
  thread.join();
}

TEST(ToolchainSmokeTest, HttplibHasTlsAndYamlParses) {
  // The Kubernetes client needs HTTPS: the system cpp-httplib must have OpenSSL.
  httplib::SSLClient tls_client("127.0.0.1", 1);
  EXPECT_NE(tls_client.ssl_context(), nullptr);

  YAML::Node config =
      YAML::Load("current-context: fake\ncontexts:\n- name: fake\n  context: {cluster: c}\n");
  EXPECT_EQ(config["current-context"].as<std::string>(), "fake");
  EXPECT_EQ(config["contexts"][0]["context"]["cluster"].as<std::string>(), "c");

  absl::StatusOr<int> error = absl::InvalidArgumentError("bad target");
  EXPECT_EQ(error.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kubegrpc::testing
