// File: kubegrpc/http_k8s_client.h
// -----------------------------------------------------------------------------
// HttpK8sClient: the K8sClient of a real cluster, over the Kubernetes REST API
// (HTTPS, JSON) with cpp-httplib.
//
//   absl::StatusOr<kubegrpc::ClusterConfig> config = kubegrpc::DefaultConfig();
//   absl::StatusOr<std::unique_ptr<kubegrpc::HttpK8sClient>> client =
//       kubegrpc::HttpK8sClient::Create(*config);
//   auto slices = (*client)->ListEndpoints(kubegrpc::EndpointSource::kEndpointSlices,
//                                          "prod", "greeter");
//
// - TLS is verified against the configured CA (the system roots if none); only
//   `insecure_skip_tls_verify` turns that off, with a warning on stderr. A
//   client certificate is presented when configured. Redirects are not followed
//   (credentials never go to another host).
// - The bearer token is re-read from its file at most every
//   `token_reread_interval` and at once after a 401, and the request is retried
//   once with the new token. With an exec credential plugin, the token comes
//   from running it: again when it expires (expirationTimestamp) or after a 401. Tokens never
//   appear in error messages or logs (even when a server echoes them back in a body that an error
//   quotes).
// - Every request has a connect and a read timeout. A watch's read timeout is its
//   WatchRequest::idle_timeout (discovery's watchdog), so a silent, stalled
//   stream fails with Unavailable instead of hanging. Every request ends at
//   once (Cancelled) when its Cancellation fires, even while connecting: the
//   client keeps a duplicate of each connection's socket descriptor to shut it
//   down from the cancelling thread.
// - A request that fails on a reused keep-alive connection before any byte of
//   an answer (the server or a proxy closed it while idle) is retried once on a
//   new connection.
// - Error responses become absl::Status (see k8s_client.h), JSON Status bodies or
//   not; Retry-After travels with the status. A watch line longer than
//   `max_watch_line_bytes` ends the watch with ResourceExhausted.
//
// Thread-safety: thread-safe. Unary requests reuse idle keep-alive connections
// (one per concurrent request, at most 8 kept); each watch has its own
// connection. No lock is held across I/O, file reads included.

#ifndef KUBEGRPC_HTTP_K8S_CLIENT_H_
#define KUBEGRPC_HTTP_K8S_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kubegrpc/config.h"
#include "kubegrpc/k8s_client.h"

namespace httplib {
class ClientImpl;
}  // namespace httplib

namespace kubegrpc {

class HttpK8sClient : public K8sClient {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Seconds(10);
    absl::Duration request_timeout = absl::Seconds(30);
    absl::Duration token_reread_interval = absl::Seconds(60);
    size_t max_watch_line_bytes = 16 << 20;
    size_t max_response_bytes = 256 << 20;
    // How long an exec credential plugin may run before it is killed.
    absl::Duration exec_timeout = absl::Seconds(30);
  };

  // InvalidArgument for a server URL that is not http(s)://host[:port][/path] or
  // PEM material that does not parse.
  static absl::StatusOr<std::unique_ptr<HttpK8sClient>> Create(ClusterConfig config,
                                                               Options options);
  static absl::StatusOr<std::unique_ptr<HttpK8sClient>> Create(ClusterConfig config) {
    return Create(std::move(config), Options());
  }
  ~HttpK8sClient() override;

  absl::StatusOr<ServiceInfo> GetService(const std::string& ns, const std::string& name,
                                         Cancellation* cancel = nullptr) override;
  absl::StatusOr<EndpointObjectList> ListEndpoints(EndpointSource source, const std::string& ns,
                                                   const std::string& service,
                                                   Cancellation* cancel = nullptr) override;
  absl::StatusOr<std::string> GetNodeZone(const std::string& node,
                                          Cancellation* cancel = nullptr) override;
  absl::Status WatchEndpoints(EndpointSource source, const std::string& ns,
                              const std::string& service, const WatchRequest& request,
                              const std::function<void(const WatchEvent&)>& on_event,
                              Cancellation* cancel) override;

  const ClusterConfig& config() const { return config_; }

 private:
  struct Endpoint;     // the parsed server URL
  class SocketHandle;  // lets another thread cut a connection's socket
  struct Connection {
    std::unique_ptr<httplib::ClientImpl> client;
    std::shared_ptr<SocketHandle> socket;
  };
  HttpK8sClient(ClusterConfig config, Options options);

  // A new connection to the API server, configured for TLS and timeouts (an
  // empty client if the client certificate does not parse).
  Connection NewConnection(absl::Duration read_timeout) const;
  // GET `path`; the body of a 200, else the error. Retries once after a 401
  // (with the token re-read) and once when a reused keep-alive connection
  // turns out dead before any answer (on a new connection).
  absl::StatusOr<std::string> Get(const std::string& path, const std::string& context,
                                  Cancellation* cancel) ABSL_LOCKS_EXCLUDED(idle_mu_);
  // The current token ("" if none): re-read from its file when due or
  // `force`d, or from the exec plugin when it expires or is `force`d (one run
  // at a time; others wait for it). Files are read and plugins run without
  // holding token_mu_. An exec plugin's failure is the error.
  absl::StatusOr<std::string> Token(bool force) ABSL_LOCKS_EXCLUDED(token_mu_);
  // Unavailable for a request that got no response (httplib::Error `error`),
  // in words: refused, reset, timed out, TLS... with errno where there is one.
  absl::Status ConnectionError(int error, int err_no, long verify_result, absl::Duration elapsed,
                               absl::Duration read_timeout, const std::string& context) const;
  absl::StatusOr<ServiceInfo> GetServiceImpl(const std::string& ns, const std::string& name,
                                             Cancellation* cancel);
  absl::StatusOr<EndpointObjectList> ListEndpointsImpl(EndpointSource source, const std::string& ns,
                                                       const std::string& service,
                                                       Cancellation* cancel);
  absl::Status WatchEndpointsImpl(EndpointSource source, const std::string& ns,
                                  const std::string& service, const WatchRequest& request,
                                  const std::function<void(const WatchEvent&)>& on_event,
                                  Cancellation* cancel);
  // The secrets that must never appear in a message (the token, old and new).
  std::vector<std::string> Secrets() ABSL_LOCKS_EXCLUDED(token_mu_);
  // `status` with credentials removed from its message (internal/redact.h).
  absl::Status Redact(absl::Status status) ABSL_LOCKS_EXCLUDED(token_mu_);
  // The error for an HTTP error answer; `body` is redacted before any of it is
  // quoted.
  absl::Status HttpError(int status, const std::string& body, const std::string& retry_after,
                         const std::string& context) ABSL_LOCKS_EXCLUDED(token_mu_);
  // FailedPrecondition for a 3xx answer, naming where it pointed.
  absl::Status RedirectError(int status, const std::string& location,
                             const std::string& context) const;
  std::string Path(EndpointSource source, const std::string& ns, const std::string& service) const;

  const ClusterConfig config_;
  const Options options_;
  std::unique_ptr<Endpoint> endpoint_;

  // Idle keep-alive connections for unary requests: a request takes one (or
  // opens one) and gives it back, so no lock is held during I/O.
  absl::Mutex idle_mu_;
  std::vector<Connection> idle_ ABSL_GUARDED_BY(idle_mu_);

  absl::Mutex token_mu_;
  std::string token_ ABSL_GUARDED_BY(token_mu_);
  std::string previous_token_ ABSL_GUARDED_BY(token_mu_);
  absl::Time token_read_at_ ABSL_GUARDED_BY(token_mu_) = absl::InfinitePast();
  // Exec plugins: when the token expires, and whether a run is under way.
  absl::Time token_expires_ ABSL_GUARDED_BY(token_mu_) = absl::InfinitePast();
  bool exec_running_ ABSL_GUARDED_BY(token_mu_) = false;
};

}  // namespace kubegrpc

#endif  // KUBEGRPC_HTTP_K8S_CLIENT_H_
