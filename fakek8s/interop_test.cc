// Interop: real clients nobody here wrote - kubectl and the official python client -
// list, watch and write through fakek8s over HTTPS with a bearer token.

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"

namespace fakek8s {
namespace {

using ::kubegrpc::testing::Subprocess;
using ::testing::HasSubstr;

constexpr char kToken[] = "interop-token";

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

json Pod(const std::string& name, const std::string& ip) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}, {"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", json::array({{{"name", "web"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"podIP", ip},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k8s = FakeKubernetes::Start({.server = {.tls = true}});
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    k8s_ = *std::move(k8s);
    k8s_->server().AddToken(kToken, "interop-user");
    ASSERT_TRUE(SeedDemo(k8s_->store(), {.ns = "demo", .service = "web", .replicas = 3}).ok());
    kubeconfig_ = absl::StrCat(TempDir(), "/kubeconfig-",
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(k8s_->WriteKubeconfig(kubeconfig_, kToken, "demo").ok());
  }

  std::vector<std::string> Kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig=" + kubeconfig_,
                                     "--cache-dir=" + TempDir() + "/kubectl-cache",
                                     "--request-timeout=60s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  json KubectlJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    Subprocess::Result r = Subprocess::Run(Kubectl(args));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // kubectl prints the Endpoints deprecation warning on stderr first.
    size_t brace = r.output.find('{');
    return brace == std::string::npos ? json()
                                      : json::parse(r.output.substr(brace), nullptr, false);
  }

  std::unique_ptr<FakeKubernetes> k8s_;
  std::string kubeconfig_;
};

TEST_F(InteropTest, KubectlListsEndpointSlicesEndpointsServicesAndPods) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  json slices = KubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=web"});
  ASSERT_EQ(slices["items"].size(), 1u);
  EXPECT_EQ(slices["items"][0]["endpoints"].size(), 3u);
  EXPECT_EQ(slices["items"][0]["ports"][0]["port"], 8080);

  json endpoints = KubectlJson({"get", "endpoints", "web"});
  EXPECT_EQ(endpoints["subsets"][0]["addresses"].size(), 3u);
  json services = KubectlJson({"get", "services"});
  EXPECT_EQ(services["items"][0]["metadata"]["name"], "web");
  json pods = KubectlJson({"get", "pods", "--all-namespaces"});
  EXPECT_EQ(pods["items"].size(), 3u);

  // The default (table) output and the deprecation warning, as a user sees them.
  Subprocess::Result table = Subprocess::Run(Kubectl({"get", "endpoints,pods"}));
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("v1 Endpoints is deprecated"));
  EXPECT_THAT(table.output, HasSubstr("pod/web-2"));
}

TEST_F(InteropTest, KubectlWatchSeesChanges) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  auto watch = Subprocess::Start(Kubectl({"get", "endpointslices", "-w", "-o", "json"}));
  ASSERT_TRUE(watch.ok()) << watch.status();
  // The initial list, then a change made after it.
  ASSERT_TRUE((*watch)->ReadLineContaining("127.0.10.3", absl::Seconds(60))) << (*watch)->output();
  ASSERT_TRUE(k8s_->store().Create(Resource::kPods, Pod("web-7", "127.0.10.7")).ok());
  EXPECT_TRUE((*watch)->ReadLineContaining("127.0.10.7", absl::Seconds(60))) << (*watch)->output();

  auto pods = Subprocess::Start(Kubectl({"get", "pods", "-w"}));
  ASSERT_TRUE(pods.ok());
  ASSERT_TRUE((*pods)->ReadLineContaining("web-7", absl::Seconds(60))) << (*pods)->output();
  ASSERT_TRUE(k8s_->store().Create(Resource::kPods, Pod("web-8", "127.0.10.8")).ok());
  EXPECT_TRUE((*pods)->ReadLineContaining("web-8", absl::Seconds(60))) << (*pods)->output();
}

TEST_F(InteropTest, KubectlCreatesPatchesAndDeletesPods) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  const std::string manifest = absl::StrCat(TempDir(), "/pod.json");
  json pod = Pod("web-9", "127.0.10.9");
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  pod["status"]["conditions"][0]["status"] = "False";
  std::ofstream(manifest) << pod.dump();

  Subprocess::Result r = Subprocess::Run(Kubectl({"create", "-f", manifest}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("pod/web-9 created"));
  auto ready = [&] {
    for (const json& slice : k8s_->store().List(Resource::kEndpointSlices, "demo").items) {
      for (const json& e : slice["endpoints"]) {
        if (e["addresses"][0] == "127.0.10.9") return e["conditions"]["ready"].get<bool>();
      }
    }
    return false;
  };
  EXPECT_FALSE(ready());

  r = Subprocess::Run(
      Kubectl({"patch", "pod", "web-9", "--subresource=status", "--type=merge", "-p",
               R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(ready());

  r = Subprocess::Run(Kubectl({"delete", "pod", "web-9"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("pod \"web-9\" deleted"));
  EXPECT_FALSE(k8s_->store().Get(Resource::kPods, "demo", "web-9").ok());

  r = Subprocess::Run(Kubectl({"get", "pod", "nope"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("pods \"nope\" not found"));
}

TEST_F(InteropTest, KubectlWithAWrongTokenIsUnauthorized) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  ASSERT_TRUE(k8s_->WriteKubeconfig(kubeconfig_, "wrong-token", "demo").ok());
  Subprocess::Result r = Subprocess::Run(Kubectl({"get", "pods"}));
  EXPECT_NE(r.exit_code, 0);
  // kubectl's wording for a 401.
  EXPECT_THAT(r.output, HasSubstr("You must be logged in to the server"));
}

TEST_F(InteropTest, PythonClientListsAndWatchesSlicesAndEndpoints) {
  const std::string python = "/usr/bin/python3";
  if (Subprocess::Run({python, "-c", "import kubernetes"}).exit_code != 0) {
    GTEST_SKIP() << "python3-kubernetes is not installed";
  }
  const std::string ca = absl::StrCat(TempDir(), "/ca.crt");
  std::ofstream(ca) << k8s_->server().ca_pem();
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                   "/fakek8s/interop_python_client.py");
  auto p = Subprocess::Start({python, script, k8s_->server().url(), kToken, ca, "demo", "web"});
  ASSERT_TRUE(p.ok()) << p.status();

  std::optional<std::string> listed =
      (*p)->ReadLineContaining("LISTED EndpointSlice", absl::Seconds(60));
  ASSERT_TRUE(listed) << (*p)->output();
  EXPECT_EQ(*listed, "LISTED EndpointSlice 1 127.0.10.1 127.0.10.2 127.0.10.3");
  ASSERT_TRUE((*p)->ReadLineContaining("WATCHING EndpointSlice", absl::Seconds(60)));
  ASSERT_TRUE(k8s_->store().Create(Resource::kPods, Pod("web-7", "127.0.10.7")).ok());
  std::optional<std::string> event =
      (*p)->ReadLineContaining("EVENT EndpointSlice", absl::Seconds(60));
  ASSERT_TRUE(event) << (*p)->output();
  EXPECT_THAT(*event, HasSubstr("MODIFIED"));
  ASSERT_TRUE((*p)->ReadLineContaining("SAW EndpointSlice 127.0.10.7", absl::Seconds(60)))
      << (*p)->output();

  listed = (*p)->ReadLineContaining("LISTED Endpoints", absl::Seconds(60));
  ASSERT_TRUE(listed) << (*p)->output();
  EXPECT_THAT(*listed, HasSubstr("127.0.10.7"));
  ASSERT_TRUE((*p)->ReadLineContaining("WATCHING Endpoints", absl::Seconds(60)));
  ASSERT_TRUE(k8s_->store().Create(Resource::kPods, Pod("web-8", "127.0.10.8")).ok());
  ASSERT_TRUE((*p)->ReadLineContaining("SAW Endpoints 127.0.10.8", absl::Seconds(60)))
      << (*p)->output();
  EXPECT_EQ((*p)->Wait(absl::Seconds(60)), 0) << (*p)->output();
}

}  // namespace
}  // namespace fakek8s
