// File: fakek8s/api_server.h
// -----------------------------------------------------------------------------
// fakek8s's HTTP(S) API server: the Kubernetes REST API over an ObjectStore, on a
// loopback port, faithful enough that kubectl and the official python client
// accept it (docs/KUBERNETES.md is the contract).
//
//   fakek8s::ObjectStore store;
//   fakek8s::EndpointController controller;
//   controller.Attach(store);
//   absl::StatusOr<std::unique_ptr<fakek8s::ApiServer>> server =
//       fakek8s::ApiServer::Start(&store, {.tls = true});
//   (*server)->AddToken("secret-token", "system:serviceaccount:demo:client");
//   std::string kubeconfig = (*server)->Kubeconfig("secret-token", "demo");
//
// Served: discovery (/api, /apis, /api/v1, /apis/discovery.k8s.io[/v1],
// /version); get, list (label and field selectors, `<Kind>List`) and watch
// (chunked, one event per line, resourceVersion semantics, timeoutSeconds,
// bookmarks, sendInitialEvents, the 410 ERROR event, legacy /watch/ paths) of
// namespaces, services, pods, endpoints and endpointslices; create, update
// (PUT), patch (merge, strategic-merge, JSON patch; also on `/status`) and
// delete (pods terminate gracefully: deletionTimestamp first, then removal after
// `pod_termination_delay`). Errors are `kind: Status` bodies with the real codes
// and reasons; responses about Endpoints carry the deprecation Warning header.
//
// Authentication: with no token registered every request is anonymous and
// allowed; once a token exists, requests need `Authorization: Bearer <token>` of
// a registered token (401 otherwise). Tokens can be added and removed at run time
// (rotation). Authorization: a user with rules may do only what a rule allows
// (403 with the real message otherwise); users without rules may do anything.
//
// Faults, for tests of clients: latency, failing the next N requests with a code
// (429 with Retry-After and a plain-text body as the real rate limiter sends it),
// dropping all watches, compacting the history (410 on resume), stalling watches
// (open and silent) and an outage (the port refuses connections until EndOutage).
//
// The pieces: router.h (paths to routes and verbs), access_control.h (tokens,
// RBAC), faults.h, watch_server.h, resource_handler.h (the other verbs),
// patch.h, pod_reaper.h (pod deletion), discovery_docs.h, connection_threads.h.
//
// Thread-safety: all methods are thread-safe. Each connection is served on its
// own thread. The ObjectStore must outlive the server.

#ifndef FAKEK8S_API_SERVER_H_
#define FAKEK8S_API_SERVER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/access_control.h"
#include "fakek8s/events.h"
#include "fakek8s/faults.h"
#include "fakek8s/object_store.h"
#include "fakek8s/pod_reaper.h"
#include "fakek8s/tls.h"
#include "fakek8s/watch_server.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  bool tls = false;
  // The server certificate's validity (negative: expired, for client tests).
  int tls_valid_days = 7;
  // How often an idle watch with allowWatchBookmarks gets a BOOKMARK.
  absl::Duration bookmark_interval = absl::Seconds(60);
  // The lifetime of a watch that sets no timeoutSeconds (and the cap on it).
  absl::Duration max_watch_timeout = absl::Minutes(30);
  // How long a deleted pod stays terminating before it is removed (the kubelet's
  // part); zero removes it right after it is marked.
  absl::Duration pod_termination_delay = absl::ZeroDuration();
  // Largest request body accepted (413 past it, however the body is sent).
  size_t max_body_bytes = 3 << 20;
  // Connections served at once (each has a thread); past it, 429 and close.
  size_t max_connections = 1024;
  // What /version reports.
  std::string git_version = "v1.34.0";
  // Where events about the API server's faults go (with a recorder set).
  std::string events_namespace = "default";
};

class ApiServer {
 public:
  // Starts serving `store`. Fails if the port cannot be bound or TLS material
  // cannot be generated.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(ObjectStore* store,
                                                          ApiServerOptions options = {});
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  // Ends all watches and stops serving.
  ~ApiServer();

  // "http://127.0.0.1:<port>" or "https://...".
  std::string url() const;
  int port() const { return port_; }
  // The CA that signed the server's certificate (PEM); "" without TLS.
  std::string ca_pem() const;

  // A kubeconfig (YAML) for this server: the CA inline, `token` as the user's
  // credential (none if empty) and `ns` as the context's namespace.
  std::string Kubeconfig(const std::string& token, const std::string& ns = "default") const;

  // --- Authentication and authorization ---
  void AddToken(const std::string& token, const std::string& user) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveToken(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);
  void SetRules(const std::string& user, std::vector<RbacRule> rules) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Events ---
  // Records an event for each fault injected below (nullptr: none). The
  // recorder must outlive the server.
  void SetEventRecorder(EventRecorder* recorder) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Faults ---
  void SetLatency(absl::Duration latency) ABSL_LOCKS_EXCLUDED(mu_);
  // The next `count` requests get `http_code`. A non-zero `retry_after` adds the
  // Retry-After header; `plain_text` sends a text body instead of a Status.
  void FailNextRequests(int count, int http_code, absl::Duration retry_after = absl::ZeroDuration(),
                        bool plain_text = false) ABSL_LOCKS_EXCLUDED(mu_);
  // The next `count` requests get exactly this response, as a broken proxy or
  // load balancer in front of the API server might send it: an HTML error page,
  // plain text, or a 200 with truncated JSON.
  // `headers` are added (a redirect's Location, say).
  void RespondToNextRequests(int count, int http_code, std::string content_type, std::string body,
                             std::vector<std::pair<std::string, std::string>> headers = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every open watch stream cleanly (clients re-watch).
  void DropWatches();
  // Forgets the event history: resuming a watch from an older RV gets 410.
  void CompactHistory();
  // While stalled, watch streams stay open but send nothing (not even bookmarks).
  void StallWatches(bool stalled);
  // Stops listening: connections are refused and open streams end.
  void BeginOutage() ABSL_LOCKS_EXCLUDED(listen_mu_);
  // Listens again on the same port.
  absl::Status EndOutage() ABSL_LOCKS_EXCLUDED(listen_mu_);

  // Serves one request without a connection, exactly as if it had arrived on
  // the port (authentication, faults, routing, errors). For fuzzing the request
  // handler; a watch's response gets its chunked content provider, which the
  // caller may run or drop.
  void ServeInProcess(const httplib::Request& req, httplib::Response& res) { Handle(req, res); }

  // --- Introspection ---
  // Requests served so far, by "VERB resource" (e.g. "watch endpointslices",
  // "list pods", "discovery").
  std::map<std::string, int64_t> RequestCounts() ABSL_LOCKS_EXCLUDED(mu_);
  // Watch streams open right now.
  int OpenWatchStreams() const { return watches_.open_streams(); }

 private:
  ApiServer(ObjectStore* store, ApiServerOptions options);

  absl::Status StartListeningLocked(int port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(listen_mu_);
  void StopListeningLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(listen_mu_);

  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleApi(const httplib::Request& req, httplib::Response& res);
  void Count(const std::string& what) ABSL_LOCKS_EXCLUDED(mu_);
  void RecordFault(const std::string& message) ABSL_LOCKS_EXCLUDED(mu_);

  ObjectStore* const store_;
  const ApiServerOptions options_;
  std::optional<ServerCertificates> certs_;
  int port_ = 0;

  AccessControl access_;
  FaultInjector faults_;
  WatchServer watches_;
  PodReaper reaper_;

  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> counts_ ABSL_GUARDED_BY(mu_);
  EventRecorder* recorder_ ABSL_GUARDED_BY(mu_) = nullptr;

  absl::Mutex listen_mu_;
  std::unique_ptr<httplib::Server> http_ ABSL_GUARDED_BY(listen_mu_);
  std::thread listen_thread_ ABSL_GUARDED_BY(listen_mu_);
};

}  // namespace fakek8s

#endif  // FAKEK8S_API_SERVER_H_
