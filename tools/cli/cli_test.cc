// The kubegrpc CLI against a fake cluster (fakek8s over HTTPS, real gRPC pods
// that serve grpc.health.v1): what `watch --once` and `check` print, as text
// and JSON, and the exit codes of bad usage and of a Service that is not there.

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/fake_cluster.h"
#include "testing/subprocess.h"

namespace kubegrpc {
namespace {

using ::kubegrpc::testing::FakeCluster;
using ::kubegrpc::testing::Subprocess;
using ::testing::HasSubstr;
using json = nlohmann::json;

std::string Cli() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                      "/tools/cli/kubegrpc");
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = FakeCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateDeployment({.name = "web", .replicas = 3}).ok());
    kubeconfig_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/cli.kubeconfig");
    ASSERT_TRUE(cluster_->k8s().WriteKubeconfig(kubeconfig_, "", "demo").ok());
  }
  Subprocess::Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), Cli());
    args.push_back("--kubeconfig=" + kubeconfig_);
    return Subprocess::Run(args, {}, absl::Seconds(120));
  }
  std::unique_ptr<FakeCluster> cluster_;
  std::string kubeconfig_;
};

TEST_F(CliTest, WatchOnceShowsEveryPodAndItsState) {
  Subprocess::Result r = Run({"watch", "web:80", "--once"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Service demo/web:80"));
  EXPECT_THAT(r.output, HasSubstr("synced"));
  for (const char* pod : {"web-0", "web-1", "web-2"}) EXPECT_THAT(r.output, HasSubstr(pod));
  EXPECT_THAT(r.output, HasSubstr("READY"));
}

TEST_F(CliTest, WatchOnceAsJson) {
  Subprocess::Result r = Run({"watch", "web.demo:80", "--once", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["service"], "demo/web:80");
  EXPECT_TRUE(j["discovery"]["synced"].get<bool>());
  ASSERT_EQ(j["endpoints"].size(), 3u);
  for (const json& e : j["endpoints"]) {
    EXPECT_TRUE(e["api"]["ready"].get<bool>());
    EXPECT_TRUE(e.contains("channel"));
  }
}

TEST_F(CliTest, CheckSplitsCallsOverThePods) {
  Subprocess::Result r = Run({"check", "web:80", "--calls=9", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["failed"], 0);
  ASSERT_EQ(j["pods"].size(), 3u);  // round-robin: three each
  for (const auto& [pod, outcomes] : j["pods"].items()) EXPECT_EQ(outcomes["SERVING"], 3) << pod;
  Subprocess::Result text = Run({"check", "web:80", "--calls=3"});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("3 Check calls to web:80: 0 failed"));
}

TEST_F(CliTest, ErrorsAreClearAndNonZero) {
  Subprocess::Result usage = Run({"frobnicate", "web:80"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.output, HasSubstr("kubegrpc watch TARGET"));
  Subprocess::Result bad = Run({"watch", "Web:80", "--once"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("Web:80"));
  Subprocess::Result missing = Run({"watch", "nope:80", "--once", "--wait=1s"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("not found"));
  Subprocess::Result help = Subprocess::Run({Cli(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--calls"));
}

}  // namespace
}  // namespace kubegrpc
