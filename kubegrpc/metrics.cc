#include "kubegrpc/metrics.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "kubegrpc/internal/html.h"
#include "prometheus/text_serializer.h"

namespace kubegrpc {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* CodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code < 17 ? kNames[code] : "UNKNOWN";
}

// Each endpoint counted once, by the first of these that holds.
const char* StateOf(const EndpointSnapshot& e) {
  if (e.draining) return "draining";
  if (e.ejected) return "ejected";
  if (!e.healthy) return "unhealthy";
  switch (e.state) {
    case ChannelState::kReady:
      return "ready";
    case ChannelState::kConnecting:
      return "connecting";
    case ChannelState::kIdle:
      return "idle";
    case ChannelState::kTransientFailure:
    case ChannelState::kShutdown:
      return "transient_failure";
  }
  return "idle";
}

constexpr const char* kStates[] = {"ready",     "connecting", "idle",    "transient_failure",
                                   "unhealthy", "ejected",    "draining"};

ClientMetric Metric(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

std::string Ago(absl::Time then, absl::Time now) {
  if (then == absl::InfinitePast()) return "never";
  return absl::StrCat(absl::FormatDuration(absl::Trunc(now - then, absl::Milliseconds(100))),
                      " ago");
}

class Server : public MetricsServer {
 public:
  Server(const Balancer& balancer) : balancer_(balancer), collector_(balancer) {}
  ~Server() override {
    http_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const override { return port_; }

  absl::Status Start(const std::string& host, int port) {
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      prometheus::TextSerializer serializer;
      res.set_content(serializer.Serialize(collector_.Collect()),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    http_.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
      const absl::Time now = absl::Now();
      std::vector<ServiceSnapshot> services = balancer_.Snapshot();
      res.set_content(StatusPage(services, Rates(services, now), now), "text/html; charset=utf-8");
    });
    http_.Get("/",
              [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/status"); });
    port_ = port == 0 ? http_.bind_to_any_port(host) : (http_.bind_to_port(host, port) ? port : -1);
    if (port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("kube-grpc: ServeMetrics cannot listen on ", host, ":", port));
    }
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    return absl::OkStatus();
  }

 private:
  // Calls per second per endpoint since the previous page (at least 1 s ago).
  std::map<std::string, double> Rates(const std::vector<ServiceSnapshot>& services,
                                      absl::Time now) {
    std::map<std::string, int64_t> calls;
    for (const ServiceSnapshot& s : services) {
      for (const EndpointSnapshot& e : s.endpoints) calls[s.service + "|" + e.host_port] = e.calls;
    }
    absl::MutexLock lock(&mu_);
    if (now - sampled_at_ >= absl::Seconds(1)) {
      rates_.clear();
      const double seconds = absl::ToDoubleSeconds(now - sampled_at_);
      for (const auto& [key, n] : calls) {
        auto it = sample_.find(key);
        if (it != sample_.end() && sampled_at_ != absl::InfinitePast()) {
          rates_[key] = (n - it->second) / seconds;
        }
      }
      sample_ = std::move(calls);
      sampled_at_ = now;
    }
    return rates_;
  }

  const Balancer& balancer_;
  const BalancerCollector collector_;
  httplib::Server http_;
  std::thread thread_;
  int port_ = -1;
  absl::Mutex mu_;
  std::map<std::string, int64_t> sample_ ABSL_GUARDED_BY(mu_);
  absl::Time sampled_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::map<std::string, double> rates_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::vector<MetricFamily> BalancerCollector::Collect() const {
  const absl::Time now = absl::Now();
  MetricFamily endpoints =
      Family("kubegrpc_endpoints", "Endpoints of the Service's pool by state.", MetricType::Gauge);
  MetricFamily picks =
      Family("kubegrpc_endpoint_picks_total", "Picks of the endpoint.", MetricType::Counter);
  MetricFamily calls =
      Family("kubegrpc_endpoint_calls_total",
             "Finished calls on the endpoint's channel, by gRPC status code.", MetricType::Counter);
  MetricFamily in_flight = Family("kubegrpc_endpoint_in_flight",
                                  "Calls in flight on the endpoint's channel.", MetricType::Gauge);
  MetricFamily ejections =
      Family("kubegrpc_endpoint_ejections_total", "Times outlier detection ejected the endpoint.",
             MetricType::Counter);
  MetricFamily lists = Family("kubegrpc_discovery_lists_total", "Lists of the Service's endpoints.",
                              MetricType::Counter);
  MetricFamily watches =
      Family("kubegrpc_discovery_watches_total", "Watch streams opened.", MetricType::Counter);
  MetricFamily events =
      Family("kubegrpc_discovery_events_total", "Watch events received.", MetricType::Counter);
  MetricFamily errors = Family("kubegrpc_discovery_errors_total",
                               "Failed requests to the Kubernetes API.", MetricType::Counter);
  MetricFamily synced = Family("kubegrpc_discovery_synced",
                               "1 once a list of the Service has succeeded.", MetricType::Gauge);
  MetricFamily zone = Family("kubegrpc_zone_routing_active",
                             "1 while picks keep to the client's zone, 0 while they spill over "
                             "to every zone or there is no client zone or no hints.",
                             MetricType::Gauge);
  MetricFamily age =
      Family("kubegrpc_discovery_last_update_age_seconds",
             "Seconds since the last list or watch event (-1: none yet).", MetricType::Gauge);
  for (const ServiceSnapshot& s : balancer_.Snapshot()) {
    std::map<std::string, int> by_state;
    for (const char* state : kStates) by_state[state] = 0;
    for (const EndpointSnapshot& e : s.endpoints) {
      ++by_state[StateOf(e)];
      const std::vector<ClientMetric::Label> labels = {
          {"service", s.service}, {"pod", e.pod_name}, {"address", e.host_port}};
      ClientMetric m = Metric(labels);
      m.counter.value = static_cast<double>(e.picks);
      picks.metric.push_back(m);
      for (int c = 0; c < static_cast<int>(e.calls_by_code.size()); ++c) {
        if (e.calls_by_code[c] == 0) continue;
        std::vector<ClientMetric::Label> with_code = labels;
        with_code.push_back({"code", CodeName(c)});
        ClientMetric cm = Metric(std::move(with_code));
        cm.counter.value = static_cast<double>(e.calls_by_code[c]);
        calls.metric.push_back(std::move(cm));
      }
      ClientMetric f = Metric(labels);
      f.gauge.value = static_cast<double>(e.in_flight);
      in_flight.metric.push_back(f);
      ClientMetric ej = Metric(labels);
      ej.counter.value = static_cast<double>(e.ejections_total);
      ejections.metric.push_back(ej);
    }
    for (const auto& [state, n] : by_state) {
      ClientMetric m = Metric({{"service", s.service}, {"state", state}});
      m.gauge.value = n;
      endpoints.metric.push_back(std::move(m));
    }
    auto counter = [&](MetricFamily& family, int64_t value) {
      ClientMetric m = Metric({{"service", s.service}});
      m.counter.value = static_cast<double>(value);
      family.metric.push_back(std::move(m));
    };
    counter(lists, s.discovery.lists);
    counter(watches, s.discovery.watches);
    counter(events, s.discovery.events);
    counter(errors, s.discovery.errors);
    ClientMetric sm = Metric({{"service", s.service}});
    sm.gauge.value = s.discovery.synced ? 1 : 0;
    synced.metric.push_back(std::move(sm));
    ClientMetric am = Metric({{"service", s.service}});
    am.gauge.value = s.discovery.last_success_at == absl::InfinitePast()
                         ? -1
                         : absl::ToDoubleSeconds(now - s.discovery.last_success_at);
    age.metric.push_back(std::move(am));
    ClientMetric zm = Metric({{"service", s.service}, {"client_zone", s.zone.client_zone}});
    zm.gauge.value = s.zone.active ? 1 : 0;
    zone.metric.push_back(std::move(zm));
  }
  return {endpoints, picks,  calls,  in_flight, ejections, lists,
          watches,   events, errors, synced,    age,       zone};
}

std::string StatusPage(const std::vector<ServiceSnapshot>& services,
                       const std::map<std::string, double>& rates, absl::Time now) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"5\">"
      "<title>kube-grpc status</title><style>"
      "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:0.5em 0}"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
      ".ready{color:#060}.ejected,.transient_failure,.unhealthy{color:#a00}"
      ".draining{color:#666}</style></head><body>\n<h1>kube-grpc status</h1>\n";
  absl::StrAppend(&html, "<p>", services.size(), " Services; this page refreshes every 5 s (",
                  absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", now, absl::UTCTimeZone()), ").</p>\n");
  for (const ServiceSnapshot& s : services) {
    const DiscoveryStatus& d = s.discovery;
    absl::StrAppend(&html, "<section class=\"service\" data-service=\"",
                    internal::HtmlEscape(s.service), "\">\n<h2>", internal::HtmlEscape(s.service),
                    "</h2>\n<p class=\"discovery\">discovery: ",
                    d.synced ? "synced" : "not synced yet", d.using_endpoints ? " (Endpoints)" : "",
                    ", last update ", Ago(d.last_success_at, now), ", ", d.lists, " lists, ",
                    d.watches, " watches, ", d.events, " events, ", d.errors, " errors");
    if (!d.last_error.ok()) {
      absl::StrAppend(&html, "; last error ", Ago(d.last_error_at, now), ": <span class=\"error\">",
                      internal::HtmlEscape(std::string(d.last_error.message())), "</span>");
    }
    absl::StrAppend(&html, "</p>\n");
    if (!s.pool_status.ok()) {
      absl::StrAppend(&html, "<p class=\"pool-status\">",
                      internal::HtmlEscape(std::string(s.pool_status.message())), "</p>\n");
    }
    if (!s.zone.client_zone.empty()) {
      absl::StrAppend(&html, "<p class=\"zone\" data-active=\"", s.zone.active ? "yes" : "no",
                      "\">zone routing ", s.zone.active ? "on" : "off", " (client zone ",
                      internal::HtmlEscape(s.zone.client_zone),
                      "): ", internal::HtmlEscape(s.zone.reason), "</p>\n");
    }
    absl::StrAppend(&html,
                    "<table><tr><th>pod</th><th>address</th><th>zone</th><th>state</th>"
                    "<th>in rotation</th><th>calls/s</th><th>calls</th><th>failed</th>"
                    "<th>in flight</th><th>mean latency</th><th>last failure</th>"
                    "<th>ejection</th></tr>\n");
    for (const EndpointSnapshot& e : s.endpoints) {
      const char* state = StateOf(e);
      auto rate = rates.find(s.service + "|" + e.host_port);
      std::string ejection = "-";
      if (e.ejected) {
        ejection = absl::StrCat(
            internal::HtmlEscape(e.ejection_reason), "; back in ",
            absl::FormatDuration(absl::Trunc(std::max(absl::ZeroDuration(), e.ejected_until - now),
                                             absl::Seconds(1))));
      } else if (e.ejections_total > 0) {
        ejection = absl::StrCat(e.ejections_total, " before");
      }
      absl::StrAppend(
          &html, "<tr class=\"endpoint\" data-pod=\"", internal::HtmlEscape(e.pod_name),
          "\" data-state=\"", state, "\"><td>", internal::HtmlEscape(e.pod_name), "</td><td>",
          internal::HtmlEscape(e.host_port), "</td><td>", internal::HtmlEscape(e.zone),
          "</td><td class=\"", state, "\">", state, "</td><td>", e.picked ? "yes" : "no",
          "</td><td>", rate != rates.end() ? absl::StrFormat("%.1f", rate->second) : "-",
          "</td><td>", e.calls, "</td><td>", e.failures, "</td><td>", e.in_flight, "</td><td>",
          e.calls > 0 ? absl::FormatDuration(absl::Trunc(e.mean_latency, absl::Microseconds(1)))
                      : "-",
          "</td><td>",
          e.last_failure_code != 0
              ? absl::StrCat(CodeName(e.last_failure_code), " ", Ago(e.last_failure_at, now))
              : "-",
          "</td><td class=\"ejection\">", ejection, "</td></tr>\n");
    }
    absl::StrAppend(&html, "</table>\n</section>\n");
  }
  absl::StrAppend(&html, "</body></html>\n");
  return html;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> ServeMetrics(const Balancer& balancer,
                                                            const std::string& address) {
  std::string host;
  std::string port_text;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: ServeMetrics address \"", address, "\" is not [host]:port"));
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("kube-grpc: ServeMetrics address \"", address, "\" is not host:port"));
    }
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("kube-grpc: ServeMetrics address \"", address, "\" has no valid port"));
  }
  auto server = std::make_unique<Server>(balancer);
  if (absl::Status s = server->Start(host, port); !s.ok()) return s;
  return std::unique_ptr<MetricsServer>(std::move(server));
}

}  // namespace kubegrpc
