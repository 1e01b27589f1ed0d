#include "kubegrpc/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }
  std::function<std::string(const std::string&)> Env(std::map<std::string, std::string> env) {
    return [env](const std::string& k) {
      auto it = env.find(k);
      return it == env.end() ? std::string() : it->second;
    };
  }
  std::string dir_;
};

TEST_F(ConfigTest, InCluster) {
  Write("sa/token", "tok\n");
  Write("sa/ca.crt", "CA PEM");
  Write("sa/namespace", "prod\n");
  InClusterOptions options{
      Env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      dir_ + "/sa"};
  absl::StatusOr<ClusterConfig> c = InClusterConfig(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->token_file, dir_ + "/sa/token");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->ns, "prod");

  options.getenv = Env({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                        {"KUBERNETES_SERVICE_PORT", "6443"},
                        {"POD_NAMESPACE", "from-env"}});
  c = InClusterConfig(options);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server, "https://[fd00::1]:6443");
  EXPECT_EQ(c->ns, "from-env");
}

TEST_F(ConfigTest, InClusterErrors) {
  InClusterOptions options{Env({}), dir_ + "/sa"};
  EXPECT_EQ(InClusterConfig(options).status().code(), absl::StatusCode::kFailedPrecondition);
  options.getenv =
      Env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  absl::Status s = InClusterConfig(options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("service account token"));
}

TEST_F(ConfigTest, KubeconfigWithDataFilesAndContexts) {
  Write("certs/ca.crt", "CA FROM FILE");
  Write("token", "file-token");
  const std::string first = Write("first.yaml", R"(
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team}
- name: prod
  context: {cluster: c2, user: u2}
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes
users:
- name: u1
  user: {tokenFile: token}
)");
  const std::string second =
      Write("second.yaml", absl::StrCat(R"(
current-context: ignored-because-first-wins
clusters:
- name: c2
  cluster:
    server: https://[::1]:443
    certificate-authority-data: )",
                                        absl::Base64Escape("CA FROM DATA"), R"(
    insecure-skip-tls-verify: true
users:
- name: u2
  user:
    token: static-token
    client-certificate-data: )",
                                        absl::Base64Escape("CERT"), R"(
    client-key-data: )",
                                        absl::Base64Escape("KEY"), "\n"));
  KubeconfigOptions options;
  options.getenv = Env({{"KUBECONFIG", first + ":" + dir_ + "/missing.yaml:" + second}});
  absl::StatusOr<ClusterConfig> c = KubeconfigConfig(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA FROM FILE");
  EXPECT_EQ(c->tls_server_name, "kubernetes");
  EXPECT_EQ(c->token_file, dir_ + "/token");
  EXPECT_EQ(c->ns, "team");
  EXPECT_THAT(c->source, HasSubstr("context dev"));

  options.context = "prod";
  c = KubeconfigConfig(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[::1]:443");
  EXPECT_EQ(c->ca_pem, "CA FROM DATA");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "static-token");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_EQ(c->ns, "default");
}

TEST_F(ConfigTest, AClientKeyOthersCanReadIsUsedWithAWarning) {
  const std::string key = Write("key.pem", "KEY PEM");
  std::filesystem::permissions(key, std::filesystem::perms(0644));
  Write("cert.pem", "CERT PEM");
  KubeconfigOptions options;
  options.paths =
      Write("config",
            "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
            "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
            "users: [{name: u, user: {client-certificate: cert.pem, client-key: key.pem}}]\n");
  ::testing::internal::CaptureStderr();
  absl::StatusOr<ClusterConfig> c = KubeconfigConfig(options);
  std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_THAT(logged, HasSubstr("can be read by other users (mode 644)"));
  EXPECT_THAT(logged, ::testing::Not(HasSubstr("KEY PEM")));
  std::filesystem::permissions(key, std::filesystem::perms(0600));
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(KubeconfigConfig(options).ok());
  logged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logged, ::testing::Not(HasSubstr("can be read by other users")));
}

TEST_F(ConfigTest, HomeKubeconfigIsTheDefault) {
  Write(".kube/config",
        "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]\n");
  KubeconfigOptions options;
  options.getenv = Env({{"HOME", dir_}});
  absl::StatusOr<ClusterConfig> c = KubeconfigConfig(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "http://127.0.0.1:8080");
}

TEST_F(ConfigTest, BrokenKubeconfigsAreClearErrors) {
  KubeconfigOptions options;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a: [unclosed", "is not valid YAML"},
      {"- just\n- a list\n", "is not a YAML mapping"},
      {"clusters: []\n", "sets no current-context"},
      {"current-context: nope\n", "has no context \"nope\""},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n", "names cluster \"c\""},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, "
       "cluster: {}}]\n",
       "has no server"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!!'}}]\n",
       "not valid base64"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: "
       "/nonexistent/ca}}]\n",
       "cannot read"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {exec: "
       "{command: gcloud}}}]\n",
       "exec: apiVersion \"\" is not client.authentication.k8s.io/v1 or /v1beta1"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: "
       "{auth-provider: {name: gcp}}}]\n",
       "auth-provider"},
      // Found by fuzzing: a user that is a scalar, not a mapping.
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: "
       "'token:=abc'}]\n",
       "user \"u\" is not a mapping"},
      // A path to a device or a directory is refused, not read without end.
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: /dev/zero}}]\n",
       "/dev/zero: not a regular file"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: /}}]\n",
       "not a regular file"},
  };
  int i = 0;
  for (const auto& [text, why] : cases) {
    options.paths = Write("broken" + std::to_string(i++) + ".yaml", text);
    absl::Status s = KubeconfigConfig(options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(s.message(), HasSubstr(why)) << text;
  }
  // A file over the size limit (4 MiB) is an error, not a read of it all.
  Write("big.pem", std::string(5 << 20, 'A'));
  options.paths = Write("big.yaml",
                        "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
                        "clusters: [{name: c, cluster: {server: 'https://h', "
                        "certificate-authority: big.pem}}]\n");
  EXPECT_THAT(KubeconfigConfig(options).status().message(), HasSubstr("larger than"));
  options.paths = dir_;  // a directory as the kubeconfig
  EXPECT_THAT(KubeconfigConfig(options).status().message(), HasSubstr("not a regular file"));
  options.paths = dir_ + "/none.yaml";
  EXPECT_EQ(KubeconfigConfig(options).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kubegrpc
