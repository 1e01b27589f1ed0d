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
using ::testing::Not;

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
    FakeKubernetes::Options options;
    options.server.tls = true;
    options.server.events_namespace = "demo";  // fault events beside the pods'
    auto k8s = FakeKubernetes::Start(options);
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

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(TempDir(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<FakeKubernetes> k8s_;
  std::string kubeconfig_;
};

constexpr char kServiceManifest[] = R"(apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: grpc, port: 9000, targetPort: TARGET}]
)";

std::string ServiceManifest(int target_port) {
  std::string text = kServiceManifest;
  text.replace(text.find("TARGET"), 6, std::to_string(target_port));
  return text;
}

TEST_F(InteropTest, KubectlApplyOfAChangedServiceKeepsOnePort) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  Subprocess::Result r =
      Subprocess::Run(Kubectl({"apply", "-f", Write("api-9090.yaml", ServiceManifest(9090))}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Client-side apply of a change: kubectl computes a strategic merge patch
  // ($setElementOrder/ports plus the changed item) from fakek8s's OpenAPI.
  r = Subprocess::Run(Kubectl({"apply", "-f", Write("api-9091.yaml", ServiceManifest(9091))}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("service/api configured"));
  EXPECT_THAT(r.output, Not(HasSubstr("warning")));
  json svc = KubectlJson({"get", "service", "api"});
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u) << svc.dump();
  EXPECT_EQ(svc["spec"]["ports"][0]["name"], "grpc");
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], 9091);
  json slices = KubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=api"});
  ASSERT_EQ(slices["items"].size(), 1u);
  EXPECT_EQ(slices["items"][0]["ports"],
            json::parse(R"([{"name":"grpc","port":9091,"protocol":"TCP"}])"));
}

TEST_F(InteropTest, KubectlServerSideApplyIsIdempotentMergesAndReportsConflicts) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  const std::string v1 = Write("ssa-9090.yaml", ServiceManifest(9090));
  for (int i = 0; i < 3; ++i) {
    Subprocess::Result r = Subprocess::Run(Kubectl({"apply", "--server-side", "-f", v1}));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("service/api serverside-applied"));
  }
  json svc = KubectlJson({"get", "service", "api"});
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u) << svc.dump();
  Subprocess::Result r = Subprocess::Run(
      Kubectl({"apply", "--server-side", "-f", Write("ssa-9091.yaml", ServiceManifest(9091))}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  svc = KubectlJson({"get", "service", "api"});
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u);
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], 9091);
  // Another manager changing kubectl's field: a conflict, until forced.
  const std::string other = Write("ssa-9999.yaml", ServiceManifest(9999));
  r = Subprocess::Run(Kubectl({"apply", "--server-side", "--field-manager=helm", "-f", other}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("Apply failed with 1 conflict"));
  EXPECT_THAT(r.output, HasSubstr("conflict with \"kubectl\""));
  EXPECT_THAT(r.output, HasSubstr(".spec.ports[port=9000,protocol=\"TCP\"].targetPort"));
  r = Subprocess::Run(Kubectl(
      {"apply", "--server-side", "--field-manager=helm", "--force-conflicts", "-f", other}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(KubectlJson({"get", "service", "api"})["spec"]["ports"][0]["targetPort"], 9999);
}

TEST_F(InteropTest, KubectlGetEventsWatchNarratesPodsAndFaults) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  auto events = Subprocess::Start(Kubectl({"get", "events", "-w"}));
  ASSERT_TRUE(events.ok()) << events.status();
  // The seeded pods' histories first.
  ASSERT_TRUE((*events)->ReadLineContaining("Started container web", absl::Seconds(60)))
      << (*events)->output();
  ASSERT_TRUE(k8s_->store()
                  .Mutate(Resource::kPods, "demo", "web-1",
                          [](json& pod) {
                            pod["status"]["conditions"] =
                                json::array({{{"type", "Ready"}, {"status", "False"}}});
                            return absl::OkStatus();
                          })
                  .ok());
  std::optional<std::string> unhealthy =
      (*events)->ReadLineContaining("Unhealthy", absl::Seconds(60));
  ASSERT_TRUE(unhealthy) << (*events)->output();
  EXPECT_THAT(*unhealthy, HasSubstr("pod/web-1"));
  EXPECT_THAT(*unhealthy, HasSubstr("Readiness probe failed"));
  k8s_->server().CompactHistory();
  std::optional<std::string> fault =
      (*events)->ReadLineContaining("FaultInjected", absl::Seconds(60));
  ASSERT_TRUE(fault) << (*events)->output();
  EXPECT_THAT(*fault, HasSubstr("compacted"));
  Subprocess::Result r = Subprocess::Run(Kubectl({"delete", "pod", "web-2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::optional<std::string> killing = (*events)->ReadLineContaining("Killing", absl::Seconds(60));
  ASSERT_TRUE(killing) << (*events)->output();
  EXPECT_THAT(*killing, HasSubstr("pod/web-2"));
  // Also through the events.k8s.io/v1 API, with the describe view.
  r = Subprocess::Run(Kubectl({"describe", "pod", "web-1"}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Readiness probe failed"));
  json v1 = KubectlJson({"get", "events.v1.events.k8s.io"});
  ASSERT_FALSE(v1["items"].empty()) << v1.dump();
  EXPECT_TRUE(v1["items"][0].contains("regarding"));
}

TEST_F(InteropTest, KubectlAuthCanIAnswersFromTheRulesEnforced) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  k8s_->server().SetRules("interop-user",
                          {{{"list", "watch"}, {"endpointslices"}, {"demo"}, {"discovery.k8s.io"}},
                           {{"get"}, {"services"}, {"demo"}, {""}}});
  Subprocess::Result yes =
      Subprocess::Run(Kubectl({"auth", "can-i", "list", "endpointslices.discovery.k8s.io"}));
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_THAT(yes.output, HasSubstr("yes"));
  Subprocess::Result no = Subprocess::Run(Kubectl({"auth", "can-i", "list", "pods"}));
  EXPECT_EQ(no.exit_code, 1) << no.output;
  EXPECT_THAT(no.output, HasSubstr("no"));
  // The answer matches what the server then does.
  Subprocess::Result denied = Subprocess::Run(Kubectl({"get", "pods"}));
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.output, HasSubstr("forbidden"));
  Subprocess::Result list = Subprocess::Run(Kubectl({"auth", "can-i", "--list"}));
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("endpointslices.discovery.k8s.io"));
  Subprocess::Result whoami = Subprocess::Run(Kubectl({"auth", "whoami"}));
  EXPECT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_THAT(whoami.output, HasSubstr("interop-user"));
}

TEST_F(InteropTest, KubectlExplainReadsTheOpenApiDocuments) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  Subprocess::Result pods = Subprocess::Run(Kubectl({"explain", "pods"}));
  EXPECT_EQ(pods.exit_code, 0) << pods.output;
  EXPECT_THAT(pods.output, HasSubstr("KIND:       Pod"));
  EXPECT_THAT(pods.output, HasSubstr("spec\t<PodSpec>"));
  Subprocess::Result ports = Subprocess::Run(Kubectl({"explain", "services.spec.ports"}));
  EXPECT_EQ(ports.exit_code, 0) << ports.output;
  EXPECT_THAT(ports.output, HasSubstr("targetPort"));
  EXPECT_THAT(ports.output, HasSubstr("port\t<integer> -required-"));
  Subprocess::Result slices =
      Subprocess::Run(Kubectl({"explain", "endpointslices.endpoints.conditions"}));
  EXPECT_EQ(slices.exit_code, 0) << slices.output;
  EXPECT_THAT(slices.output, HasSubstr("GROUP:      discovery.k8s.io"));
  EXPECT_THAT(slices.output, HasSubstr("serving\t<boolean>"));
}

TEST_F(InteropTest, KubectlGetPodsWideShowsTheColumns) {
  if (!Subprocess::OnPath("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  Subprocess::Result r = Subprocess::Run(Kubectl({"get", "pods", "-o", "wide"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* column : {"READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"}) {
    EXPECT_THAT(r.output, HasSubstr(column));
  }
  EXPECT_THAT(r.output,
              ::testing::ContainsRegex("web-0 +1/1 +Running +0 +[0-9]+s +127\\.0\\.10\\.1"));
  r = Subprocess::Run(Kubectl({"get", "services"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::ContainsRegex("web +ClusterIP +10\\.[0-9.]+ +<none> +80/TCP"));
  // Nodes: cluster-scoped, with their zone; the pods' slices carry it.
  r = Subprocess::Run(Kubectl({"get", "nodes", "-o", "wide"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(
      r.output,
      ::testing::ContainsRegex(
          "fake-node +Ready +<none> +[0-9]+s +v1\\.33\\.0-fakek8s +127\\.0\\.0\\.1 +zone-a"));
  json node = KubectlJson({"get", "node", "fake-node"});
  EXPECT_EQ(node["metadata"]["labels"]["topology.kubernetes.io/zone"], "zone-a");
  json slices = KubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=web"});
  EXPECT_EQ(slices["items"][0]["endpoints"][0]["zone"], "zone-a");
}

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

TEST_F(InteropTest, PythonClientPaginatesWithLimitAndContinue) {
  const std::string python = "/usr/bin/python3";
  if (Subprocess::Run({python, "-c", "import kubernetes"}).exit_code != 0) {
    GTEST_SKIP() << "python3-kubernetes is not installed";
  }
  for (int i = 4; i <= 5; ++i) {
    ASSERT_TRUE(k8s_->store()
                    .Create(Resource::kPods,
                            Pod(absl::StrCat("web-", i), absl::StrCat("127.0.10.", 10 + i)))
                    .ok());
  }
  // A token from before a compaction: expired.
  absl::StatusOr<ObjectStore::ListResult> first =
      k8s_->store().List(Resource::kPods, "demo", ObjectStore::ListOptions{.limit = 1});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(k8s_->store().Create(Resource::kPods, Pod("web-6", "127.0.10.16")).ok());
  k8s_->store().Compact();

  const std::string ca = absl::StrCat(TempDir(), "/ca.crt");
  std::ofstream(ca) << k8s_->server().ca_pem();
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                   "/fakek8s/interop_python_paging.py");
  Subprocess::Result r = Subprocess::Run(
      {python, script, k8s_->server().url(), kToken, ca, "demo", first->continue_token});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Six pods, two per page, one resourceVersion for the whole list.
  EXPECT_THAT(r.output, HasSubstr("TOTAL 3 6"));
  const size_t at = r.output.find("PAGE 1 ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const std::string rv = r.output.substr(at + 7, r.output.find(' ', at + 7) - (at + 7));
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("PAGE 1 ", rv, " web-0 web-1\n", "PAGE 2 ", rv,
                                               " web-2 web-4\n", "PAGE 3 ", rv, " web-5 web-6\n")));
  EXPECT_THAT(r.output, HasSubstr("BAD 400"));
  EXPECT_THAT(r.output, HasSubstr("EXPIRED 410 Expired"));
}

}  // namespace
}  // namespace fakek8s
