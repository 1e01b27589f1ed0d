#include "kubegrpc/http_k8s_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "httplib.h"
#include "kubegrpc/internal/exec_credential.h"
#include "kubegrpc/internal/k8s_json.h"
#include "kubegrpc/internal/read_file.h"
#include "kubegrpc/internal/redact.h"
#include "kubegrpc/internal/watch_stream.h"

namespace kubegrpc {
namespace {

// OpenSSL writes to sockets with write(), so a write to a connection the API
// server (or a cancellation) already closed raises SIGPIPE, which kills the
// process unless the application ignores it. A library must not die of that,
// nor change the process's signal handling: every piece of code here that may
// write to a socket runs with SIGPIPE blocked on its thread, and a SIGPIPE it
// caused is consumed before the thread's mask is restored (write() then just
// fails with EPIPE, which httplib reports as an error).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_ || sigismember(&old_, SIGPIPE)) return;  // the caller blocks it already
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec zero = {0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
  bool blocked_ = false;
};

}  // namespace

// A duplicate of a connection's socket descriptor (ours to close, so its number
// is never reused under us): shutdown() on it ends a connect, TLS handshake or
// read in progress on httplib's descriptor at once.
class HttpK8sClient::SocketHandle {
 public:
  ~SocketHandle() {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) ::close(fd_);
  }
  // httplib made a new socket for the connection (its socket options hook).
  void Adopt(int fd) {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (cut_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  // Ends whatever the connection is doing, now and for its next socket.
  void Cut() {
    absl::MutexLock lock(&mu_);
    cut_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
};

struct HttpK8sClient::Endpoint {
  bool tls = true;
  std::string host;  // without brackets
  int port = 443;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
};

namespace {

// The OpenSSL verify result of a client's last TLS handshake (X509_V_OK without
// TLS). cpp-httplib 0.11 calls it get_openssl_verify_result, 0.41 get_verify_result.
template <typename Client>
auto VerifyResultOf(const Client& c, int) -> decltype(c.get_openssl_verify_result()) {
  return c.get_openssl_verify_result();
}
template <typename Client>
auto VerifyResultOf(const Client& c, long) -> decltype(c.get_verify_result()) {
  return c.get_verify_result();
}
long TlsVerifyResult(const httplib::ClientImpl* client) {
  const auto* ssl = dynamic_cast<const httplib::SSLClient*>(client);
  return ssl == nullptr ? X509_V_OK : static_cast<long>(VerifyResultOf(*ssl, 0));
}

// cpp-httplib 0.41 reports some failures with errors 0.11 does not have. Each is
// mapped to the 0.11 error that meant the same (templates, since 0.11 lacks the
// names): a hostname mismatch was a failed server verification, a connection
// closed or timed out while reading was a read error.
template <typename E, typename = void>
struct HasNewErrors : std::false_type {};
template <typename E>
struct HasNewErrors<E, std::void_t<decltype(E::SSLServerHostnameVerification),
                                   decltype(E::ConnectionClosed), decltype(E::Timeout)>>
    : std::true_type {};
template <typename E>
bool IsHostnameMismatch(E e) {
  if constexpr (HasNewErrors<E>::value) return e == E::SSLServerHostnameVerification;
  return false;
}
template <typename E>
E AsOldError(E e) {
  if constexpr (HasNewErrors<E>::value) {
    if (e == E::SSLServerHostnameVerification) return E::SSLServerVerification;
    if (e == E::ConnectionClosed || e == E::Timeout) return E::Read;
  }
  return e;
}

std::string SourceName(EndpointSource source) {
  return source == EndpointSource::kEndpointSlices ? "EndpointSlices" : "Endpoints";
}

// PEM text -> a new X509_STORE with every certificate in it (nullptr if none).
X509_STORE* StoreFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  X509_STORE* store = X509_STORE_new();
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  BIO_free(bio);
  if (added == 0) {
    X509_STORE_free(store);
    return nullptr;
  }
  return store;
}

// Tokens are small; the limit keeps a misconfigured path (a device, a log file)
// from being read without end or sent as a header.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> token = internal::ReadSmallFile(
      path, "the token file", absl::StatusCode::kUnauthenticated, /*max_bytes=*/64 << 10);
  if (!token.ok()) return token.status();
  return std::string(absl::StripAsciiWhitespace(*token));
}

// Whether `host` (an address or a name) resolves; for the words of an error.
bool Resolves(const std::string& host) {
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return false;
  ::freeaddrinfo(result);
  return true;
}

std::string UrlEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

HttpK8sClient::HttpK8sClient(ClusterConfig config, Options options)
    : config_(std::move(config)), options_(options), endpoint_(std::make_unique<Endpoint>()) {}

HttpK8sClient::~HttpK8sClient() {
  ScopedSigpipeBlock no_sigpipe;  // pooled TLS connections say goodbye
  absl::MutexLock lock(&idle_mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<HttpK8sClient>> HttpK8sClient::Create(ClusterConfig config,
                                                                     Options options) {
  std::unique_ptr<HttpK8sClient> client(new HttpK8sClient(std::move(config), options));
  Endpoint& ep = *client->endpoint_;
  absl::string_view url = client->config_.server;
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("kube-grpc: API server URL \"",
                                                   client->config_.server, "\" (from ",
                                                   client->config_.source, "): ", why));
  };
  if (absl::ConsumePrefix(&url, "https://")) {
    ep.tls = true;
    ep.port = 443;
  } else if (absl::ConsumePrefix(&url, "http://")) {
    ep.tls = false;
    ep.port = 80;
  } else {
    return invalid("expected https://host[:port]");
  }
  size_t slash = url.find('/');
  absl::string_view hostport = url.substr(0, slash);
  if (slash != absl::string_view::npos) {
    ep.base_path = std::string(absl::StripSuffix(url.substr(slash), "/"));
  }
  absl::string_view port_text;
  if (absl::StartsWith(hostport, "[")) {
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) return invalid("unclosed '[' in the host");
    ep.host = std::string(hostport.substr(1, close - 1));
    absl::string_view after = hostport.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) return invalid("bad port");
    port_text = after;
  } else {
    size_t colon = hostport.rfind(':');
    ep.host = std::string(hostport.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  if (ep.host.empty()) return invalid("no host");
  if (!port_text.empty() &&
      (!absl::SimpleAtoi(port_text, &ep.port) || ep.port < 1 || ep.port > 65535)) {
    return invalid("the port is not a number from 1 to 65535");
  }
  if (ep.tls && !client->config_.ca_pem.empty()) {
    X509_STORE* probe = StoreFromPem(client->config_.ca_pem);
    if (probe == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kube-grpc: the CA certificate from ",
                                                     client->config_.source, " is not valid PEM"));
    }
    X509_STORE_free(probe);
  }
  if (ep.tls && client->config_.insecure_skip_tls_verify) {
    std::cerr << "kube-grpc: WARNING: not verifying the TLS certificate of the Kubernetes "
                 "API server "
              << client->config_.server << " (insecure-skip-tls-verify is set in "
              << client->config_.source << ")" << std::endl;
  }
  if (!client->config_.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(client->config_.token_file);
    if (!token.ok()) return token.status();
  }
  if (!ep.tls && (!client->config_.token.empty() || !client->config_.token_file.empty() ||
                  client->config_.exec)) {
    std::cerr << "kube-grpc: WARNING: the Kubernetes API server " << client->config_.server
              << " (from " << client->config_.source
              << ") is plain http: the token goes over the network unencrypted" << std::endl;
  }
  // Check the client key and certificate now, not on the first request.
  Connection probe = client->NewConnection(options.request_timeout);
  if (probe.client == nullptr || !probe.client->is_valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: the TLS client certificate or key from ", client->config_.source,
                     " is not valid PEM, or they do not match"));
  }
  {
    absl::MutexLock lock(&client->idle_mu_);
    client->idle_.push_back(std::move(probe));
  }
  return client;
}

HttpK8sClient::Connection HttpK8sClient::NewConnection(absl::Duration read_timeout) const {
  const Endpoint& ep = *endpoint_;
  std::unique_ptr<httplib::ClientImpl> client;
  if (ep.tls) {
    // With tls-server-name, connect to the URL's host but verify the other name.
    const std::string verify_name =
        config_.tls_server_name.empty() ? ep.host : config_.tls_server_name;
    std::unique_ptr<httplib::SSLClient> ssl;
    if (!config_.client_cert_pem.empty()) {
      BIO* cert_bio = BIO_new_mem_buf(config_.client_cert_pem.data(),
                                      static_cast<int>(config_.client_cert_pem.size()));
      BIO* key_bio = BIO_new_mem_buf(config_.client_key_pem.data(),
                                     static_cast<int>(config_.client_key_pem.size()));
      X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
      EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
      BIO_free(cert_bio);
      BIO_free(key_bio);
      if (cert == nullptr || key == nullptr) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return Connection();
      }
      ssl = std::make_unique<httplib::SSLClient>(verify_name, ep.port, cert, key);
      X509_free(cert);
      EVP_PKEY_free(key);
    } else {
      ssl = std::make_unique<httplib::SSLClient>(verify_name, ep.port);
    }
    if (verify_name != ep.host) ssl->set_hostname_addr_map({{verify_name, ep.host}});
    ssl->enable_server_certificate_verification(!config_.insecure_skip_tls_verify);
    if (!config_.ca_pem.empty()) ssl->set_ca_cert_store(StoreFromPem(config_.ca_pem));
    client = std::move(ssl);
  } else {
    client = std::make_unique<httplib::ClientImpl>(ep.host, ep.port);
  }
  client->set_connection_timeout(absl::ToInt64Seconds(options_.connect_timeout),
                                 absl::ToInt64Microseconds(options_.connect_timeout) % 1000000);
  client->set_read_timeout(absl::ToInt64Seconds(read_timeout),
                           absl::ToInt64Microseconds(read_timeout) % 1000000);
  client->set_write_timeout(absl::ToInt64Seconds(options_.request_timeout), 0);
  client->set_follow_location(false);
  client->set_tcp_nodelay(true);
  client->set_decompress(true);
  client->set_keep_alive(true);
  auto socket = std::make_shared<SocketHandle>();
  client->set_socket_options([socket](int fd) { socket->Adopt(fd); });
  return Connection{std::move(client), std::move(socket)};
}

absl::Status HttpK8sClient::ConnectionError(int error, int err_no, long verify_result,
                                            absl::Duration elapsed, absl::Duration read_timeout,
                                            const std::string& context) const {
  const auto raw = static_cast<httplib::Error>(error);
  const auto e = AsOldError(raw);
  if (e == httplib::Error::SSLConnection || e == httplib::Error::SSLServerVerification) {
    std::string why = verify_result != X509_V_OK ? X509_verify_cert_error_string(verify_result)
                      : IsHostnameMismatch(raw)
                          ? "the server's certificate is not issued for its name"
                          : "the handshake did not complete";
    return absl::UnavailableError(absl::StrCat(
        "kube-grpc: ", context, ": TLS handshake with the API server ", config_.server,
        " failed: ", why, " (check the certificate authority from ", config_.source, ")"));
  }
  std::string what;
  switch (e) {
    case httplib::Error::Connection:
      // httplib connects without blocking and does not keep the socket's
      // error: errno when it still has one, else what the timing and the name
      // say.
      if (err_no == ETIMEDOUT || elapsed >= options_.connect_timeout - absl::Milliseconds(50)) {
        what = absl::StrCat("connecting timed out after ",
                            absl::FormatDuration(options_.connect_timeout));
      } else if (err_no == EHOSTUNREACH) {
        what = "no route to the host";
      } else if (err_no == ENETUNREACH) {
        what = "the network is unreachable";
      } else if (!Resolves(endpoint_->host)) {
        what = absl::StrCat("the host name ", endpoint_->host, " does not resolve");
      } else {
        what = absl::StrCat("connection refused (nothing listens at ", endpoint_->host, ":",
                            endpoint_->port, ")");
      }
      break;
    case httplib::Error::ConnectionTimeout:
      what = absl::StrCat("connecting timed out after ",
                          absl::FormatDuration(options_.connect_timeout));
      break;
    case httplib::Error::Read:
      what = elapsed >= read_timeout - absl::Milliseconds(50)
                 ? absl::StrCat("no answer within ", absl::FormatDuration(read_timeout))
             : err_no == ECONNRESET ? "the connection was reset before an answer"
                                    : "the connection was closed before an answer";
      break;
    case httplib::Error::Write:
      what = "the request could not be sent (the connection was closed or reset)";
      break;
    case httplib::Error::BindIPAddress:
      what = "could not bind a local address";
      break;
    case httplib::Error::Canceled:
      what = "cancelled";
      break;
    default:
      what = absl::StrCat("the request failed (", httplib::to_string(e), ")");
      break;
  }
  if (err_no != 0 && err_no != EINPROGRESS && err_no != EAGAIN) {
    absl::StrAppend(&what, " (errno ", err_no, ": ", std::strerror(err_no), ")");
  }
  return absl::UnavailableError(absl::StrCat(
      "kube-grpc: ", context, ": cannot reach the API server ", config_.server, ": ", what));
}

absl::Status HttpK8sClient::RedirectError(int status, const std::string& location,
                                          const std::string& context) const {
  // Following it would send the bearer token to wherever it points.
  return absl::FailedPreconditionError(absl::StrCat(
      "kube-grpc: ", context, ": the API server ", config_.server, " answered ", status,
      " redirecting to ", location.empty() ? "(no Location)" : location,
      "; kube-grpc does not follow redirects, so credentials never go to another host: "
      "configure the server's real address (",
      config_.source, ")"));
}

absl::StatusOr<std::string> HttpK8sClient::Token(bool force) {
  if (config_.exec) {
    const absl::Time asked = absl::Now();
    {
      absl::MutexLock lock(&token_mu_);
      // One run at a time; the others wait for its token (Await releases the lock).
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(token_mu_) { return !exec_running_; };
      token_mu_.Await(absl::Condition(&idle));
      // Fresh enough: unexpired (with 10 s of margin) and, for a forced run,
      // fetched after this request asked.
      const bool fresh = !token_.empty() && absl::Now() + absl::Seconds(10) < token_expires_ &&
                         (!force || token_read_at_ >= asked);
      if (fresh) return token_;
      exec_running_ = true;
    }
    absl::StatusOr<internal::ExecCredential> credential =
        internal::RunExecPlugin(config_, options_.exec_timeout);
    absl::MutexLock lock(&token_mu_);
    exec_running_ = false;
    if (!credential.ok()) return credential.status();
    if (credential->token != token_) {
      previous_token_ = std::move(token_);
      token_ = credential->token;
    }
    token_expires_ = credential->expires;
    token_read_at_ = absl::Now();
    return token_;
  }
  if (config_.token_file.empty()) return config_.token;
  {
    absl::MutexLock lock(&token_mu_);
    const absl::Time now = absl::Now();
    if (!force && now - token_read_at_ < options_.token_reread_interval) return token_;
    token_read_at_ = now;  // this request re-reads; others go on with the last token
  }
  // Read without the lock: a slow file system holds up only this request.
  absl::StatusOr<std::string> token = ReadTokenFile(config_.token_file);
  absl::MutexLock lock(&token_mu_);
  // A file briefly missing while the kubelet rotates it: keep the last token.
  if (token.ok() && *token != token_) {
    previous_token_ = std::move(token_);
    token_ = *std::move(token);
  }
  return token_;
}

absl::StatusOr<std::string> HttpK8sClient::Get(const std::string& path, const std::string& context,
                                               Cancellation* cancel) {
  ScopedSigpipeBlock no_sigpipe;
  bool reread_token = false;  // after a 401
  bool fresh = false;         // after a reused connection turned out dead
  while (true) {
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError(absl::StrCat("kube-grpc: ", context, ": cancelled"));
    }
    httplib::Headers headers = {{"Accept", "application/json"}};
    absl::StatusOr<std::string> token = Token(/*force=*/reread_token);
    if (!token.ok()) return token.status();
    if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);
    Connection connection;
    if (!fresh) {
      absl::MutexLock lock(&idle_mu_);
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool reused = connection.client != nullptr;
    if (!reused) {
      connection = NewConnection(options_.request_timeout);
      if (connection.client == nullptr) {
        return absl::InvalidArgumentError("kube-grpc: the TLS client certificate is not valid");
      }
    }
    if (cancel != nullptr) cancel->SetCallback([socket = connection.socket] { socket->Cut(); });
    std::string body;
    bool too_big = false;
    const absl::Time start = absl::Now();
    errno = 0;
    httplib::Result r = connection.client->Get(
        (endpoint_->base_path + path).c_str(), headers, [&](const char* data, size_t n) {
          if (body.size() + n > options_.max_response_bytes) {
            too_big = true;
            return false;
          }
          body.append(data, n);
          return true;
        });
    const int err_no = errno;
    const absl::Duration elapsed = absl::Now() - start;
    if (cancel != nullptr) cancel->SetCallback(nullptr);
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError(absl::StrCat("kube-grpc: ", context, ": cancelled"));
    }
    const long verify_result = TlsVerifyResult(connection.client.get());
    int status = 0;
    std::string retry_after;
    std::string location;
    if (r) {
      status = r->status;
      retry_after = r->get_header_value("Retry-After");
      location = r->get_header_value("Location");
      absl::MutexLock lock(&idle_mu_);
      if (idle_.size() < 8) idle_.push_back(std::move(connection));  // keep it warm
    }
    if (too_big) {
      return absl::ResourceExhaustedError(absl::StrCat("kube-grpc: ", context,
                                                       ": the response is larger than ",
                                                       options_.max_response_bytes, " bytes"));
    }
    if (status == 0) {
      const httplib::Error e = AsOldError(r.error());
      // A keep-alive connection the server (or a proxy) closed while it was idle
      // fails before any answer: once more, on a new connection.
      if (reused && !fresh &&
          (e == httplib::Error::Read || e == httplib::Error::Write ||
           e == httplib::Error::SSLConnection)) {
        fresh = true;
        continue;
      }
      return ConnectionError(static_cast<int>(e), err_no, verify_result, elapsed,
                             options_.request_timeout, context);
    }
    if (status == 401 && !reread_token && (!config_.token_file.empty() || config_.exec)) {
      reread_token = true;
      continue;
    }
    if (status >= 300 && status < 400) return RedirectError(status, location, context);
    if (status != 200) return HttpError(status, body, retry_after, context);
    return body;
  }
}

std::string HttpK8sClient::Path(EndpointSource source, const std::string& ns,
                                const std::string& service) const {
  if (source == EndpointSource::kEndpointSlices) {
    return absl::StrCat(
        "/apis/discovery.k8s.io/v1/namespaces/", UrlEncode(ns),
        "/endpointslices?labelSelector=", UrlEncode("kubernetes.io/service-name=" + service));
  }
  return absl::StrCat("/api/v1/namespaces/", UrlEncode(ns),
                      "/endpoints?fieldSelector=", UrlEncode("metadata.name=" + service));
}

std::vector<std::string> HttpK8sClient::Secrets() {
  std::vector<std::string> secrets = {config_.token};
  absl::MutexLock lock(&token_mu_);
  secrets.push_back(token_);
  secrets.push_back(previous_token_);
  return secrets;
}

absl::Status HttpK8sClient::Redact(absl::Status status) {
  if (status.ok()) return status;
  return internal::RedactCredentials(status, Secrets());
}

absl::Status HttpK8sClient::HttpError(int status, const std::string& body,
                                      const std::string& retry_after, const std::string& context) {
  return internal::StatusFromHttp(status, internal::RedactCredentials(body, Secrets()), retry_after,
                                  context);
}

absl::StatusOr<ServiceInfo> HttpK8sClient::GetService(const std::string& ns,
                                                      const std::string& name,
                                                      Cancellation* cancel) {
  absl::StatusOr<ServiceInfo> r = GetServiceImpl(ns, name, cancel);
  if (!r.ok()) return Redact(r.status());
  return r;
}

absl::StatusOr<EndpointObjectList> HttpK8sClient::ListEndpoints(EndpointSource source,
                                                                const std::string& ns,
                                                                const std::string& service,
                                                                Cancellation* cancel) {
  absl::StatusOr<EndpointObjectList> r = ListEndpointsImpl(source, ns, service, cancel);
  if (!r.ok()) return Redact(r.status());
  return r;
}

absl::Status HttpK8sClient::WatchEndpoints(EndpointSource source, const std::string& ns,
                                           const std::string& service, const WatchRequest& request,
                                           const std::function<void(const WatchEvent&)>& on_event,
                                           Cancellation* cancel) {
  return Redact(WatchEndpointsImpl(source, ns, service, request, on_event, cancel));
}

absl::StatusOr<ServiceInfo> HttpK8sClient::GetServiceImpl(const std::string& ns,
                                                          const std::string& name,
                                                          Cancellation* cancel) {
  const std::string context = absl::StrCat("reading Service ", ns, "/", name);
  absl::StatusOr<std::string> body =
      Get(absl::StrCat("/api/v1/namespaces/", UrlEncode(ns), "/services/", UrlEncode(name)),
          context, cancel);
  if (!body.ok()) return body.status();
  auto decode = [](const std::string& text) -> absl::StatusOr<ServiceInfo> {
    absl::StatusOr<nlohmann::json> j = internal::ParseJson(text);
    if (!j.ok()) return j.status();
    return internal::DecodeService(*j);
  };
  absl::StatusOr<ServiceInfo> info = decode(*body);
  if (!info.ok()) {
    // The message quotes the body: say it again from a redacted copy.
    absl::Status why = decode(internal::RedactCredentials(*body, Secrets())).status();
    if (why.ok()) why = info.status();
    return absl::Status(why.code(), absl::StrCat(why.message(), " (", context, ")"));
  }
  return info;
}

absl::StatusOr<std::string> HttpK8sClient::GetNodeZone(const std::string& node,
                                                       Cancellation* cancel) {
  const std::string context = absl::StrCat("reading Node ", node, " (the client's zone)");
  absl::StatusOr<std::string> body =
      Get(absl::StrCat("/api/v1/nodes/", UrlEncode(node)), context, cancel);
  if (!body.ok()) return Redact(body.status());
  absl::StatusOr<nlohmann::json> j = internal::ParseJson(*body);
  if (!j.ok()) {
    return absl::InternalError(absl::StrCat("kube-grpc: ", context, ": the answer is not JSON"));
  }
  absl::StatusOr<std::string> zone = internal::DecodeNodeZone(*j);
  if (!zone.ok())
    return absl::Status(zone.status().code(),
                        absl::StrCat(zone.status().message(), " (", context, ")"));
  return zone;
}

absl::StatusOr<EndpointObjectList> HttpK8sClient::ListEndpointsImpl(EndpointSource source,
                                                                    const std::string& ns,
                                                                    const std::string& service,
                                                                    Cancellation* cancel) {
  const std::string context =
      absl::StrCat("listing ", SourceName(source), " of Service ", ns, "/", service);
  absl::StatusOr<std::string> body = Get(Path(source, ns, service), context, cancel);
  if (!body.ok()) return body.status();
  absl::StatusOr<EndpointObjectList> list = internal::DecodeEndpointList(source, *body);
  if (!list.ok()) {
    absl::Status why =
        internal::DecodeEndpointList(source, internal::RedactCredentials(*body, Secrets()))
            .status();
    if (why.ok()) why = list.status();
    return absl::Status(why.code(), absl::StrCat(why.message(), " (", context, ")"));
  }
  return list;
}

absl::Status HttpK8sClient::WatchEndpointsImpl(
    EndpointSource source, const std::string& ns, const std::string& service,
    const WatchRequest& request, const std::function<void(const WatchEvent&)>& on_event,
    Cancellation* cancel) {
  ScopedSigpipeBlock no_sigpipe;
  const std::string context =
      absl::StrCat("watching ", SourceName(source), " of Service ", ns, "/", service);
  const int64_t timeout_seconds = std::max<int64_t>(1, absl::ToInt64Seconds(request.timeout));
  const std::string path = absl::StrCat(endpoint_->base_path, Path(source, ns, service),
                                        "&watch=1&timeoutSeconds=", timeout_seconds,
                                        request.bookmarks ? "&allowWatchBookmarks=true" : "",
                                        request.resource_version.empty() ? "" : "&resourceVersion=",
                                        UrlEncode(request.resource_version));
  // The read timeout is the watchdog: a stream silent for `idle_timeout` (by
  // default past the server's own deadline) has stalled.
  const absl::Duration read_timeout = request.idle_timeout > absl::ZeroDuration()
                                          ? request.idle_timeout
                                          : request.timeout + absl::Seconds(30);
  bool reread_token = false;
  while (true) {
    if (cancel != nullptr && cancel->cancelled()) break;
    Connection connection = NewConnection(read_timeout);
    if (connection.client == nullptr) {
      return absl::InvalidArgumentError("kube-grpc: the TLS client certificate is not valid");
    }
    connection.client->set_keep_alive(false);
    if (cancel != nullptr) cancel->SetCallback([socket = connection.socket] { socket->Cut(); });
    httplib::Headers headers = {{"Accept", "application/json"}};
    absl::StatusOr<std::string> token = Token(/*force=*/reread_token);
    if (!token.ok()) return token.status();
    if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);

    int status = 0;
    std::string retry_after;
    std::string location;
    std::string error_body;  // the start of an error response's body
    internal::WatchStreamDecoder decoder(source, options_.max_watch_line_bytes, context);
    absl::Status stream_error;
    const absl::Time start = absl::Now();
    errno = 0;
    httplib::Result r = connection.client->Get(
        path.c_str(), headers,
        [&](const httplib::Response& response) {
          status = response.status;
          retry_after = response.get_header_value("Retry-After");
          location = response.get_header_value("Location");
          return true;
        },
        [&](const char* data, size_t n) {
          if (cancel != nullptr && cancel->cancelled()) return false;
          if (status != 200) {  // an error body: keep its start for the message
            if (error_body.size() < 4096) error_body.append(data, std::min<size_t>(n, 4096));
            return true;
          }
          stream_error = decoder.Feed(absl::string_view(data, n), on_event);
          return stream_error.ok();
        });
    const int err_no = errno;
    if (cancel != nullptr) cancel->SetCallback(nullptr);
    if (cancel != nullptr && cancel->cancelled()) break;
    if (!stream_error.ok()) return stream_error;
    if (status == 401 && !reread_token && (!config_.token_file.empty() || config_.exec)) {
      reread_token = true;
      continue;
    }
    if (status >= 300 && status < 400) return RedirectError(status, location, context);
    if (status != 0 && status != 200) return HttpError(status, error_body, retry_after, context);
    if (!r) {
      if (status == 200 && AsOldError(r.error()) == httplib::Error::Read) {
        return absl::UnavailableError(
            absl::StrCat("kube-grpc: ", context,
                         ": the watch stream broke or went silent (no event or bookmark for ",
                         absl::FormatDuration(read_timeout), ")"));
      }
      const long verify_result = TlsVerifyResult(connection.client.get());
      return ConnectionError(static_cast<int>(r.error()), err_no, verify_result,
                             absl::Now() - start, read_timeout, context);
    }
    return decoder.Finish();
  }
  return absl::CancelledError(absl::StrCat("kube-grpc: ", context, ": cancelled"));
}

}  // namespace kubegrpc
