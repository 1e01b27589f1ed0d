#include "fakek8s/api_server.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fakek8s/api_errors.h"
#include "httplib.h"

namespace fakek8s {

struct ApiServer::Route {
  std::string group;
  std::string version;
  const ResourceInfo* info = nullptr;
  std::string ns;
  std::string name;
  std::string subresource;
  bool legacy_watch = false;
};

struct ApiServer::PendingRemoval {
  absl::Time when;
  std::string ns;
  std::string name;
  std::string uid;
};

namespace {

constexpr char kJson[] = "application/json";
constexpr char kWatchContentType[] = "application/json;charset=utf-8";
constexpr char kEndpointsWarning[] =
    "299 - \"v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 "
    "EndpointSlice\"";

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One watch event as a line: {"type":...,"object":...}, type first as real
// servers write it.
std::string EventLine(const std::string& type, const json& object) {
  return absl::StrCat("{\"type\":\"", type, "\",\"object\":", Dump(object), "}\n");
}

void WriteJson(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(Dump(body), kJson);
}

void WriteError(httplib::Response& res, const absl::Status& status,
                const json& details = nullptr) {
  WriteJson(res, HttpCode(status), ToStatusObject(status, details));
}

// Go's strconv.ParseBool, which the API server uses for boolean parameters.
bool ParseBool(const std::string& v) {
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE";
}

std::string Param(const httplib::Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : "";
}

// A list item has no kind / apiVersion (the List carries them).
json AsListItem(json object) {
  object.erase("kind");
  object.erase("apiVersion");
  return object;
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), "*") != list.end() ||
         std::find(list.begin(), list.end(), value) != list.end();
}

// --- Patching ---

// Lists merged by key in a strategic merge patch (the few fakek8s objects use).
const std::map<std::string, std::string>& MergeKeys() {
  static const auto* const kKeys = new std::map<std::string, std::string>{
      {"conditions", "type"},  {"containers", "name"},
      {"ports", "containerPort"}, {"ownerReferences", "uid"},
      {"env", "name"},         {"volumes", "name"}};
  return *kKeys;
}

json StrategicMerge(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (absl::StartsWith(key, "$")) continue;  // directives such as $setElementOrder
    if (value.is_null()) {
      target.erase(key);
      continue;
    }
    auto merge_key = MergeKeys().find(key);
    if (value.is_array() && merge_key != MergeKeys().end() && target.contains(key) &&
        target[key].is_array()) {
      json merged = target[key];
      for (const json& item : value) {
        if (!item.is_object() || !item.contains(merge_key->second)) {
          merged.push_back(item);
          continue;
        }
        const bool remove = item.value("$patch", "") == "delete";
        auto same = std::find_if(merged.begin(), merged.end(), [&](const json& e) {
          return e.is_object() && e.contains(merge_key->second) &&
                 e[merge_key->second] == item[merge_key->second];
        });
        if (remove) {
          if (same != merged.end()) merged.erase(same);
        } else if (same != merged.end()) {
          *same = StrategicMerge(*same, item);
        } else {
          merged.push_back(StrategicMerge(json::object(), item));
        }
      }
      target[key] = std::move(merged);
    } else if (value.is_object()) {
      target[key] = StrategicMerge(target.contains(key) ? target[key] : json::object(), value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

absl::Status ApplyPatch(const std::string& content_type, const json& patch, json& object) {
  if (absl::StartsWith(content_type, "application/json-patch+json")) {
    if (!patch.is_array()) return BadRequest("a JSON patch must be an array of operations");
    try {
      object = object.patch(patch);
    } catch (const json::exception& e) {
      return ApiError(422, "Invalid", absl::StrCat("the JSON patch could not be applied: ", e.what()));
    }
    return absl::OkStatus();
  }
  if (!patch.is_object()) return BadRequest("a merge patch must be a JSON object");
  if (absl::StartsWith(content_type, "application/merge-patch+json")) {
    object.merge_patch(patch);
    return absl::OkStatus();
  }
  if (absl::StartsWith(content_type, "application/strategic-merge-patch+json") ||
      absl::StartsWith(content_type, "application/apply-patch")) {
    object = StrategicMerge(std::move(object), patch);
    return absl::OkStatus();
  }
  return ApiError(415, "UnsupportedMediaType",
                  absl::StrCat("the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, "
                               "application/strategic-merge-patch+json; got \"",
                               content_type, "\""));
}

// --- Discovery documents ---

json ApiResourceList(const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const ResourceInfo& info : AllResources()) {
    if (info.group != group || info.version != version) continue;
    json r = {{"name", info.plural},
              {"singularName", info.singular},
              {"namespaced", info.namespaced},
              {"kind", info.kind},
              {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}};
    if (!info.short_names.empty()) r["shortNames"] = info.short_names;
    if (info.resource == Resource::kPods || info.resource == Resource::kServices) {
      r["categories"] = {"all"};
    }
    resources.push_back(std::move(r));
    if (info.resource == Resource::kPods || info.resource == Resource::kServices) {
      resources.push_back({{"name", info.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", info.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  const std::string gv = group.empty() ? version : group + "/" + version;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", gv},
          {"resources", std::move(resources)}};
}

json DiscoveryGroup() {
  json gv = {{"groupVersion", "discovery.k8s.io/v1"}, {"version", "v1"}};
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", "discovery.k8s.io"},
          {"versions", json::array({gv})},
          {"preferredVersion", gv}};
}

// OpenAPI v3, only as far as kubectl needs it: each PATCH operation declares the
// `fieldValidation` parameter, so kubectl leaves validation to the server
// (which fakek8s does not do) instead of downloading schemas for it.
json OpenApiRoot() {
  json paths = json::object();
  for (const char* gv : {"api/v1", "apis/discovery.k8s.io/v1"}) {
    paths[gv] = {{"serverRelativeURL", absl::StrCat("/openapi/v3/", gv, "?hash=fakek8s")}};
  }
  return {{"paths", paths}};
}

json OpenApiGroupVersion(const std::string& group, const std::string& version,
                         const std::string& git_version) {
  json paths = json::object();
  for (const ResourceInfo& info : AllResources()) {
    if (info.group != group || info.version != version) continue;
    std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    std::string path = info.namespaced
                           ? absl::StrCat(prefix, "/namespaces/{namespace}/", info.plural, "/{name}")
                           : absl::StrCat(prefix, "/", info.plural, "/{name}");
    json gvk = {{"group", group}, {"version", version}, {"kind", info.kind}};
    json params = json::array({{{"name", "fieldValidation"},
                                {"in", "query"},
                                {"schema", {{"type", "string"}, {"uniqueItems", true}}}}});
    json op = {{"x-kubernetes-group-version-kind", gvk},
               {"parameters", params},
               {"responses", {{"200", {{"description", "OK"}}}}}};
    paths[path] = {{"patch", op}, {"put", op}};
    paths[path]["put"]["x-kubernetes-action"] = "put";
    paths[path]["patch"]["x-kubernetes-action"] = "patch";
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes (fakek8s)"}, {"version", git_version}}},
          {"paths", paths}};
}

// One thread per connection: watch streams hold their connection for minutes,
// and a fixed pool would let a few of them starve every other request.
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    // Join the threads that have finished.
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->second->load()) {
        it->first.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.emplace_back(std::thread([fn = std::move(fn), done] {
                            fn();
                            done->store(true);
                          }),
                          done);
  }
  void shutdown() override {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      for (auto& t : threads_) threads.push_back(std::move(t.first));
      threads_.clear();
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> threads_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

// --- Lifecycle ------------------------------------------------------------------

ApiServer::ApiServer(ObjectStore* store, ApiServerOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ObjectStore* store,
                                                            ApiServerOptions options) {
  if (store == nullptr) return absl::InvalidArgumentError("fakek8s: no object store");
  std::unique_ptr<ApiServer> server(new ApiServer(store, std::move(options)));
  if (server->options_.tls) {
    std::vector<std::string> hosts = {"127.0.0.1", "::1", "localhost"};
    if (!Contains(hosts, server->options_.host)) hosts.push_back(server->options_.host);
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
  server->reaper_ = std::thread([s = server.get()] { s->ReaperLoop(); });
  return server;
}

ApiServer::~ApiServer() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  {
    absl::MutexLock lock(&listen_mu_);
    StopListeningLocked();
  }
  if (reaper_.joinable()) reaper_.join();
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
  http->new_task_queue = [] { return new ThreadPerConnection(); };
  http->set_tcp_nodelay(true);  // each watch event goes out at once (no Nagle delay)
  http->set_keep_alive_timeout(1);
  http->set_read_timeout(30);
  http->set_write_timeout(30);
  http->set_payload_max_length(options_.max_body_bytes);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res);
  };
  http->Get(".*", handler);
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
    return absl::UnavailableError(absl::StrCat("fakek8s: cannot listen on ", options_.host,
                                               ":", port));
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
  stream_generation_.fetch_add(1);
  if (http_ != nullptr) http_->stop();
  if (listen_thread_.joinable()) listen_thread_.join();
  http_.reset();
}

void ApiServer::BeginOutage() {
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
    if (status.ok()) return status;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return status;
}

std::string ApiServer::url() const {
  std::string host = absl::StrContains(options_.host, ':') ? "[" + options_.host + "]"
                                                           : options_.host;
  return absl::StrCat(certs_.has_value() ? "https" : "http", "://", host, ":", port_);
}

std::string ApiServer::ca_pem() const { return certs_.has_value() ? certs_->ca_pem : ""; }

std::string ApiServer::Kubeconfig(const std::string& token, const std::string& ns) const {
  std::string cluster = absl::StrCat("    server: ", url(), "\n");
  if (certs_.has_value()) {
    absl::StrAppend(&cluster, "    certificate-authority-data: ",
                    absl::Base64Escape(certs_->ca_pem), "\n");
  }
  std::string user = token.empty() ? "  user: {}\n"
                                   : absl::StrCat("  user:\n    token: ", token, "\n");
  return absl::StrCat("apiVersion: v1\nkind: Config\n",
                      "clusters:\n- name: fakek8s\n  cluster:\n", cluster,
                      "users:\n- name: fakek8s-user\n", user,
                      "contexts:\n- name: fakek8s\n  context:\n    cluster: fakek8s\n",
                      "    user: fakek8s-user\n    namespace: ", ns, "\n",
                      "current-context: fakek8s\npreferences: {}\n");
}

// --- Auth and faults ---------------------------------------------------------------

void ApiServer::AddToken(const std::string& token, const std::string& user) {
  absl::MutexLock lock(&mu_);
  tokens_[token] = user;
}

void ApiServer::RemoveToken(const std::string& token) {
  absl::MutexLock lock(&mu_);
  tokens_.erase(token);
}

void ApiServer::SetRules(const std::string& user, std::vector<RbacRule> rules) {
  absl::MutexLock lock(&mu_);
  rules_[user] = std::move(rules);
}

void ApiServer::SetLatency(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  latency_ = latency;
}

void ApiServer::FailNextRequests(int count, int http_code, absl::Duration retry_after,
                                 bool plain_text) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_code_ = http_code;
  fail_retry_after_ = retry_after;
  fail_plain_text_ = plain_text;
  fail_raw_.reset();
}

void ApiServer::RespondToNextRequests(int count, int http_code, std::string content_type,
                                      std::string body,
                                      std::vector<std::pair<std::string, std::string>> headers) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_code_ = http_code;
  fail_retry_after_ = absl::ZeroDuration();
  fail_plain_text_ = false;
  fail_raw_ = RawResponse{std::move(content_type), std::move(body), std::move(headers)};
}

void ApiServer::DropWatches() {
  stream_generation_.fetch_add(1);
  store_->CloseAllWatches("watches dropped by fault injection");
}

void ApiServer::CompactHistory() { store_->Compact(); }

void ApiServer::StallWatches(bool stalled) { stalled_.store(stalled); }

std::map<std::string, int64_t> ApiServer::RequestCounts() {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void ApiServer::Count(const std::string& what) {
  absl::MutexLock lock(&mu_);
  ++counts_[what];
}

bool ApiServer::InjectFault(httplib::Response& res) {
  absl::Duration latency;
  int code = 0;
  absl::Duration retry_after;
  bool plain = false;
  std::optional<RawResponse> raw;
  {
    absl::MutexLock lock(&mu_);
    latency = latency_;
    if (fail_count_ > 0) {
      --fail_count_;
      code = fail_code_;
      retry_after = fail_retry_after_;
      plain = fail_plain_text_;
      raw = fail_raw_;
    }
  }
  if (latency > absl::ZeroDuration()) absl::SleepFor(latency);
  if (code == 0) return false;
  if (raw.has_value()) {
    res.status = code;
    for (const auto& [name, value] : raw->headers) res.set_header(name.c_str(), value);
    res.set_content(raw->body, raw->content_type.c_str());
    return true;
  }
  if (retry_after > absl::ZeroDuration()) {
    res.set_header("Retry-After",
                   std::to_string(absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1)))));
  }
  if (plain) {
    res.status = code;
    res.set_content(code == 429 ? "Too many requests, please try again later.\n"
                                : "fakek8s: injected failure\n",
                    "text/plain; charset=utf-8");
    return true;
  }
  const char* reason = code == 429 ? "TooManyRequests"
                       : code == 503 ? "ServiceUnavailable"
                       : code == 504 ? "Timeout"
                       : code == 401 ? "Unauthorized"
                       : code == 403 ? "Forbidden"
                       : code >= 500 ? "InternalError" : "BadRequest";
  json details = nullptr;
  if (retry_after > absl::ZeroDuration()) {
    details = {{"retryAfterSeconds", absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1)))}};
  }
  WriteError(res, ApiError(code, reason, absl::StrCat("fakek8s: injected ", code, " failure")),
             details);
  return true;
}

std::optional<std::string> ApiServer::Authenticate(const httplib::Request& req,
                                                   httplib::Response& res) {
  std::string header = req.get_header_value("Authorization");
  absl::MutexLock lock(&mu_);
  if (tokens_.empty()) return std::string("system:anonymous");
  std::string token;
  if (absl::StartsWithIgnoreCase(header, "Bearer ")) {
    token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
  }
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    WriteError(res, ApiError(401, "Unauthorized", "Unauthorized"));
    return std::nullopt;
  }
  return it->second;
}

bool ApiServer::Authorized(const std::string& user, const std::string& verb,
                           const std::string& resource, const std::string& ns) {
  absl::MutexLock lock(&mu_);
  auto it = rules_.find(user);
  if (it == rules_.end()) return true;
  for (const RbacRule& rule : it->second) {
    if (!Contains(rule.verbs, verb) || !Contains(rule.resources, resource)) continue;
    if (rule.namespaces.empty() || (!ns.empty() && Contains(rule.namespaces, ns))) return true;
  }
  return false;
}

// --- Requests ---------------------------------------------------------------------

void ApiServer::Handle(const httplib::Request& req, httplib::Response& res) {
  try {
    if (InjectFault(res)) {
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
  std::optional<std::string> user = Authenticate(req, res);
  if (!user) {
    Count("unauthorized");
    return;
  }
  std::vector<std::string> seg = absl::StrSplit(req.path, '/', absl::SkipEmpty());
  const bool get = req.method == "GET";

  if (get && !seg.empty() && seg[0] == "openapi") {
    Count("openapi");
    if (seg.size() == 2 && seg[1] == "v3") return WriteJson(res, 200, OpenApiRoot());
    if (seg.size() == 4 && seg[1] == "v3" && seg[2] == "api" && seg[3] == "v1") {
      return WriteJson(res, 200, OpenApiGroupVersion("", "v1", options_.git_version));
    }
    if (seg.size() == 5 && seg[1] == "v3" && seg[2] == "apis" && seg[3] == "discovery.k8s.io" &&
        seg[4] == "v1") {
      return WriteJson(res, 200,
                       OpenApiGroupVersion("discovery.k8s.io", "v1", options_.git_version));
    }
    return WriteError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
  }

  // Discovery and version.
  if (seg.empty() || seg[0] == "version" || (seg[0] == "api" && seg.size() <= 2) ||
      (seg[0] == "apis" && seg.size() <= 3)) {
    Count("discovery");
    if (!get) {
      WriteError(res, ApiError(405, "MethodNotAllowed",
                               absl::StrCat("the server does not allow this method on the requested resource")));
      return;
    }
    if (seg.size() == 1 && seg[0] == "version") {
      std::vector<std::string> parts = absl::StrSplit(options_.git_version.substr(1), '.');
      WriteJson(res, 200,
                {{"major", parts.size() > 0 ? parts[0] : "1"},
                 {"minor", parts.size() > 1 ? parts[1] : "0"},
                 {"gitVersion", options_.git_version},
                 {"gitCommit", "0000000000000000000000000000000000000000"},
                 {"gitTreeState", "clean"},
                 {"buildDate", "2026-01-01T00:00:00Z"},
                 {"goVersion", "go1.24.0"},
                 {"compiler", "gc"},
                 {"platform", "linux/amd64"}});
      return;
    }
    if (seg.size() == 1 && seg[0] == "api") {
      WriteJson(res, 200,
                {{"kind", "APIVersions"},
                 {"versions", {"v1"}},
                 {"serverAddressByClientCIDRs",
                  json::array({{{"clientCIDR", "0.0.0.0/0"},
                                {"serverAddress", absl::StrCat(options_.host, ":", port_)}}})}});
      return;
    }
    if (seg.size() == 2 && seg[0] == "api" && seg[1] == "v1") {
      WriteJson(res, 200, ApiResourceList("", "v1"));
      return;
    }
    if (seg.size() == 1 && seg[0] == "apis") {
      WriteJson(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"},
                           {"groups", json::array({DiscoveryGroup()})}});
      return;
    }
    if (seg.size() >= 2 && seg[0] == "apis" && seg[1] == "discovery.k8s.io") {
      if (seg.size() == 2) {
        WriteJson(res, 200, DiscoveryGroup());
        return;
      }
      if (seg[2] == "v1") {
        WriteJson(res, 200, ApiResourceList("discovery.k8s.io", "v1"));
        return;
      }
    }
    WriteError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
    return;
  }

  // Resources: /api/v1/... or /apis/<group>/<version>/...
  Route route;
  std::vector<std::string> rest;
  if (seg[0] == "api" && seg[1] == "v1") {
    route.version = "v1";
    rest.assign(seg.begin() + 2, seg.end());
  } else if (seg[0] == "apis") {
    route.group = seg[1];
    route.version = seg[2];
    rest.assign(seg.begin() + 3, seg.end());
  }
  if (!rest.empty() && rest[0] == "watch") {
    route.legacy_watch = true;
    rest.erase(rest.begin());
  }
  std::string plural;
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() >= 3) {
    route.ns = rest[1];
    plural = rest[2];
    if (rest.size() >= 4) route.name = rest[3];
    if (rest.size() >= 5) route.subresource = rest[4];
    if (rest.size() > 5) plural.clear();
  } else if (!rest.empty()) {
    plural = rest[0];
    if (rest.size() >= 2) route.name = rest[1];
    if (rest.size() >= 3) route.subresource = rest[2];
    if (rest.size() > 3) plural.clear();
  }
  std::optional<Resource> resource = FindResource(route.group, route.version, plural);
  if (resource) route.info = &Info(*resource);
  if (route.info == nullptr || (route.info->namespaced && route.ns.empty() &&
                                !route.name.empty()) ||
      (!route.info->namespaced && !route.ns.empty()) ||
      (!route.subresource.empty() &&
       (route.subresource != "status" || route.info->resource == Resource::kEndpoints ||
        route.info->resource == Resource::kEndpointSlices))) {
    Count("notfound");
    WriteError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  const ResourceInfo& info = *route.info;
  if (info.resource == Resource::kEndpoints) res.set_header("Warning", kEndpointsWarning);

  // The verb, as RBAC names it.
  std::string verb;
  if (get) {
    verb = route.legacy_watch || ParseBool(Param(req, "watch"))
               ? "watch"
               : (route.name.empty() ? "list" : "get");
  } else if (req.method == "POST" && route.name.empty()) {
    verb = "create";
  } else if (req.method == "PUT" && !route.name.empty()) {
    verb = "update";
  } else if (req.method == "PATCH" && !route.name.empty()) {
    verb = "patch";
  } else if (req.method == "DELETE" && !route.name.empty()) {
    verb = "delete";
  } else {
    Count("unsupported");
    WriteError(res, ApiError(405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource"));
    return;
  }
  Count(absl::StrCat(verb, " ", info.plural));
  const std::string rbac_resource =
      route.subresource.empty() ? info.plural : info.plural + "/" + route.subresource;
  if (!Authorized(*user, verb, rbac_resource, route.ns)) {
    std::string what = route.name.empty()
                           ? info.QualifiedName()
                           : absl::StrCat(info.QualifiedName(), " \"", route.name, "\"");
    std::string where = route.ns.empty() ? "at the cluster scope"
                                         : absl::StrCat("in the namespace \"", route.ns, "\"");
    json details = {{"kind", info.plural}};
    if (!route.name.empty()) details["name"] = route.name;
    if (!info.group.empty()) details["group"] = info.group;
    WriteError(res,
               ApiError(403, "Forbidden",
                        absl::StrCat(what, " is forbidden: User \"", *user, "\" cannot ", verb,
                                     " resource \"", rbac_resource, "\" in API group \"",
                                     info.group, "\" ", where)),
               details);
    return;
  }

  if (verb == "watch") {
    ServeWatch(req, res, route);
    return;
  }
  if (verb == "list") {
    absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(Param(req, "labelSelector"));
    if (!labels.ok()) return WriteError(res, BadRequest(labels.status().message()));
    absl::StatusOr<FieldSelector> fields =
        FieldSelector::Parse(Param(req, "fieldSelector"), info.selectable_fields);
    if (!fields.ok()) return WriteError(res, BadRequest(fields.status().message()));
    ObjectStore::ListResult list = store_->List(*resource, route.ns, *labels, *fields);
    json items = json::array();
    for (json& item : list.items) items.push_back(AsListItem(std::move(item)));
    WriteJson(res, 200,
              {{"kind", info.kind + "List"},
               {"apiVersion", info.ApiVersion()},
               {"metadata", {{"resourceVersion", list.resource_version}}},
               {"items", std::move(items)}});
    return;
  }
  if (verb == "get") {
    absl::StatusOr<json> object = store_->Get(*resource, route.ns, route.name);
    if (!object.ok()) return WriteError(res, object.status());
    return WriteJson(res, 200, *object);
  }
  if (verb == "delete") {
    absl::StatusOr<json> deleted = info.resource == Resource::kPods
                                       ? DeletePod(route, req)
                                       : store_->Delete(*resource, route.ns, route.name);
    if (!deleted.ok()) return WriteError(res, deleted.status());
    return WriteJson(res, 200, *deleted);
  }

  // create, update, patch: a JSON body.
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return WriteError(res, BadRequest("the request body is not valid JSON"));
  }
  if (verb == "patch") {
    std::string content_type = req.get_header_value("Content-Type");
    absl::StatusOr<json> patched = store_->Mutate(
        *resource, route.ns, route.name,
        [&](json& object) { return ApplyPatch(content_type, body, object); });
    if (!patched.ok()) return WriteError(res, patched.status());
    return WriteJson(res, 200, *patched);
  }
  if (!body.is_object()) {
    return WriteError(res, BadRequest(absl::StrCat("the body of a ", info.kind,
                                                   " must be a JSON object")));
  }
  if (!body.contains("metadata") || !body["metadata"].is_object()) {
    if (body.contains("metadata")) {
      return WriteError(res, BadRequest("metadata must be a JSON object"));
    }
    body["metadata"] = json::object();
  }
  json& meta = body["metadata"];
  if (info.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != route.ns) {
      return WriteError(res, BadRequest("the namespace of the provided object does not match "
                                        "the namespace sent on the request"));
    }
    meta["namespace"] = route.ns;
  }
  if (verb == "create") {
    absl::StatusOr<json> created = store_->Create(*resource, std::move(body));
    if (!created.ok()) return WriteError(res, created.status());
    return WriteJson(res, 201, *created);
  }
  // update
  std::string body_name = meta.value("name", "");
  if (body_name != route.name) {
    return WriteError(res, BadRequest(absl::StrCat("the name of the object (", body_name,
                                                   ") does not match the name on the URL (",
                                                   route.name, ")")));
  }
  absl::StatusOr<json> updated = store_->Update(*resource, std::move(body));
  if (!updated.ok()) return WriteError(res, updated.status());
  WriteJson(res, 200, *updated);
}

absl::StatusOr<json> ApiServer::DeletePod(const Route& route, const httplib::Request& req) {
  // The grace period: query parameter, else DeleteOptions body, else the pod's.
  std::optional<int64_t> grace;
  int64_t value = 0;
  if (absl::SimpleAtoi(Param(req, "gracePeriodSeconds"), &value)) grace = value;
  if (!grace && !req.body.empty()) {
    json options = json::parse(req.body, nullptr, false);
    if (options.is_object() && options.contains("gracePeriodSeconds") &&
        options["gracePeriodSeconds"].is_number_integer()) {
      grace = options["gracePeriodSeconds"].get<int64_t>();
    }
  }
  if (grace && *grace <= 0) return store_->Delete(Resource::kPods, route.ns, route.name);
  absl::Time now = absl::Now();
  std::string uid;
  absl::StatusOr<json> marked =
      store_->Mutate(Resource::kPods, route.ns, route.name, [&](json& pod) {
        uid = pod["metadata"].value("uid", "");
        if (pod["metadata"].contains("deletionTimestamp")) return absl::OkStatus();
        int64_t seconds = grace.value_or(30);
        if (!grace && pod.contains("spec") && pod["spec"].is_object() &&
            pod["spec"].contains("terminationGracePeriodSeconds") &&
            pod["spec"]["terminationGracePeriodSeconds"].is_number_integer()) {
          seconds = pod["spec"]["terminationGracePeriodSeconds"].get<int64_t>();
        }
        pod["metadata"]["deletionTimestamp"] = absl::FormatTime(
            "%Y-%m-%dT%H:%M:%SZ", now + absl::Seconds(seconds), absl::UTCTimeZone());
        pod["metadata"]["deletionGracePeriodSeconds"] = seconds;
        return absl::OkStatus();
      });
  if (!marked.ok()) return marked.status();
  if (options_.pod_termination_delay <= absl::ZeroDuration()) {
    absl::StatusOr<json> gone = store_->Delete(Resource::kPods, route.ns, route.name);
    return gone.ok() ? gone : marked;
  }
  absl::MutexLock lock(&mu_);
  removals_.push_back({now + options_.pod_termination_delay, route.ns, route.name, uid});
  return marked;
}

void ApiServer::ReaperLoop() {
  while (true) {
    std::vector<PendingRemoval> due;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutting_down_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(20));
      if (shutting_down_) return;
      absl::Time now = absl::Now();
      auto split = std::partition(removals_.begin(), removals_.end(),
                                  [&](const PendingRemoval& r) { return r.when > now; });
      due.assign(split, removals_.end());
      removals_.erase(split, removals_.end());
    }
    for (const PendingRemoval& r : due) {
      // Only the pod that was deleted: a new pod under the same name stays.
      absl::StatusOr<json> pod = store_->Get(Resource::kPods, r.ns, r.name);
      if (pod.ok() && (*pod)["metadata"].value("uid", "") == r.uid) {
        (void)store_->Delete(Resource::kPods, r.ns, r.name);
      }
    }
  }
}

void ApiServer::ServeWatch(const httplib::Request& req, httplib::Response& res,
                           const Route& route) {
  const ResourceInfo& info = *route.info;
  ObjectStore::WatchOptions options;
  options.namespace_ = route.ns;
  absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(Param(req, "labelSelector"));
  if (!labels.ok()) return WriteError(res, BadRequest(labels.status().message()));
  std::string field_text = Param(req, "fieldSelector");
  if (!route.name.empty()) {
    field_text = absl::StrCat(field_text.empty() ? "" : field_text + ",", "metadata.name=",
                              route.name);
  }
  absl::StatusOr<FieldSelector> fields = FieldSelector::Parse(field_text, info.selectable_fields);
  if (!fields.ok()) return WriteError(res, BadRequest(fields.status().message()));
  options.labels = *std::move(labels);
  options.fields = *std::move(fields);
  options.from_rv = Param(req, "resourceVersion");
  const bool bookmarks = ParseBool(Param(req, "allowWatchBookmarks"));
  if (ParseBool(Param(req, "sendInitialEvents"))) {
    if (Param(req, "resourceVersionMatch") != "NotOlderThan" || !bookmarks) {
      return WriteError(
          res, Invalid("ListOptions", "",
                       "sendInitialEvents: Forbidden: sendInitialEvents requires setting "
                       "resourceVersionMatch to NotOlderThan and allowWatchBookmarks"));
    }
    options.send_initial_events = true;
  }
  absl::Duration lifetime = options_.max_watch_timeout;
  int64_t timeout_seconds = 0;
  if (absl::SimpleAtoi(Param(req, "timeoutSeconds"), &timeout_seconds) && timeout_seconds > 0) {
    lifetime = std::min(lifetime, absl::Seconds(timeout_seconds));
  }

  absl::StatusOr<std::unique_ptr<ObjectStore::Watch>> watch =
      store_->StartWatch(info.resource, options);
  if (!watch.ok() && HttpCode(watch.status()) != 410) return WriteError(res, watch.status());

  struct Stream {
    std::unique_ptr<ObjectStore::Watch> watch;
    std::string error_line;  // a 410 is one ERROR event, then the end
    absl::Time deadline;
    absl::Time next_bookmark;
    int64_t generation;
  };
  auto stream = std::make_shared<Stream>();
  if (watch.ok()) {
    stream->watch = *std::move(watch);
  } else {
    stream->error_line =
        EventLine("ERROR", ToStatusObject(watch.status()));
  }
  const absl::Time now = absl::Now();
  stream->deadline = now + lifetime;
  stream->next_bookmark = now + options_.bookmark_interval;
  stream->generation = stream_generation_.load();
  open_streams_.fetch_add(1);
  const absl::Duration bookmark_interval = options_.bookmark_interval;
  const std::string kind = info.kind;
  const std::string api_version = info.ApiVersion();

  res.status = 200;
  // Not plain "application/json": httplib would gzip the stream for clients that
  // accept it (kubectl does), holding events back in the compressor.
  res.set_chunked_content_provider(
      kWatchContentType,
      [this, stream, bookmarks, bookmark_interval, kind, api_version](
          size_t, httplib::DataSink& sink) {
        if (!stream->error_line.empty()) {
          bool ok = sink.write(stream->error_line.data(), stream->error_line.size());
          stream->error_line.clear();
          sink.done();
          return ok;
        }
        while (true) {
          const absl::Time now = absl::Now();
          if (stream_generation_.load() != stream->generation || now >= stream->deadline) {
            sink.done();
            return true;
          }
          if (stalled_.load()) {
            absl::SleepFor(absl::Milliseconds(20));
            continue;
          }
          absl::Duration wait = std::min(absl::Milliseconds(100), stream->deadline - now);
          if (bookmarks) wait = std::min(wait, std::max(absl::ZeroDuration(), stream->next_bookmark - now));
          ObjectStore::WatchEvent event;
          switch (stream->watch->Next(wait, &event)) {
            case ObjectStore::Watch::Result::kClosed:
              sink.done();
              return true;
            case ObjectStore::Watch::Result::kEvent: {
              // A stall that began while waiting holds the event back too.
              while (stalled_.load() && stream_generation_.load() == stream->generation) {
                absl::SleepFor(absl::Milliseconds(20));
              }
              std::string line = EventLine(event.type, event.object);
              return sink.write(line.data(), line.size());
            }
            case ObjectStore::Watch::Result::kTimeout:
              break;
          }
          if (bookmarks && absl::Now() >= stream->next_bookmark) {
            stream->next_bookmark = absl::Now() + bookmark_interval;
            std::string rv = stream->watch->ProgressResourceVersion();
            if (rv.empty()) continue;
            std::string line = EventLine(
                "BOOKMARK", {{"kind", kind},
                             {"apiVersion", api_version},
                             {"metadata", {{"resourceVersion", rv}}}});
            return sink.write(line.data(), line.size());
          }
        }
      },
      [this](bool) { open_streams_.fetch_sub(1); });
}

}  // namespace fakek8s
