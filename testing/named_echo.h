// File: testing/named_echo.h
// -----------------------------------------------------------------------------
// The smallest echo "pod": answers Echo with the request's message and its own
// name, so a test can tell which pod a call reached. For tests that build their
// own grpc::Server (TLS, custom listeners); FakePod is the full-featured one.
// Thread-safe (stateless after construction).

#ifndef TESTING_NAMED_ECHO_H_
#define TESTING_NAMED_ECHO_H_

#include <string>
#include <utility>

#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc::testing {

class NamedEcho final : public Echo::Service {
 public:
  explicit NamedEcho(std::string name) : name_(std::move(name)) {}
  grpc::Status Echo(grpc::ServerContext*, const EchoRequest* request,
                    EchoResponse* response) override {
    response->set_message(request->message());
    response->set_pod_name(name_);
    return grpc::Status::OK;
  }

 private:
  const std::string name_;
};

}  // namespace kubegrpc::testing

#endif  // TESTING_NAMED_ECHO_H_
