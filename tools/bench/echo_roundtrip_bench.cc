// Unary gRPC round trip on loopback through the system gRPC: the floor every
// kube-grpc throughput figure is compared against. Also proves that Google Benchmark
// links in this build.
//
//   bazel run -c opt //tools/bench:echo_roundtrip_bench

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"
#include "testing/proto/echo.grpc.pb.h"

namespace {

class EchoService final : public kubegrpc::testing::Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const kubegrpc::testing::EchoRequest* request,
                    kubegrpc::testing::EchoResponse* response) override {
    response->set_message(request->message());
    response->set_pod_name("bench-0");
    return grpc::Status::OK;
  }
};

// Unary Echo calls over one channel to one loopback server, `state.range(0)` bytes
// of payload per request.
void BM_UnaryEchoLoopback(benchmark::State& state) {
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    state.SkipWithError("cannot start a loopback gRPC server");
    return;
  }
  auto stub = kubegrpc::testing::Echo::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  kubegrpc::testing::EchoRequest request;
  request.set_message("ping");
  request.set_payload(std::string(state.range(0), 'x'));
  for (auto _ : state) {
    grpc::ClientContext context;
    kubegrpc::testing::EchoResponse response;
    grpc::Status status = stub->Echo(&context, request, &response);
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(state.iterations());
  server->Shutdown();
}
BENCHMARK(BM_UnaryEchoLoopback)->Arg(16)->Arg(4096)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
