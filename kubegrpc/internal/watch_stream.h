// File: kubegrpc/internal/watch_stream.h
// -----------------------------------------------------------------------------
// WatchStreamDecoder: turns the body of a watch response, arriving in chunks cut
// anywhere, into WatchEvents (one JSON object per line, blank lines ignored).
// An event is marked `last_in_batch` unless the chunk it came in already holds
// another complete line (the only thing that depends on the chunking).
//
//   WatchStreamDecoder decoder(EndpointSource::kEndpointSlices, 16 << 20,
//                              "watching EndpointSlices of Service demo/web");
//   for each chunk: if (absl::Status s = decoder.Feed(chunk, on_event); !s.ok()) stop;
//   at the end:     absl::Status s = decoder.Finish();
//
// Errors end the stream (the decoder is then unusable): ResourceExhausted when a
// line exceeds `max_line_bytes` (detected as soon as the buffered part does, so
// memory stays bounded), the decode error of a bad line (Internal), and, from
// Finish, Unavailable when the stream ended inside an event. Each message names
// `context`. Work is linear in the bytes fed, however they are chunked.
// Not thread-safe: one decoder per stream.

#ifndef KUBEGRPC_INTERNAL_WATCH_STREAM_H_
#define KUBEGRPC_INTERNAL_WATCH_STREAM_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kubegrpc/k8s_client.h"

namespace kubegrpc::internal {

class WatchStreamDecoder {
 public:
  WatchStreamDecoder(EndpointSource source, size_t max_line_bytes, std::string context);

  absl::Status Feed(absl::string_view chunk,
                    const std::function<void(const WatchEvent&)>& on_event);
  absl::Status Finish() const;

 private:
  const EndpointSource source_;
  const size_t max_line_bytes_;
  const std::string context_;
  std::string buffer_;  // the start of an unfinished line
  absl::Status error_;
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_WATCH_STREAM_H_
