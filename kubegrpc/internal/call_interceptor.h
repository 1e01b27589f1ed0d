// File: kubegrpc/internal/call_interceptor.h
// -----------------------------------------------------------------------------
// The client interceptor on every pod's channel: it counts each call on the
// endpoint's CallCounters (in flight while it runs; its status code and
// latency when it ends), so that the pool sees every call however it is made:
// through kubegrpc::Call, a stub the user holds, async, callback or streaming.
//
// Thread-safety: an interceptor belongs to one call; the factory is shared
// by the channel's calls and only reads its counters pointer.

#ifndef KUBEGRPC_INTERNAL_CALL_INTERCEPTOR_H_
#define KUBEGRPC_INTERNAL_CALL_INTERCEPTOR_H_

#include <memory>

#include "grpcpp/support/client_interceptor.h"
#include "kubegrpc/picker.h"

namespace kubegrpc::internal {

class CallCountingFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit CallCountingFactory(std::shared_ptr<CallCounters> calls) : calls_(std::move(calls)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override;

 private:
  const std::shared_ptr<CallCounters> calls_;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_CALL_INTERCEPTOR_H_
