// Exec credential plugins, with plugin scripts that succeed, fail, hang, print
// garbage, expire, and give a token the API server does not take.

#include "kubegrpc/internal/exec_credential.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kubegrpc/config.h"
#include "kubegrpc/http_k8s_client.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ExecPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(dir_.c_str(), 0700);
  }
  // A plugin: a shell script with `body`.
  std::string Plugin(const std::string& body) {
    const std::string path = dir_ + "/plugin.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0700);
    return path;
  }
  ClusterConfig Config(const std::string& command, const std::string& api_version = kV1) {
    ClusterConfig c;
    c.server = "https://127.0.0.1:6443";
    c.ca_pem = "CA PEM";
    c.source = "a test kubeconfig";
    c.exec = ExecPlugin{.api_version = api_version, .command = command};
    return c;
  }
  static constexpr char kV1[] = "client.authentication.k8s.io/v1";
  std::string dir_;
};

TEST_F(ExecPluginTest, ATokenWithItsExpiryEnvAndClusterInfo) {
  ClusterConfig c = Config(Plugin(R"(
echo "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/info.json"
cat <<JSON
{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
 "status": {"token": "tok-$GREETING", "expirationTimestamp": "2030-01-02T03:04:05Z"}}
JSON
)"));
  c.exec->env = {{"GREETING", "hello"}};
  c.exec->provide_cluster_info = true;
  absl::StatusOr<internal::ExecCredential> r = internal::RunExecPlugin(c, absl::Seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->token, "tok-hello");
  EXPECT_EQ(r->expires,
            absl::FromCivil(absl::CivilSecond(2030, 1, 2, 3, 4, 5), absl::UTCTimeZone()));
  std::ifstream info(dir_ + "/info.json");
  nlohmann::json j = nlohmann::json::parse(info);
  EXPECT_EQ(j["kind"], "ExecCredential");
  EXPECT_EQ(j["spec"]["interactive"], false);
  EXPECT_EQ(j["spec"]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_FALSE(j["spec"]["cluster"]["certificate-authority-data"].get<std::string>().empty());
}

TEST_F(ExecPluginTest, FailuresAreClearAndBounded) {
  struct Case {
    std::string body;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"echo 'login expired; Authorization: Bearer leaked' >&2; exit 3", "exited with 3"},
      {"echo 'this is not json'", "is not JSON"},
      {R"(echo '{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "status": {"token": "t"}}')",
       "not an ExecCredential of client.authentication.k8s.io/v1"},
      {R"(echo '{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "status": {}}')",
       "has no status.token"},
      {R"(echo '{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "status": {"token": "t", "expirationTimestamp": "soon"}}')",
       "not an RFC 3339 time"},
  };
  for (const Case& c : cases) {
    absl::Status s = internal::RunExecPlugin(Config(Plugin(c.body)), absl::Seconds(60)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << c.body;
    EXPECT_THAT(s.message(), HasSubstr(c.why)) << c.body;
    EXPECT_THAT(s.message(), HasSubstr("plugin.sh")) << c.body;
    EXPECT_THAT(s.message(), Not(HasSubstr("leaked")));
  }
}

TEST_F(ExecPluginTest, AHangingPluginIsKilledAtItsTimeout) {
  const absl::Time start = absl::Now();
  absl::Status s =
      internal::RunExecPlugin(Config(Plugin("sleep 600")), absl::Milliseconds(200)).status();
  EXPECT_THAT(s.message(), HasSubstr("did not finish within 200ms and was killed"));
  EXPECT_LT(absl::Now() - start, absl::Minutes(5));  // not the plugin's 10 minutes
}

TEST_F(ExecPluginTest, AMissingCommandSaysSoWithTheInstallHint) {
  ClusterConfig c = Config(dir_ + "/no-such-plugin");
  c.exec->install_hint = "Install it with: apt-get install no-such-plugin";
  absl::Status s = internal::RunExecPlugin(c, absl::Seconds(60)).status();
  EXPECT_THAT(s.message(), HasSubstr("no-such-plugin"));
  EXPECT_THAT(s.message(), HasSubstr("Install it with"));
  c = Config(Plugin("true"));
  c.exec->interactive_mode = "Always";
  EXPECT_THAT(internal::RunExecPlugin(c, absl::Seconds(60)).status().message(),
              HasSubstr("needs an interactive terminal"));
}

// Through the HTTP client against fakek8s: the plugin runs when a token is
// needed, again when it has expired, and again after a 401.
class ExecClientTest : public ExecPluginTest {
 protected:
  void SetUp() override {
    ExecPluginTest::SetUp();
    auto k8s = fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
    ASSERT_TRUE(k8s.ok());
    k8s_ = *std::move(k8s);
    ASSERT_TRUE(fakek8s::SeedDemo(k8s_->store(), {}).ok());
  }
  // A plugin that gives token-<n> on its n-th run (and records n).
  ClusterConfig Counting(const std::string& expiration) {
    ClusterConfig c = Config(Plugin(absl::StrCat(
        R"(
n=$(cat "$(dirname "$0")/runs" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$(dirname "$0")/runs"
echo '{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "status": {"token": "token-'$n'")",
        expiration.empty() ? "" : absl::StrCat(R"(, "expirationTimestamp": ")", expiration, R"(")"),
        R"(}}')")));
    c.server = k8s_->server().url();
    c.ca_pem = k8s_->server().ca_pem();
    return c;
  }
  int Runs() {
    std::ifstream in(dir_ + "/runs");
    int n = 0;
    in >> n;
    return n;
  }
  std::unique_ptr<fakek8s::FakeKubernetes> k8s_;
};

TEST_F(ExecClientTest, ATokenWithoutExpiryIsKeptUntilA401) {
  k8s_->server().AddToken("token-2", "someone");  // not token-1
  auto client = HttpK8sClient::Create(Counting(""));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<ServiceInfo> s = (*client)->GetService("demo", "web");
  EXPECT_TRUE(s.ok()) << s.status();  // 401 with token-1, then token-2
  EXPECT_EQ(Runs(), 2);
  EXPECT_TRUE((*client)->GetService("demo", "web").ok());
  EXPECT_EQ(Runs(), 2);  // kept
}

TEST_F(ExecClientTest, AnExpiredTokenIsFetchedAgain) {
  for (const char* t : {"token-1", "token-2", "token-3"}) k8s_->server().AddToken(t, "someone");
  auto client = HttpK8sClient::Create(Counting("2020-01-01T00:00:00Z"));
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->GetService("demo", "web").ok());
  EXPECT_TRUE((*client)->GetService("demo", "web").ok());
  EXPECT_EQ(Runs(), 2);  // once per request: each token had expired
}

TEST_F(ExecClientTest, APluginFailureIsTheRequestsError) {
  ClusterConfig c = Config(Plugin("echo 'no credentials' >&2; exit 1"));
  c.server = k8s_->server().url();
  c.ca_pem = k8s_->server().ca_pem();
  auto client = HttpK8sClient::Create(c);
  ASSERT_TRUE(client.ok());
  absl::Status s = (*client)->GetService("demo", "web").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("no credentials"));
}

}  // namespace
}  // namespace kubegrpc
