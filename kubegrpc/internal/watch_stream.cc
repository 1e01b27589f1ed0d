#include "kubegrpc/internal/watch_stream.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kubegrpc/internal/k8s_json.h"

namespace kubegrpc::internal {

WatchStreamDecoder::WatchStreamDecoder(EndpointSource source, size_t max_line_bytes,
                                       std::string context)
    : source_(source), max_line_bytes_(max_line_bytes), context_(std::move(context)) {}

absl::Status WatchStreamDecoder::Feed(absl::string_view chunk,
                                      const std::function<void(const WatchEvent&)>& on_event) {
  if (!error_.ok()) return error_;
  const auto too_big = [&] {
    error_ = absl::ResourceExhaustedError(absl::StrCat(
        "kube-grpc: ", context_, ": a watch event is larger than ", max_line_bytes_, " bytes"));
    buffer_.clear();
    buffer_.shrink_to_fit();
    return error_;
  };
  // Complete lines are decoded straight from `chunk` when nothing is buffered;
  // only an unfinished line is copied.
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    if (nl == absl::string_view::npos) {
      if (buffer_.size() + chunk.size() > max_line_bytes_) return too_big();
      buffer_.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    }
    absl::string_view line;
    if (buffer_.empty()) {
      line = chunk.substr(0, nl);
    } else {
      if (buffer_.size() + nl > max_line_bytes_) return too_big();
      buffer_.append(chunk.data(), nl);
      line = buffer_;
    }
    chunk.remove_prefix(nl + 1);
    if (line.size() > max_line_bytes_) return too_big();
    if (!absl::StripAsciiWhitespace(line).empty()) {
      absl::StatusOr<WatchEvent> event = DecodeWatchEvent(source_, line);
      if (!event.ok()) {
        error_ = absl::Status(event.status().code(),
                              absl::StrCat(event.status().message(), " (", context_, ")"));
        return error_;
      }
      // Another complete line already here: this event is not the last of its burst.
      event->last_in_batch = chunk.find('\n') == absl::string_view::npos;
      on_event(*event);
    }
    buffer_.clear();
  }
  return absl::OkStatus();
}

absl::Status WatchStreamDecoder::Finish() const {
  if (!error_.ok()) return error_;
  if (!absl::StripAsciiWhitespace(buffer_).empty()) {
    return absl::UnavailableError(absl::StrCat(
        "kube-grpc: ", context_, ": the watch stream ended in the middle of an event"));
  }
  return absl::OkStatus();
}

}  // namespace kubegrpc::internal
