#include "testing/fake_pod.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kubegrpc/proto/health.grpc.pb.h"
#include "testing/proto/echo.grpc.pb.h"

namespace kubegrpc::testing {

LoopbackSubnet::LoopbackSubnet() {
  const int pid = static_cast<int>(getpid());
  // 127.0.0.0/16 is left alone; a and b spread processes over the rest of /8.
  prefix_ = absl::StrCat("127.", 1 + pid % 250, ".", (pid / 250) % 250 + 1, ".");
}

std::string LoopbackSubnet::Next() {
  const int n = next_.fetch_add(1);
  return absl::StrCat(prefix_, 1 + (n - 1) % 254);
}

class FakePod::Impl final : public Echo::Service, public grpc::health::v1::Health::Service {
 public:
  Impl(FakePod* pod) : pod_(pod) {}

  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* request,
                    EchoResponse* response) override {
    absl::Duration latency;
    grpc::StatusCode fail = grpc::StatusCode::OK;
    {
      absl::MutexLock lock(&mu_);
      latency = latency_;
      if (fail_count_ > 0) {
        --fail_count_;
        fail = fail_code_;
      }
    }
    if (latency > absl::ZeroDuration()) absl::SleepFor(latency);
    if (!WaitOutHang(context)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("fake pod ", pod_->name_, ": hung"));
    }
    if (fail != grpc::StatusCode::OK) {
      return grpc::Status(fail, absl::StrCat("fake pod ", pod_->name_, ": injected failure"));
    }
    response->set_message(request->message());
    response->set_pod_name(pod_->name_);
    response->set_pod_ip(pod_->ip_);
    response->set_pod_uid(pod_->uid_);
    response->set_incarnation(pod_->incarnation_.load());
    response->set_served_count(pod_->served_.fetch_add(1) + 1);
    const int64_t now = absl::ToUnixNanos(absl::Now());
    int64_t never = 0;
    pod_->first_call_ns_.compare_exchange_strong(never, now);
    int64_t last = pod_->last_call_ns_.load();
    while (last < now && !pod_->last_call_ns_.compare_exchange_weak(last, now)) {
    }
    response->set_peer(context->peer());
    return grpc::Status::OK;
  }

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!WaitOutHang(context)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("fake pod ", pod_->name_, ": hung"));
    }
    if (!request->service().empty() && request->service() != Echo::service_full_name()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    }
    response->set_status(serving_.load() ? grpc::health::v1::HealthCheckResponse::SERVING
                                         : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

  void SetServing(bool serving) { serving_ = serving; }
  void FailNext(int n, grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    fail_count_ = n;
    fail_code_ = code;
  }
  void SetLatency(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    latency_ = d;
  }
  void HangUntil(absl::Time t) {
    absl::MutexLock lock(&mu_);
    hang_until_ = t;
  }
  // While hung, a call waits until the hang ends or the caller gives up; false
  // if it gave up (the caller has its DEADLINE_EXCEEDED or CANCELLED already).
  bool WaitOutHang(grpc::ServerContext* context) {
    while (true) {
      absl::Time until;
      {
        absl::MutexLock lock(&mu_);
        until = hang_until_;
      }
      const absl::Time now = absl::Now();
      if (now >= until) return true;
      if (context->IsCancelled() || absl::FromChrono(context->deadline()) <= now) return false;
      absl::SleepFor(std::min(until - now, absl::Milliseconds(5)));
    }
  }

 private:
  FakePod* pod_;
  std::atomic<bool> serving_{true};
  absl::Mutex mu_;
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode fail_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
  absl::Duration latency_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Time hang_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

FakePod::FakePod(std::string name, std::string ip, std::string uid)
    : name_(std::move(name)),
      ip_(std::move(ip)),
      uid_(std::move(uid)),
      impl_(std::make_unique<Impl>(this)) {}

absl::StatusOr<std::unique_ptr<FakePod>> FakePod::Start(std::string name, std::string ip, int port,
                                                        std::string uid) {
  std::unique_ptr<FakePod> pod(new FakePod(std::move(name), std::move(ip), std::move(uid)));
  absl::MutexLock lock(&pod->mu_);
  if (absl::Status s = pod->Listen(port); !s.ok()) return s;
  return pod;
}

FakePod::~FakePod() { Crash(); }

std::string FakePod::address() const { return absl::StrCat(ip_, ":", port_); }

absl::Status FakePod::Listen(int port) {
  int bound = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(ip_, ":", port), grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(static_cast<Echo::Service*>(impl_.get()));
  builder.RegisterService(static_cast<grpc::health::v1::Health::Service*>(impl_.get()));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound == 0) {
    return absl::UnavailableError(
        absl::StrCat("fake pod ", name_, ": cannot listen on ", ip_, ":", port));
  }
  port_ = bound;
  server_ = std::move(server);
  incarnation_.fetch_add(1);
  return absl::OkStatus();
}

void FakePod::SetServing(bool serving) { impl_->SetServing(serving); }
void FakePod::FailNextCalls(int n, grpc::StatusCode code) { impl_->FailNext(n, code); }
void FakePod::SetLatency(absl::Duration latency) { impl_->SetLatency(latency); }
void FakePod::Hang(absl::Duration duration) { impl_->HangUntil(absl::Now() + duration); }

void FakePod::Crash() {
  std::unique_ptr<grpc::Server> server;
  {
    absl::MutexLock lock(&mu_);
    server = std::move(server_);
  }
  if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
}

void FakePod::Stop(absl::Duration grace) {
  std::unique_ptr<grpc::Server> server;
  {
    absl::MutexLock lock(&mu_);
    server = std::move(server_);
  }
  if (server != nullptr) server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

absl::Status FakePod::Restart() {
  absl::MutexLock lock(&mu_);
  if (server_ != nullptr) return absl::OkStatus();
  // The old listener may take a moment to let go of the address.
  absl::Status s;
  for (int i = 0; i < 100; ++i) {
    s = Listen(port_);
    if (s.ok()) return s;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return s;
}

bool FakePod::running() const {
  absl::MutexLock lock(&mu_);
  return server_ != nullptr;
}

}  // namespace kubegrpc::testing
