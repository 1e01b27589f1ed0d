#include "kubegrpc/target.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kubegrpc {
namespace {

using ::testing::HasSubstr;

ServiceTarget T(std::string name, std::string ns, int port, std::string port_name = "") {
  return {std::move(name), std::move(ns), port, std::move(port_name)};
}

TEST(ParseTargetTest, AcceptedForms) {
  const std::vector<std::pair<std::string, ServiceTarget>> cases = {
      {"greeter.prod.svc.cluster.local:50051", T("greeter", "prod", 50051)},
      {"greeter.prod.svc.my.domain:50051", T("greeter", "prod", 50051)},
      {"greeter.prod.svc:80", T("greeter", "prod", 80)},
      {"greeter.prod:80", T("greeter", "prod", 80)},
      {"greeter:80", T("greeter", "", 80)},
      {"greeter:grpc", T("greeter", "", 0, "grpc")},
      {"kubernetes:///greeter.prod:grpc-web", T("greeter", "prod", 0, "grpc-web")},
      {"kubernetes:///greeter.prod.svc.cluster.local:443", T("greeter", "prod", 443)},
      {"  web-2.team-a:65535 ", T("web-2", "team-a", 65535)},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<ServiceTarget> got = ParseTarget(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text;
  }
  EXPECT_EQ(ParseTarget("greeter.prod:80")->ToString(), "prod/greeter:80");
  EXPECT_EQ(ParseTarget("greeter:grpc")->ToString(), "<default>/greeter:grpc");
}

TEST(ParseTargetTest, RejectedWithAClearReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "it is empty"},
      {"greeter", "the port is missing"},
      {"greeter:", "the port is missing"},
      {"greeter:0", "not a number from 1 to 65535"},
      {"greeter:70000", "not a number from 1 to 65535"},
      {"greeter:12ab", "not a number from 1 to 65535"},
      {"greeter:GRPC", "neither a port number nor a port name"},
      {"greeter:a-very-long-port-name", "neither a port number nor a port name"},
      {"Greeter.prod:80", "not a valid Service name"},
      {"1greeter.prod:80", "not a valid Service name"},
      {"greeter.Prod:80", "not a valid namespace"},
      {"greeter.prod.cluster.local:80", "must read name.namespace.svc"},
      {"greeter..svc:80", "not a valid namespace"},
      {"dns:///greeter:80", "only the kubernetes:/// scheme"},
      {"kubernetes://prod/greeter:80", "three slashes"},
      {"greeter.prod.svc.clu_ster:80", "cluster domain"},
  };
  for (const auto& [text, why] : cases) {
    absl::StatusOr<ServiceTarget> got = ParseTarget(text);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(got.status().message(), HasSubstr(why)) << text;
    EXPECT_THAT(got.status().message(), HasSubstr("greeter.prod.svc.cluster.local:50051")) << text;
  }
}

}  // namespace
}  // namespace kubegrpc
