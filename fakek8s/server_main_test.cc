// The standalone server binary: starts, writes a kubeconfig that verifies its TLS
// certificate, serves the demo Service or the given manifests, stops on SIGTERM.

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "testing/subprocess.h"
#include "yaml-cpp/yaml.h"

namespace fakek8s {
namespace {

using ::kubegrpc::testing::Subprocess;
using ::testing::HasSubstr;
using json = nlohmann::json;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/", path);
}

// GETs `path` from the server a kubeconfig describes, verifying its CA.
json GetWithKubeconfig(const std::string& kubeconfig_path, const std::string& path) {
  YAML::Node config = YAML::LoadFile(kubeconfig_path);
  std::string server = config["clusters"][0]["cluster"]["server"].as<std::string>();
  std::string ca;
  EXPECT_TRUE(absl::Base64Unescape(
      config["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(), &ca));
  std::string token = config["users"][0]["user"]["token"].as<std::string>();
  const std::string prefix = "https://127.0.0.1:";
  EXPECT_EQ(server.substr(0, prefix.size()), prefix);
  httplib::SSLClient client("127.0.0.1", std::stoi(server.substr(prefix.size())));
  client.enable_server_certificate_verification(true);
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(ca.data(), static_cast<int>(ca.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(store, cert);
  X509_free(cert);
  BIO_free(bio);
  client.set_ca_cert_store(store);
  httplib::Result r = client.Get(path, {{"Authorization", "Bearer " + token}});
  EXPECT_TRUE(r) << httplib::to_string(r.error());
  if (!r) return nullptr;
  EXPECT_EQ(r->status, 200) << r->body;
  return json::parse(r->body, nullptr, false);
}

TEST(ServerMainTest, ServesTheDemoAndWritesAVerifyingKubeconfig) {
  const std::string kubeconfig = absl::StrCat(std::getenv("TEST_TMPDIR"), "/demo.kubeconfig");
  auto server = Subprocess::Start({Runfile("fakek8s/server"), "--kubeconfig_out=" + kubeconfig,
                                   "--token=t0ken", "--replicas=4"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->ReadLineContaining("kubeconfig written", absl::Seconds(60)))
      << (*server)->output();
  EXPECT_THAT((*server)->output(), HasSubstr("serving the Kubernetes API at https://127.0.0.1:"));
  json slices =
      GetWithKubeconfig(kubeconfig, "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices");
  ASSERT_EQ(slices["items"].size(), 1u);
  EXPECT_EQ(slices["items"][0]["endpoints"].size(), 4u);

  // SIGTERM stops it cleanly.
  (*server)->Signal(SIGTERM);
  EXPECT_EQ((*server)->Wait(absl::Seconds(60)), 0) << (*server)->output();
  EXPECT_THAT((*server)->output(), HasSubstr("fakek8s: stopping"));
}

TEST(ServerMainTest, LoadsManifestsAndRejectsBadOnes) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string manifests = dir + "/objects.yaml";
  std::ofstream(manifests) << R"(apiVersion: v1
kind: Service
metadata: {name: api, namespace: prod}
spec:
  selector: {app: api}
  ports: [{port: 443, targetPort: 9443}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: prod, labels: {app: api}}
status: {phase: Running, podIP: 127.0.30.1, conditions: [{type: Ready, status: "True"}]}
)";
  const std::string kubeconfig = dir + "/manifests.kubeconfig";
  auto server = Subprocess::Start({Runfile("fakek8s/server"), "--kubeconfig_out=" + kubeconfig,
                                   "--token=t", "--manifests=" + manifests});
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->ReadLineContaining("kubeconfig written", absl::Seconds(60)))
      << (*server)->output();
  json endpoints = GetWithKubeconfig(kubeconfig, "/api/v1/namespaces/prod/endpoints/api");
  EXPECT_EQ(endpoints["subsets"][0]["addresses"][0]["ip"], "127.0.30.1");
  EXPECT_EQ(endpoints["subsets"][0]["ports"][0]["port"], 9443);

  std::ofstream(manifests) << "kind: Deployment\nmetadata: {name: d}\n";
  Subprocess::Result bad = Subprocess::Run({Runfile("fakek8s/server"), "--manifests=" + manifests});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("kind \"Deployment\" is not served by fakek8s"));
  bad = Subprocess::Run({Runfile("fakek8s/server"), "--manifests=" + dir + "/missing.yaml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("cannot read --manifests"));
}

TEST(ServerMainTest, HelpExitsZeroAndListsTheFlags) {
  Subprocess::Result help = Subprocess::Run({Runfile("fakek8s/server"), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_THAT(help.output, HasSubstr("fakek8s: a fake Kubernetes API server"));
  EXPECT_THAT(help.output, HasSubstr("--admin_kubeconfig_out"));
  EXPECT_THAT(help.output, ::testing::Not(HasSubstr("SetProgramUsageMessage")));
}

// The manifests' namespace is the kubeconfig's; a Namespace document for
// `default` is fine; with --rbac_roles the admin kubeconfig may still write.
TEST(ServerMainTest, ManifestsNamespaceAndAnAdminKubeconfig) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string manifests = dir + "/shop.yaml";
  std::ofstream(manifests) << R"(apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: grpc, port: 50051}]
---
apiVersion: v1
kind: Pod
metadata: {name: cart-0, namespace: shop, labels: {app: cart}}
status: {phase: Running, podIP: 127.0.31.1, conditions: [{type: Ready, status: "True"}]}
)";
  const std::string roles = dir + "/roles.yaml";
  std::ofstream(roles) << R"(apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: [services, pods]
  verbs: [get, list, watch]
)";
  const std::string kubeconfig = dir + "/shop.kubeconfig";
  const std::string admin = dir + "/shop-admin.kubeconfig";
  auto server = Subprocess::Start({Runfile("fakek8s/server"), "--kubeconfig_out=" + kubeconfig,
                                   "--admin_kubeconfig_out=" + admin, "--token=t",
                                   "--rbac_roles=" + roles, "--manifests=" + manifests});
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->ReadLineContaining("admin kubeconfig written", absl::Seconds(60)))
      << (*server)->output();
  EXPECT_THAT((*server)->output(), HasSubstr("(namespace shop)"));
  YAML::Node config = YAML::LoadFile(kubeconfig);
  EXPECT_EQ(config["contexts"][0]["context"]["namespace"].as<std::string>(), "shop");
  json pods = GetWithKubeconfig(kubeconfig, "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(pods["items"].size(), 1u);
  // The user's identity is held to the Role; the admin's is not.
  json admin_pods = GetWithKubeconfig(admin, "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(admin_pods["items"].size(), 1u);
  json admin_slices =
      GetWithKubeconfig(admin, "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices");
  EXPECT_EQ(admin_slices["items"].size(), 1u);
}

}  // namespace
}  // namespace fakek8s
