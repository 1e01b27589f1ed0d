#include "fakek8s/api_server.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fakek8s/api_errors.h"
#include "fakek8s/connection_threads.h"
#include "fakek8s/discovery_docs.h"
#include "fakek8s/http_util.h"
#include "fakek8s/resource_handler.h"
#include "fakek8s/reviews.h"
#include "fakek8s/router.h"
#include "httplib.h"

namespace fakek8s {

using internal::Param;
using internal::ParseBool;
using internal::WriteError;
using internal::WriteJson;

namespace {

constexpr char kEndpointsWarning[] =
    "299 - \"v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 "
    "EndpointSlice\"";

}  // namespace

// --- Lifecycle ------------------------------------------------------------------

ApiServer::ApiServer(ObjectStore* store, ApiServerOptions options)
    : store_(store),
      options_(std::move(options)),
      watches_(store_, options_.bookmark_interval, options_.max_watch_timeout),
      reaper_(store_, options_.pod_termination_delay) {}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ObjectStore* store,
                                                            ApiServerOptions options) {
  if (store == nullptr) return absl::InvalidArgumentError("fakek8s: no object store");
  std::unique_ptr<ApiServer> server(new ApiServer(store, std::move(options)));
  if (server->options_.tls) {
    std::vector<std::string> hosts = {"127.0.0.1", "::1", "localhost"};
    if (!internal::ContainsOrStar(hosts, server->options_.host)) {
      hosts.push_back(server->options_.host);
    }
    absl::StatusOr<ServerCertificates> certs =
        GenerateServerCertificates(hosts, server->options_.tls_valid_days);
    if (!certs.ok()) return certs.status();
    server->certs_ = std::move(*certs);
  }
  {
    absl::MutexLock lock(&server->listen_mu_);
    if (absl::Status s = server->StartListeningLocked(server->options_.port); !s.ok()) {
      return s;
    }
  }
  return server;
}

ApiServer::~ApiServer() {
  absl::MutexLock lock(&listen_mu_);
  StopListeningLocked();
}

absl::Status ApiServer::StartListeningLocked(int port) {
  std::unique_ptr<httplib::Server> http;
  if (certs_.has_value()) {
    http = std::make_unique<httplib::SSLServer>(certs_->cert.get(), certs_->key.get());
  } else {
    http = std::make_unique<httplib::Server>();
  }
  if (!http->is_valid()) {
    return absl::InternalError("fakek8s: the HTTP(S) server could not be set up");
  }
  http->new_task_queue = [max = options_.max_connections] {
    return new internal::ThreadPerConnection(max);
  };
  http->set_tcp_nodelay(true);  // each watch event goes out at once (no Nagle delay)
  http->set_keep_alive_timeout(1);
  http->set_read_timeout(30);
  http->set_write_timeout(30);
  http->set_payload_max_length(options_.max_body_bytes);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  // Bodies are read here, so that the limit holds for chunked ones too
  // (httplib checks it only against Content-Length).
  auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& read) {
    httplib::Request full = req;
    bool too_big = false;
    read([&](const char* data, size_t n) {
      if (full.body.size() + n > options_.max_body_bytes) {
        too_big = true;
        return false;
      }
      full.body.append(data, n);
      return true;
    });
    if (too_big) {
      Count("request too large");
      res.set_header("Connection", "close");
      return WriteError(res, ApiError(413, "RequestEntityTooLarge",
                                      absl::StrCat("the request body is larger than ",
                                                   options_.max_body_bytes, " bytes")));
    }
    Handle(full, res);
  };
  http->Get(".*", handler);
  http->Post(".*", with_body);
  http->Put(".*", with_body);
  http->Patch(".*", with_body);
  http->Delete(".*", with_body);
  http->Post(".*", handler);
  http->Put(".*", handler);
  http->Patch(".*", handler);
  http->Delete(".*", handler);
  http->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        WriteError(res, ApiError(500, "InternalError", "fakek8s: internal error"));
      });
  int bound = port;
  if (port == 0) {
    bound = http->bind_to_any_port(options_.host);
  } else if (!http->bind_to_port(options_.host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("fakek8s: cannot listen on ", options_.host, ":", port));
  }
  port_ = bound;
  httplib::Server* raw = http.get();
  listen_thread_ = std::thread([raw] { raw->listen_after_bind(); });
  http_ = std::move(http);
  // httplib's stop() does nothing until the accept loop runs: wait for it, so
  // that a stop right after a start cannot leave the loop blocked in accept().
  for (int i = 0; i < 10000 && !raw->is_running(); ++i) absl::SleepFor(absl::Milliseconds(1));
  return absl::OkStatus();
}

void ApiServer::StopListeningLocked() {
  watches_.EndAll();
  if (http_ != nullptr) http_->stop();
  // And the open connections end, as when a server dies. httplib's stop() only
  // closes the listener; cpp-httplib 0.41 then lets a TLS connection's thread
  // sit in a read until the read timeout (30 s), which joining it would wait for.
  internal::ShutdownConnections(options_.host, port_);
  if (listen_thread_.joinable()) listen_thread_.join();
  http_.reset();
}

void ApiServer::BeginOutage() {
  RecordFault("outage: the API server stops listening");
  absl::MutexLock lock(&listen_mu_);
  StopListeningLocked();
}

absl::Status ApiServer::EndOutage() {
  absl::MutexLock lock(&listen_mu_);
  if (http_ != nullptr) return absl::OkStatus();
  // The port may take a moment to be free again after the old listener closed.
  absl::Status status;
  for (int attempt = 0; attempt < 50; ++attempt) {
    status = StartListeningLocked(port_);
    if (status.ok()) {
      RecordFault("the outage ends: the API server listens again");
      return status;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return status;
}

std::string ApiServer::url() const {
  std::string host =
      absl::StrContains(options_.host, ':') ? "[" + options_.host + "]" : options_.host;
  return absl::StrCat(certs_.has_value() ? "https" : "http", "://", host, ":", port_);
}

std::string ApiServer::ca_pem() const { return certs_.has_value() ? certs_->ca_pem : ""; }

std::string ApiServer::Kubeconfig(const std::string& token, const std::string& ns) const {
  std::string cluster = absl::StrCat("    server: ", url(), "\n");
  if (certs_.has_value()) {
    absl::StrAppend(&cluster,
                    "    certificate-authority-data: ", absl::Base64Escape(certs_->ca_pem), "\n");
  }
  std::string user =
      token.empty() ? "  user: {}\n" : absl::StrCat("  user:\n    token: ", token, "\n");
  return absl::StrCat("apiVersion: v1\nkind: Config\n", "clusters:\n- name: fakek8s\n  cluster:\n",
                      cluster, "users:\n- name: fakek8s-user\n", user,
                      "contexts:\n- name: fakek8s\n  context:\n    cluster: fakek8s\n",
                      "    user: fakek8s-user\n    namespace: ", ns, "\n",
                      "current-context: fakek8s\npreferences: {}\n");
}

// --- Auth, faults, counts -------------------------------------------------------------

void ApiServer::AddToken(const std::string& token, const std::string& user) {
  access_.AddToken(token, user);
}

void ApiServer::RemoveToken(const std::string& token) { access_.RemoveToken(token); }

void ApiServer::SetRules(const std::string& user, std::vector<RbacRule> rules) {
  access_.SetRules(user, std::move(rules));
}

void ApiServer::SetEventRecorder(EventRecorder* recorder) {
  absl::MutexLock lock(&mu_);
  recorder_ = recorder;
}

void ApiServer::RecordFault(const std::string& message) {
  EventRecorder* recorder;
  {
    absl::MutexLock lock(&mu_);
    recorder = recorder_;
  }
  if (recorder == nullptr) return;
  EventRecord record;
  // About the API server itself: recorded in options_.events_namespace,
  // regarding that Namespace, so that `kubectl get events -w` there shows it.
  record.involved = {
      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"name", options_.events_namespace}};
  record.type = "Warning";
  record.reason = "FaultInjected";
  record.message = absl::StrCat("kube-apiserver (fakek8s): ", message);
  record.component = "fakek8s";
  record.involved["namespace"] = options_.events_namespace;  // where the Event is kept
  recorder->Record(record);
}

void ApiServer::SetLatency(absl::Duration latency) {
  faults_.SetLatency(latency);
  RecordFault(latency == absl::ZeroDuration()
                  ? std::string("no added latency")
                  : absl::StrCat("every request is delayed by ", absl::FormatDuration(latency)));
}

void ApiServer::FailNextRequests(int count, int http_code, absl::Duration retry_after,
                                 bool plain_text) {
  faults_.FailNextRequests(count, http_code, retry_after, plain_text);
  if (count > 0) {
    RecordFault(
        absl::StrCat("the next ", count, " requests fail with HTTP ", http_code,
                     retry_after > absl::ZeroDuration()
                         ? absl::StrCat(" (Retry-After ", absl::FormatDuration(retry_after), ")")
                         : ""));
  }
}

void ApiServer::RespondToNextRequests(int count, int http_code, std::string content_type,
                                      std::string body,
                                      std::vector<std::pair<std::string, std::string>> headers) {
  const std::string what =
      absl::StrCat("the next ", count, " requests get HTTP ", http_code, " (", content_type, ")");
  faults_.RespondToNextRequests(count, http_code, std::move(content_type), std::move(body),
                                std::move(headers));
  if (count > 0) RecordFault(what);
}

void ApiServer::DropWatches() {
  RecordFault("every watch stream is closed");
  watches_.EndAll();
  store_->CloseAllWatches("watches dropped by fault injection");
}

void ApiServer::CompactHistory() {
  store_->Compact();
  // After the compaction: this event is the one change a resumed watch may see.
  RecordFault("the watch history is compacted: resuming from an older resourceVersion gets 410");
}

void ApiServer::StallWatches(bool stalled) {
  if (!stalled) watches_.Stall(false);
  RecordFault(stalled ? "watch streams stall: open, and silent" : "watch streams flow again");
  if (stalled) watches_.Stall(true);
}

std::map<std::string, int64_t> ApiServer::RequestCounts() {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void ApiServer::Count(const std::string& what) {
  absl::MutexLock lock(&mu_);
  ++counts_[what];
}

// --- Requests ---------------------------------------------------------------------

void ApiServer::Handle(const httplib::Request& req, httplib::Response& res) {
  if (internal::ThreadPerConnection::OverCapacity()) {
    Count("over capacity");
    res.set_header("Connection", "close");
    res.set_header("Retry-After", "1");
    return WriteError(res, ApiError(429, "TooManyRequests",
                                    absl::StrCat("fakek8s: more than ", options_.max_connections,
                                                 " connections; try again later")));
  }
  try {
    if (faults_.Inject(res)) {
      Count("injected failure");
      return;
    }
    HandleApi(req, res);
  } catch (const std::exception& e) {
    // Malformed input that slipped past validation must not take the server down.
    WriteError(res, BadRequest(absl::StrCat("fakek8s could not process the request: ", e.what())));
  }
}

void ApiServer::HandleApi(const httplib::Request& req, httplib::Response& res) {
  absl::StatusOr<Identity> who = access_.Authenticate(req.get_header_value("Authorization"));
  if (!who.ok()) {
    Count("unauthorized");
    return WriteError(res, who.status());
  }
  const std::vector<std::string> seg = absl::StrSplit(req.path, '/', absl::SkipEmpty());
  std::optional<Route> route = ParseResourcePath(seg);
  if (!route) {
    // Not a resource: discovery, OpenAPI, health, /version, or nothing.
    const std::string verb = absl::AsciiStrToLower(req.method);
    if (!access_.AuthorizedPath(*who, verb, req.path)) {
      Count("forbidden");
      return WriteError(res, ApiError(403, "Forbidden",
                                      absl::StrCat("forbidden: User \"", who->user, "\" cannot ",
                                                   verb, " path \"", req.path, "\"")));
    }
    if (std::optional<std::string> served = ServeDiscoveryDocument(
            seg, req, options_.git_version, absl::StrCat(options_.host, ":", port_), res)) {
      Count(*served);
      return;
    }
    Count("notfound");
    return WriteError(
        res, ApiError(404, "NotFound", "the server could not find the requested resource"));
  }
  const ResourceInfo& info = *route->info;
  if (info.resource == Resource::kEndpoints) res.set_header("Warning", kEndpointsWarning);
  std::optional<std::string> verb = RbacVerb(req.method, *route, ParseBool(Param(req, "watch")));
  if (!verb || (info.review && *verb != "create")) {
    Count("unsupported");
    return WriteError(res, ApiError(405, "MethodNotAllowed",
                                    "the server does not allow this method on the requested "
                                    "resource"));
  }
  Count(absl::StrCat(*verb, " ", info.plural));
  // Every authenticated user may ask about itself (system:basic-user).
  const bool allowed =
      info.review
          ? !who->anonymous() || access_.Authorized(*who, *verb, info.group, info.plural, "")
          : access_.Authorized(*who, *verb, info.group, route->RbacResource(), route->ns,
                               route->name);
  if (!allowed) {
    json details = {{"kind", info.plural}};
    if (!route->name.empty()) details["name"] = route->name;
    if (!info.group.empty()) details["group"] = info.group;
    return WriteError(
        res,
        AccessControl::Forbidden(*who, *verb, info, route->subresource, route->ns, route->name),
        details);
  }
  if (info.review) return ServeReview(access_, *who, *route, req, res);
  if (*verb == "watch") return watches_.Serve(req, res, *route);
  ServeResource(store_, &reaper_, *verb, *route, req, res);
}

}  // namespace fakek8s
