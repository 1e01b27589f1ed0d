// File: kubegrpc/channel_state.h
// -----------------------------------------------------------------------------
// The connectivity of one pod's channel, as gRPC reports it.

#ifndef KUBEGRPC_CHANNEL_STATE_H_
#define KUBEGRPC_CHANNEL_STATE_H_

namespace kubegrpc {

enum class ChannelState { kIdle, kConnecting, kReady, kTransientFailure, kShutdown };

}  // namespace kubegrpc

#endif  // KUBEGRPC_CHANNEL_STATE_H_
