// File: fakek8s/watch_server.h
// -----------------------------------------------------------------------------
// WatchServer: the watch streams of fakek8s's API (docs/KUBERNETES.md §3):
// chunked, one event per line, resourceVersion semantics, timeoutSeconds,
// bookmarks, sendInitialEvents (422 unless resourceVersionMatch=NotOlderThan
// and bookmarks), the 410 ERROR event for a compacted history. And the faults
// that belong to streams: stalling them (open and silent), ending them all.
//
// Thread-safety: thread-safe; each stream runs on its connection's thread.

#ifndef FAKEK8S_WATCH_SERVER_H_
#define FAKEK8S_WATCH_SERVER_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "fakek8s/object_store.h"
#include "fakek8s/router.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s {

class WatchServer {
 public:
  // `store` must outlive the server and every stream it serves.
  WatchServer(ObjectStore* store, absl::Duration bookmark_interval,
              absl::Duration max_watch_timeout)
      : store_(store),
        bookmark_interval_(bookmark_interval),
        max_watch_timeout_(max_watch_timeout) {}

  // Answers a watch request on `route`: an error, or a stream.
  void Serve(const httplib::Request& req, httplib::Response& res, const Route& route);

  // Ends every open stream cleanly (their clients re-watch).
  void EndAll() { generation_.fetch_add(1); }
  // While stalled, streams stay open but send nothing, not even bookmarks.
  void Stall(bool stalled) { stalled_.store(stalled); }
  int open_streams() const { return open_streams_.load(); }

 private:
  ObjectStore* const store_;
  const absl::Duration bookmark_interval_;
  const absl::Duration max_watch_timeout_;
  std::atomic<bool> stalled_{false};
  // Bumped to end every open stream (outage, shutdown, DropWatches).
  std::atomic<int64_t> generation_{0};
  std::atomic<int> open_streams_{0};
};

}  // namespace fakek8s

#endif  // FAKEK8S_WATCH_SERVER_H_
