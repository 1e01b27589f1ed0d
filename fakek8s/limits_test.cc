// fakek8s under abuse: bodies past the limit however they are sent, watches
// whose clients went away, more connections than it serves, a history that
// would grow without end, patches that try to rename their object.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/fake_kubernetes.h"
#include "fakek8s/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace fakek8s {
namespace {

using ::testing::HasSubstr;

// A raw TCP connection to the server (plain HTTP), for requests httplib's
// client would not send as they are.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConnection() { Close(); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until `needle` arrives or the peer closes (generous bound).
  std::string ReadUntil(const std::string& needle) {
    std::string got;
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    char buf[4096];
    while (absl::Now() < give_up && got.find(needle) == std::string::npos) {
      timeval tv = {1, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::unique_ptr<FakeKubernetes> Start(ApiServerOptions server = {}) {
  auto k8s = FakeKubernetes::Start({.server = server});
  EXPECT_TRUE(k8s.ok()) << k8s.status();
  EXPECT_TRUE(SeedDemo((*k8s)->store(), {}).ok());
  return *std::move(k8s);
}

TEST(LimitsTest, AChunkedBodyPastTheLimitIs413AndNothingIsCreated) {
  auto k8s = Start({.max_body_bytes = 64 << 10});
  RawConnection c(k8s->server().port());
  ASSERT_TRUE(c.connected());
  const std::string service = absl::StrCat(R"({"metadata":{"name":"big","annotations":{"a":")",
                                           std::string(1 << 20, 'x'), R"("}}})");
  std::string request =
      "POST /api/v1/namespaces/demo/services HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < service.size(); at += 8192) {
    const std::string chunk = service.substr(at, 8192);
    absl::StrAppend(&request, absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
  }
  request += "0\r\n\r\n";
  c.Send(request);  // the server may stop reading (and close) part way
  const std::string answer = c.ReadUntil("\r\n\r\n");
  EXPECT_THAT(answer, HasSubstr("413"));
  EXPECT_FALSE(k8s->store().Get(Resource::kServices, "demo", "big").ok());
}

TEST(LimitsTest, AWatchWhoseClientWentAwayEndsWithoutWaitingForAWrite) {
  // No bookmarks, no events: only noticing the closed peer can end them.
  auto k8s = Start({.bookmark_interval = absl::Hours(1)});
  std::vector<std::unique_ptr<RawConnection>> watches;
  for (int i = 0; i < 20; ++i) {
    auto c = std::make_unique<RawConnection>(k8s->server().port());
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->Send(absl::StrCat("GET /api/v1/namespaces/demo/pods?watch=1&resourceVersion=",
                                     k8s->store().CurrentResourceVersion(),
                                     " HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_THAT(c->ReadUntil("\r\n\r\n"), HasSubstr("200"));
    watches.push_back(std::move(c));
  }
  EXPECT_EQ(k8s->server().OpenWatchStreams(), 20);
  watches.clear();  // the clients close their connections
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (k8s->server().OpenWatchStreams() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(k8s->server().OpenWatchStreams(), 0);
}

TEST(LimitsTest, ConnectionsPastTheCapGet429) {
  auto k8s = Start({.max_connections = 4});
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) {
    auto c = std::make_unique<RawConnection>(k8s->server().port());
    ASSERT_TRUE(c->Send("GET /api/v1/namespaces/demo/pods?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_THAT(c->ReadUntil("\r\n\r\n"), HasSubstr("200"));
    held.push_back(std::move(c));
  }
  httplib::Client client("127.0.0.1", k8s->server().port());
  httplib::Result r = client.Get("/api/v1/namespaces/demo/pods");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_THAT(r->body, HasSubstr("more than 4 connections"));
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  held.clear();
  // Room again once they are gone.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  int status = 0;
  while (status != 200 && absl::Now() < give_up) {
    httplib::Client again("127.0.0.1", k8s->server().port());
    httplib::Result ok = again.Get("/api/v1/namespaces/demo/pods");
    status = ok ? ok->status : 0;
    if (status != 200) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(status, 200);
}

TEST(LimitsTest, TheWatchHistoryIsBoundedByBytes) {
  ObjectStore store({.history_limit = 100000, .history_bytes_limit = 256 << 10});
  ASSERT_TRUE(store.Create(Resource::kNamespaces, {{"metadata", {{"name", "demo"}}}}).ok());
  ASSERT_TRUE(
      store
          .Create(Resource::kServices, {{"metadata", {{"name", "s"}, {"namespace", "demo"}}},
                                        {"spec", {{"ports", json::array({{{"port", 80}}})}}}})
          .ok());
  const std::string first = store.CurrentResourceVersion();
  // 200 writes of a 16 KiB object: far more than 256 KiB of history.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store
                    .Mutate(Resource::kServices, "demo", "s",
                            [&](json& s) {
                              s["metadata"]["annotations"]["blob"] =
                                  std::string(16 << 10, static_cast<char>('a' + i % 26));
                              return absl::OkStatus();
                            })
                    .ok());
  }
  // The oldest events are gone (410), the latest still there.
  EXPECT_FALSE(store.StartWatch(Resource::kServices, {.from_rv = first}).ok());
  std::string recent = std::to_string(std::stoll(store.CurrentResourceVersion()) - 2);
  EXPECT_TRUE(store.StartWatch(Resource::kServices, {.from_rv = recent}).ok());
}

TEST(LimitsTest, APatchThatChangesTheNameIsRefusedAsTheRealServerDoes) {
  auto k8s = Start();
  httplib::Client client("127.0.0.1", k8s->server().port());
  httplib::Result r =
      client.Patch("/api/v1/namespaces/demo/services/web", R"({"metadata":{"name":"other"}})",
                   "application/merge-patch+json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("does not match the name on the URL"));
  EXPECT_TRUE(k8s->store().Get(Resource::kServices, "demo", "web").ok());
}

TEST(LimitsTest, ManifestsThatDeclareTheDefaultNamespaceLoad) {
  ObjectStore store;
  absl::Status s = SeedFromManifests(store, R"(
apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {team: web}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
)");
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<json> ns = store.Get(Resource::kNamespaces, "", "default");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ((*ns)["metadata"]["labels"]["team"], "web");
}

}  // namespace
}  // namespace fakek8s
