// Fuzzes the watch stream decoder with arbitrary bytes cut into arbitrary chunks.
// Property: the events and the outcome do not depend on where the stream is
// cut, and memory stays within the line limit.
//
// Input: byte 0 picks the source (bit 0) and the line limit (bits 1-3); bytes
// 1-4 seed the chunk sizes; the rest is the response body.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kubegrpc/internal/watch_stream.h"

namespace {

using kubegrpc::EndpointSource;
using kubegrpc::WatchEvent;
using kubegrpc::internal::WatchStreamDecoder;

std::string Describe(const WatchEvent& e) {
  std::string out = absl::StrCat(static_cast<int>(e.type), "|", e.resource_version, "|",
                                 e.object.name, "|", e.error.ToString());
  for (const auto& ep : e.object.endpoints) {
    absl::StrAppend(&out, "|", ep.address, ",", ep.ready.value_or(true), ",", ep.ports.size());
    for (const auto& p : ep.ports) {
      if (p.port < 0 || p.port > 65535) __builtin_trap();
    }
  }
  return out;
}

struct Outcome {
  std::vector<std::string> events;
  absl::StatusCode code;
};

Outcome Run(EndpointSource source, size_t max_line, absl::string_view body,
            const std::vector<size_t>& cuts) {
  WatchStreamDecoder decoder(source, max_line, "watching fuzz/web");
  Outcome out;
  const auto on_event = [&](const WatchEvent& e) { out.events.push_back(Describe(e)); };
  size_t at = 0;
  absl::Status s;
  for (size_t cut : cuts) {
    s = decoder.Feed(body.substr(at, cut - at), on_event);
    at = cut;
    if (!s.ok()) break;
  }
  if (s.ok()) s = decoder.Feed(body.substr(at), on_event);
  if (s.ok()) s = decoder.Finish();
  out.code = s.code();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const EndpointSource source =
      (data[0] & 1) ? EndpointSource::kEndpoints : EndpointSource::kEndpointSlices;
  static constexpr size_t kLimits[] = {1 << 20, 16, 64, 256, 1024, 4096, 65536, 1 << 20};
  const size_t max_line = kLimits[(data[0] >> 1) & 7];
  uint32_t seed;
  std::memcpy(&seed, data + 1, 4);
  absl::string_view body(reinterpret_cast<const char*>(data) + 5, size - 5);

  std::vector<size_t> cuts;
  for (size_t at = 0;;) {
    seed = seed * 1664525u + 1013904223u;
    at += 1 + (seed >> 16) % 97;
    if (at >= body.size()) break;
    cuts.push_back(at);
  }
  const Outcome whole = Run(source, max_line, body, {});
  const Outcome chunked = Run(source, max_line, body, cuts);
  if (whole.code != chunked.code || whole.events != chunked.events) __builtin_trap();
  return 0;
}
