// A foreign client: Debian's python3-grpcio (a gRPC nobody here wrote or
// built) resolves xds:///web.demo:80 through kube-grpc's ADS server and
// balances calls over real FakePods behind fakek8s.
//
// Usage (from BUILD): python_client_test SCRIPT DESCRIPTOR_SET

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/http_k8s_client.h"
#include "kubegrpc/service_registry.h"
#include "kubegrpc/xds/ads_server.h"
#include "nlohmann/json.hpp"
#include "testing/fake_cluster.h"
#include "testing/subprocess.h"

namespace kubegrpc::xds {
namespace {

std::string g_script;          // NOLINT: set from argv in main
std::string g_descriptor_set;  // NOLINT

// Debian's interpreter: the python3 first on PATH may be another, without grpc.
constexpr char kPython[] = "/usr/bin/python3";

TEST(PythonClientTest, PythonGrpcBalancesOverEveryPodThroughOurServer) {
  auto cluster = testing::FakeCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  testing::DeploymentSpec spec;
  spec.replicas = 3;
  ASSERT_TRUE((*cluster)->CreateDeployment(spec).ok());
  auto client = HttpK8sClient::Create((*cluster)->client_config());
  ASSERT_TRUE(client.ok()) << client.status();
  ServiceRegistry registry(client->get(), DiscoveryOptions());
  auto server = AdsServer::Start(&registry, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();

  const nlohmann::json bootstrap = {
      {"xds_servers",
       {{{"server_uri", absl::StrCat("127.0.0.1:", (*server)->port())},
         {"channel_creds", {{{"type", "insecure"}}}},
         {"server_features", {"xds_v3"}}}}},
      {"node", {{"id", "python-client-test"}}}};
  testing::Subprocess::Result r = testing::Subprocess::Run(
      {kPython, g_script, g_descriptor_set, "xds:///web.demo:80", "3"},
      {absl::StrCat("GRPC_XDS_BOOTSTRAP_CONFIG=", bootstrap.dump())}, absl::Seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The last line is the script's JSON (gRPC may log before it).
  const std::string last = r.output.substr(r.output.rfind('{', r.output.rfind("\"calls\"")));
  nlohmann::json result = nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(result.is_discarded()) << r.output;
  std::cout << "python3-grpcio: " << last << "\n";
  EXPECT_TRUE(result["failures"].empty()) << r.output;
  for (const char* pod : {"web-0", "web-1", "web-2"}) {
    EXPECT_GE(result["calls"].value(pod, 0), 1) << pod << ": " << r.output;
  }
  // The python client ACKed LDS, CDS and EDS (an ACK may trail the calls that
  // used the resource: wait for it, generously).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((*server)->Stats().acks < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE((*server)->Stats().acks, 3);
  EXPECT_EQ((*server)->Stats().nacks, 0);
  (*server)->Shutdown();
}

}  // namespace
}  // namespace kubegrpc::xds

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    fprintf(stderr, "usage: %s SCRIPT DESCRIPTOR_SET\n", argv[0]);
    return 2;
  }
  kubegrpc::xds::g_script = argv[1];
  kubegrpc::xds::g_descriptor_set = argv[2];
  return RUN_ALL_TESTS();
}
