// Fuzzes fakek8s's request handler: methods, paths, query strings, headers and
// bodies, against a server seeded with a demo Service, pods and EndpointSlices.
// Property: no crash, and every response is a valid HTTP status with either a
// JSON body (Status objects and Tables included), a watch stream, or plain text from
// the health endpoints.
//
// Input: "METHOD /path?query\n" then "Name: value" header lines, a blank line and
// the body. Byte 0's low bit picks a server with a token and RBAC rules (the
// example manifest's) over an open one. The servers are rebuilt every few
// thousand inputs so the store's growth stays bounded.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fakek8s/api_server.h"
#include "fakek8s/endpoint_controller.h"
#include "fakek8s/object_store.h"
#include "fakek8s/seed.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace {

struct World {
  fakek8s::ObjectStore store;
  fakek8s::EndpointController controller;
  std::unique_ptr<fakek8s::ApiServer> open;
  std::unique_ptr<fakek8s::ApiServer> guarded;

  World() {
    controller.Attach(store);
    if (!fakek8s::SeedDemo(store, {}).ok()) __builtin_trap();
    auto a = fakek8s::ApiServer::Start(&store);
    auto b = fakek8s::ApiServer::Start(&store);
    if (!a.ok() || !b.ok()) __builtin_trap();
    open = *std::move(a);
    guarded = *std::move(b);
    guarded->AddToken("fuzz-token", "system:serviceaccount:demo:client");
    guarded->SetRules(
        "system:serviceaccount:demo:client",
        {{{"list", "watch"}, {"endpointslices"}, {"demo"}}, {{"get"}, {"services"}, {"demo"}}});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static std::unique_ptr<World> world;
  static int runs = 0;
  if (world == nullptr || ++runs % 5000 == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  httplib::Request req;
  size_t eol = text.find('\n');
  absl::string_view request_line = text.substr(0, eol);
  text = eol == absl::string_view::npos ? absl::string_view() : text.substr(eol + 1);
  size_t sp = request_line.find(' ');
  if (sp == absl::string_view::npos) return 0;
  req.method = std::string(request_line.substr(0, sp));
  absl::string_view target = request_line.substr(sp + 1);
  size_t q = target.find('?');
  // As httplib does on a real connection: the path is percent-decoded and the
  // query split into parameters.
#ifdef CPPHTTPLIB_VERSION_NUM  // Debian sid's 0.41; bookworm's 0.11 has only decode_url
  req.path = httplib::decode_path_component(std::string(target.substr(0, q)));
#else
  req.path = httplib::detail::decode_url(std::string(target.substr(0, q)), false);
#endif
  if (q != absl::string_view::npos) {
    httplib::detail::parse_query_text(std::string(target.substr(q + 1)), req.params);
  }
  while (!text.empty()) {
    eol = text.find('\n');
    absl::string_view line = text.substr(0, eol);
    text = eol == absl::string_view::npos ? absl::string_view() : text.substr(eol + 1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace(std::string(line.substr(0, colon)), std::string(value));
  }
  req.body = std::string(text);

  httplib::Response res;
  ((data[0] & 1) ? world->guarded : world->open)->ServeInProcess(req, res);
  if (res.status < 200 || res.status > 599) __builtin_trap();
  const bool streaming = static_cast<bool>(res.content_provider_);
  const bool plain = absl::StartsWith(res.get_header_value("Content-Type"), "text/plain");
  // The router reads the path by its non-empty segments ("//healthz" is /healthz).
  absl::string_view first = req.path;
  while (absl::StartsWith(first, "/")) first.remove_prefix(1);
  if (plain && !absl::StartsWith(first, "healthz") && !absl::StartsWith(first, "livez") &&
      !absl::StartsWith(first, "readyz")) {
    __builtin_trap();  // plain text is for the health endpoints only
  }
  if (!streaming && !plain && !res.body.empty()) {
    // Every other non-streamed answer is JSON (objects, lists, Tables, Status errors).
    if (!nlohmann::json::accept(res.body)) __builtin_trap();
  }
  return 0;
}
