#include "kubegrpc/internal/call_interceptor.h"

#include "absl/time/clock.h"

namespace kubegrpc::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Counts from the first hook of the call to its status. A call destroyed
// without a status (it never started sending) is counted as CANCELLED, so
// in-flight never leaks.
class CallCountingInterceptor : public grpc::experimental::Interceptor {
 public:
  // Holds the counters: a call may outlive its channel's last handle.
  explicit CallCountingInterceptor(std::shared_ptr<CallCounters> calls)
      : calls_(std::move(calls)) {}
  ~CallCountingInterceptor() override {
    if (started_ && !finished_) calls_->Finished(grpc::StatusCode::CANCELLED, Elapsed());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!started_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      started_ = true;
      start_ns_ = absl::GetCurrentTimeNanos();
      calls_->Started();
    }
    if (started_ && !finished_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      finished_ = true;
      const grpc::Status* status = methods->GetRecvStatus();
      calls_->Finished(status != nullptr ? status->error_code() : grpc::StatusCode::UNKNOWN,
                       Elapsed());
    }
    methods->Proceed();
  }

 private:
  absl::Duration Elapsed() const {
    return absl::Nanoseconds(absl::GetCurrentTimeNanos() - start_ns_);
  }
  const std::shared_ptr<CallCounters> calls_;
  bool started_ = false;
  bool finished_ = false;
  int64_t start_ns_ = 0;
};

}  // namespace

grpc::experimental::Interceptor* CallCountingFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* info) {
  return new CallCountingInterceptor(calls_);
}

}  // namespace kubegrpc::internal
