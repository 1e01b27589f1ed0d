#include "fakek8s/watch_server.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/connection_threads.h"
#include "fakek8s/conversion.h"
#include "fakek8s/http_util.h"
#include "fakek8s/table.h"
#include "httplib.h"

namespace fakek8s {

using internal::EventLine;
using internal::Param;
using internal::ParseBool;
using internal::WriteError;

namespace {

// A watch stream is never compressed, as on a real API server: a compressor would
// hold events back. cpp-httplib 0.11 compresses plain "application/json" for
// clients that accept it (kubectl does) but not this; 0.41 compresses this too,
// so Serve also drops the request's Accept-Encoding.
constexpr char kWatchContentType[] = "application/json;charset=utf-8";

}  // namespace

void WatchServer::Serve(const httplib::Request& req, httplib::Response& res, const Route& route) {
  const ResourceInfo& info = *route.info;
  ObjectStore::WatchOptions options;
  options.namespace_ = route.ns;
  absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(Param(req, "labelSelector"));
  if (!labels.ok()) return WriteError(res, BadRequest(labels.status().message()));
  std::string field_text = Param(req, "fieldSelector");
  if (!route.name.empty()) {
    field_text =
        absl::StrCat(field_text.empty() ? "" : field_text + ",", "metadata.name=", route.name);
  }
  // Checked against the fields this version serves, then read on the stored object.
  absl::StatusOr<FieldSelector> served = FieldSelector::Parse(field_text, info.selectable_fields);
  if (!served.ok()) return WriteError(res, BadRequest(served.status().message()));
  absl::StatusOr<FieldSelector> fields = FieldSelector::Parse(StoredFieldSelector(info, field_text),
                                                              Info(info.storage).selectable_fields);
  if (!fields.ok()) return WriteError(res, BadRequest(fields.status().message()));
  options.labels = *std::move(labels);
  options.fields = *std::move(fields);
  options.from_rv = Param(req, "resourceVersion");
  const bool bookmarks = ParseBool(Param(req, "allowWatchBookmarks"));
  if (ParseBool(Param(req, "sendInitialEvents"))) {
    if (Param(req, "resourceVersionMatch") != "NotOlderThan" || !bookmarks) {
      return WriteError(res,
                        Invalid("ListOptions", "",
                                "sendInitialEvents: Forbidden: sendInitialEvents requires setting "
                                "resourceVersionMatch to NotOlderThan and allowWatchBookmarks"));
    }
    options.send_initial_events = true;
  }
  absl::Duration lifetime = max_watch_timeout_;
  int64_t timeout_seconds = 0;
  if (absl::SimpleAtoi(Param(req, "timeoutSeconds"), &timeout_seconds) && timeout_seconds > 0) {
    lifetime = std::min(lifetime, absl::Seconds(timeout_seconds));
  }

  absl::StatusOr<std::unique_ptr<ObjectStore::Watch>> watch =
      store_->StartWatch(info.storage, options);
  if (!watch.ok() && HttpCode(watch.status()) != 410) return WriteError(res, watch.status());

  struct Stream {
    std::unique_ptr<ObjectStore::Watch> watch;
    std::string error_line;  // a 410 is one ERROR event, then the end
    absl::Time deadline;
    absl::Time next_bookmark;
    int64_t generation;
    int socket = -1;  // the connection's, to notice a client that went away
  };
  auto stream = std::make_shared<Stream>();
  stream->socket = internal::ConnectionSocket(req);
  if (watch.ok()) {
    stream->watch = *std::move(watch);
  } else {
    stream->error_line = EventLine("ERROR", ToStatusObject(watch.status()));
  }
  const absl::Time now = absl::Now();
  stream->deadline = now + lifetime;
  stream->next_bookmark = now + bookmark_interval_;
  stream->generation = generation_.load();
  open_streams_.fetch_add(1);
  const absl::Duration bookmark_interval = bookmark_interval_;
  const std::string kind = info.kind;
  const std::string api_version = info.ApiVersion();
  const ResourceInfo* served_info = &info;  // AllResources() entries live forever
  const RenderAs as = ParseAccept(req.get_header_value("Accept"));
  TableOptions table;
  if (req.has_param("includeObject")) table.include_object = Param(req, "includeObject");

  // httplib reads Accept-Encoding only when it writes this response; the request
  // is its own (non-const) object, handed to handlers as const.
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  res.status = 200;
  res.set_chunked_content_provider(
      kWatchContentType,
      [this, stream, bookmarks, bookmark_interval, kind, api_version, served_info, as, table](
          size_t, httplib::DataSink& sink) mutable {
        if (!stream->error_line.empty()) {
          bool ok = sink.write(stream->error_line.data(), stream->error_line.size());
          stream->error_line.clear();
          sink.done();
          return ok;
        }
        while (true) {
          const absl::Time now = absl::Now();
          if (generation_.load() != stream->generation || now >= stream->deadline) {
            sink.done();
            return true;
          }
          // The client closed the connection: end the stream now, not at the
          // next write (which may be half an hour away without bookmarks).
          if (internal::PeerClosed(stream->socket)) return false;
          if (stalled_.load()) {
            absl::SleepFor(absl::Milliseconds(20));
            continue;
          }
          absl::Duration wait = std::min(absl::Milliseconds(100), stream->deadline - now);
          if (bookmarks)
            wait = std::min(wait, std::max(absl::ZeroDuration(), stream->next_bookmark - now));
          ObjectStore::WatchEvent event;
          switch (stream->watch->Next(wait, &event)) {
            case ObjectStore::Watch::Result::kClosed:
              sink.done();
              return true;
            case ObjectStore::Watch::Result::kEvent: {
              // A stall that began while waiting holds the event back too.
              while (stalled_.load() && generation_.load() == stream->generation) {
                absl::SleepFor(absl::Milliseconds(20));
              }
              json object = ToServed(*served_info, std::move(event.object));
              if (as.rendering == Rendering::kTable && event.type != "BOOKMARK") {
                // As the real server: column definitions with the first event only.
                table.now = absl::Now();
                json meta = {{"resourceVersion", object["metadata"].value("resourceVersion", "")}};
                object = ToTable(*served_info, {object}, meta, as, table);
                table.with_columns = false;
              } else if (as.rendering == Rendering::kPartialMetadata) {
                object = ToPartialMetadata(object, as);
              }
              std::string line = EventLine(event.type, object);
              return sink.write(line.data(), line.size());
            }
            case ObjectStore::Watch::Result::kTimeout:
              break;
          }
          if (bookmarks && absl::Now() >= stream->next_bookmark) {
            stream->next_bookmark = absl::Now() + bookmark_interval;
            std::string rv = stream->watch->ProgressResourceVersion();
            if (rv.empty()) continue;
            std::string line = EventLine("BOOKMARK", {{"kind", kind},
                                                      {"apiVersion", api_version},
                                                      {"metadata", {{"resourceVersion", rv}}}});
            return sink.write(line.data(), line.size());
          }
        }
      },
      [this](bool) { open_streams_.fetch_sub(1); });
}

}  // namespace fakek8s
