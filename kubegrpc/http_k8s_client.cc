#include "kubegrpc/http_k8s_client.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "httplib.h"
#include "kubegrpc/internal/k8s_json.h"
#include "kubegrpc/internal/read_file.h"
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

struct HttpK8sClient::Endpoint {
  bool tls = true;
  std::string host;  // without brackets
  int port = 443;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
};

namespace {

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
  // Check the client key and certificate now, not on the first request.
  std::unique_ptr<httplib::ClientImpl> probe = client->NewConnection(options.request_timeout);
  if (probe == nullptr || !probe->is_valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: the TLS client certificate or key from ", client->config_.source,
                     " is not valid PEM, or they do not match"));
  }
  {
    probe->set_keep_alive(true);
    absl::MutexLock lock(&client->idle_mu_);
    client->idle_.push_back(std::move(probe));
  }
  return client;
}

std::unique_ptr<httplib::ClientImpl> HttpK8sClient::NewConnection(
    absl::Duration read_timeout) const {
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
        return nullptr;
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
  return client;
}

absl::Status HttpK8sClient::ConnectionError(int error, long verify_result,
                                            const std::string& context) const {
  const auto e = static_cast<httplib::Error>(error);
  if (e == httplib::Error::SSLConnection || e == httplib::Error::SSLServerVerification) {
    std::string why = verify_result != X509_V_OK ? X509_verify_cert_error_string(verify_result)
                                                 : httplib::to_string(e);
    return absl::UnavailableError(absl::StrCat(
        "kube-grpc: ", context, ": TLS handshake with the API server ", config_.server,
        " failed: ", why, " (check the certificate authority from ", config_.source, ")"));
  }
  return absl::UnavailableError(absl::StrCat("kube-grpc: ", context,
                                             ": cannot reach the API server ", config_.server, ": ",
                                             httplib::to_string(e)));
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

std::string HttpK8sClient::Token(bool force) {
  if (config_.token_file.empty()) return config_.token;
  absl::MutexLock lock(&token_mu_);
  const absl::Time now = absl::Now();
  if (force || now - token_read_at_ >= options_.token_reread_interval) {
    absl::StatusOr<std::string> token = ReadTokenFile(config_.token_file);
    // A file briefly missing while the kubelet rotates it: keep the last token.
    if (token.ok()) token_ = *std::move(token);
    token_read_at_ = now;
  }
  return token_;
}

absl::StatusOr<std::string> HttpK8sClient::Get(const std::string& path,
                                               const std::string& context) {
  ScopedSigpipeBlock no_sigpipe;
  for (int attempt = 0;; ++attempt) {
    httplib::Headers headers = {{"Accept", "application/json"}};
    std::string token = Token(/*force=*/attempt > 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    std::string body;
    bool too_big = false;
    int status = 0;
    std::string retry_after;
    std::string location;
    httplib::Error error;
    long verify_result = X509_V_OK;
    std::unique_ptr<httplib::ClientImpl> connection;
    {
      absl::MutexLock lock(&idle_mu_);
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (connection == nullptr) {
      connection = NewConnection(options_.request_timeout);
      if (connection == nullptr) {
        return absl::InvalidArgumentError("kube-grpc: the TLS client certificate is not valid");
      }
      connection->set_keep_alive(true);
    }
    httplib::Result r = connection->Get((endpoint_->base_path + path).c_str(), headers,
                                        [&](const char* data, size_t n) {
                                          if (body.size() + n > options_.max_response_bytes) {
                                            too_big = true;
                                            return false;
                                          }
                                          body.append(data, n);
                                          return true;
                                        });
    error = r.error();
    if (auto* ssl = dynamic_cast<httplib::SSLClient*>(connection.get())) {
      verify_result = ssl->get_openssl_verify_result();
    }
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
    if (status == 0) return ConnectionError(static_cast<int>(error), verify_result, context);
    if (status == 401 && attempt == 0 && !config_.token_file.empty()) continue;
    if (status >= 300 && status < 400) return RedirectError(status, location, context);
    if (status != 200) return internal::StatusFromHttp(status, body, retry_after, context);
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

absl::Status HttpK8sClient::Redact(absl::Status status) {
  if (status.ok()) return status;
  std::vector<std::string> secrets = {config_.token};
  {
    absl::MutexLock lock(&token_mu_);
    secrets.push_back(token_);
  }
  std::string message(status.message());
  bool changed = false;
  for (const std::string& secret : secrets) {
    if (secret.size() < 4 || !absl::StrContains(message, secret)) continue;
    absl::StrReplaceAll({{secret, "<redacted>"}}, &message);
    changed = true;
  }
  if (!changed) return status;
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::StatusOr<ServiceInfo> HttpK8sClient::GetService(const std::string& ns,
                                                      const std::string& name) {
  absl::StatusOr<ServiceInfo> r = GetServiceImpl(ns, name);
  if (!r.ok()) return Redact(r.status());
  return r;
}

absl::StatusOr<EndpointObjectList> HttpK8sClient::ListEndpoints(EndpointSource source,
                                                                const std::string& ns,
                                                                const std::string& service) {
  absl::StatusOr<EndpointObjectList> r = ListEndpointsImpl(source, ns, service);
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
                                                          const std::string& name) {
  const std::string context = absl::StrCat("reading Service ", ns, "/", name);
  absl::StatusOr<std::string> body = Get(
      absl::StrCat("/api/v1/namespaces/", UrlEncode(ns), "/services/", UrlEncode(name)), context);
  if (!body.ok()) return body.status();
  absl::StatusOr<nlohmann::json> j = internal::ParseJson(*body);
  absl::StatusOr<ServiceInfo> info =
      j.ok() ? internal::DecodeService(*j) : absl::StatusOr<ServiceInfo>(j.status());
  if (!info.ok()) {
    return absl::Status(info.status().code(),
                        absl::StrCat(info.status().message(), " (", context, ")"));
  }
  return info;
}

absl::StatusOr<EndpointObjectList> HttpK8sClient::ListEndpointsImpl(EndpointSource source,
                                                                    const std::string& ns,
                                                                    const std::string& service) {
  const std::string context =
      absl::StrCat("listing ", SourceName(source), " of Service ", ns, "/", service);
  absl::StatusOr<std::string> body = Get(Path(source, ns, service), context);
  if (!body.ok()) return body.status();
  absl::StatusOr<EndpointObjectList> list = internal::DecodeEndpointList(source, *body);
  if (!list.ok()) {
    return absl::Status(list.status().code(),
                        absl::StrCat(list.status().message(), " (", context, ")"));
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

  for (int attempt = 0;; ++attempt) {
    // The read timeout is the watchdog: a stream silent for `idle_timeout` (by
    // default past the server's own deadline) has stalled. The connection is
    // shared with the cancel callback, which may still run after the watch ends.
    std::shared_ptr<httplib::ClientImpl> client = NewConnection(
        request.idle_timeout > absl::ZeroDuration() ? request.idle_timeout
                                                    : request.timeout + absl::Seconds(30));
    if (client == nullptr) {
      return absl::InvalidArgumentError("kube-grpc: the TLS client certificate is not valid");
    }
    if (cancel != nullptr) {
      cancel->SetCallback([client] {
        ScopedSigpipeBlock no_sigpipe;  // runs on the cancelling thread
        client->stop();
      });
      if (cancel->cancelled()) break;
    }
    httplib::Headers headers = {{"Accept", "application/json"}};
    std::string token = Token(/*force=*/attempt > 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);

    int status = 0;
    std::string retry_after;
    std::string location;
    std::string error_body;  // the start of an error response's body
    internal::WatchStreamDecoder decoder(source, options_.max_watch_line_bytes, context);
    absl::Status stream_error;
    httplib::Result r = client->Get(
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
    if (cancel != nullptr) cancel->SetCallback(nullptr);
    if (cancel != nullptr && cancel->cancelled()) break;
    if (!stream_error.ok()) return stream_error;
    if (status == 401 && attempt == 0 && !config_.token_file.empty()) continue;
    if (status >= 300 && status < 400) return RedirectError(status, location, context);
    if (status != 0 && status != 200) {
      return internal::StatusFromHttp(status, error_body, retry_after, context);
    }
    if (!r) {
      if (status == 200 && r.error() == httplib::Error::Read) {
        return absl::UnavailableError(
            absl::StrCat("kube-grpc: ", context,
                         ": the watch stream broke or went silent (no event or bookmark for ",
                         absl::FormatDuration(request.idle_timeout > absl::ZeroDuration()
                                                  ? request.idle_timeout
                                                  : request.timeout + absl::Seconds(30)),
                         ")"));
      }
      long verify_result = X509_V_OK;
      if (auto* ssl = dynamic_cast<httplib::SSLClient*>(client.get())) {
        verify_result = ssl->get_openssl_verify_result();
      }
      return ConnectionError(static_cast<int>(r.error()), verify_result, context);
    }
    return decoder.Finish();
  }
  return absl::CancelledError(absl::StrCat("kube-grpc: ", context, ": cancelled"));
}

}  // namespace kubegrpc
