#include "testing/ads_fleet.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace kubegrpc::testing {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

namespace {
constexpr char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
}  // namespace

class AdsFleet::Member : public grpc::ClientBidiReactor<DiscoveryRequest, DiscoveryResponse> {
 public:
  Member(AdsFleet* fleet, int index, const std::vector<std::string>& clusters,
         const std::string& node)
      : fleet_(fleet), index_(index) {
    first_.mutable_node()->set_id(node);
    first_.set_type_url(kEndpointType);
    for (const std::string& c : clusters) first_.add_resource_names(c);
  }

  void Start(AggregatedDiscoveryService::Stub* stub) {
    stub->async()->StreamAggregatedResources(&context_, this);
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
      write_ = first_;
    }
    StartWrite(&write_);
    StartRead(&read_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }
  void WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    const absl::Time now = absl::Now();
    for (const auto& any : read_.resources()) {
      envoy::config::endpoint::v3::ClusterLoadAssignment cla;
      if (!any.UnpackTo(&cla)) continue;
      size_t healthy = 0;
      for (const auto& locality : cla.endpoints()) {
        for (const auto& e : locality.lb_endpoints()) {
          healthy += e.health_status() == envoy::config::core::v3::HEALTHY ? 1 : 0;
        }
      }
      fleet_->Record(index_, cla.cluster_name(), healthy, now);
    }
    // ACK at once, as gRPC's client does.
    DiscoveryRequest ack;
    ack.set_type_url(kEndpointType);
    *ack.mutable_resource_names() = first_.resource_names();
    ack.set_version_info(read_.version_info());
    ack.set_response_nonce(read_.nonce());
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_) {
        pending_ = std::move(ack);  // only the latest ACK matters
        has_pending_ = true;
      } else {
        write_ = std::move(ack);
        writing_ = write = true;
      }
    }
    if (write) StartWrite(&write_);
    StartRead(&read_);
  }

  void OnWriteDone(bool ok) override {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && has_pending_) {
        write_ = std::move(pending_);
        has_pending_ = false;
        writing_ = write = true;
      }
    }
    if (write) StartWrite(&write_);
  }

  void OnDone(const grpc::Status& status) override {
    if (status.error_code() != grpc::StatusCode::CANCELLED) fleet_->Ended(index_);
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

 private:
  AdsFleet* const fleet_;
  const int index_;
  grpc::ClientContext context_;
  DiscoveryRequest first_;
  DiscoveryResponse read_;  // only the reactor's read touches it
  absl::Mutex mu_;
  DiscoveryRequest write_ ABSL_GUARDED_BY(mu_);  // the write under way
  DiscoveryRequest pending_ ABSL_GUARDED_BY(mu_);
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<AdsFleet>> AdsFleet::Start(const std::string& address, int streams,
                                                          std::vector<std::string> clusters,
                                                          Options options) {
  if (streams < 1 || clusters.empty()) {
    return absl::InvalidArgumentError("AdsFleet: needs at least one stream and one cluster");
  }
  std::unique_ptr<AdsFleet> fleet(new AdsFleet());
  {
    absl::MutexLock lock(&fleet->mu_);
    fleet->views_.resize(streams);
  }
  const int channels = options.channels > 0 ? options.channels : (streams + 9) / 10;
  std::vector<std::unique_ptr<AggregatedDiscoveryService::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    stubs.push_back(AggregatedDiscoveryService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  for (int i = 0; i < streams; ++i) {
    fleet->members_.push_back(std::make_unique<Member>(fleet.get(), i, clusters,
                                                       absl::StrCat(options.node_prefix, "-", i)));
  }
  for (int i = 0; i < streams; ++i) fleet->members_[i]->Start(stubs[i % channels].get());
  // The stubs may go: the calls keep their channels.
  return fleet;
}

AdsFleet::~AdsFleet() {
  for (auto& m : members_) m->Cancel();
  for (auto& m : members_) m->WaitDone();
}

void AdsFleet::Record(int index, const std::string& cluster, size_t healthy, absl::Time at) {
  absl::MutexLock lock(&mu_);
  ClusterView& view = views_[index][cluster];
  view.healthy = healthy;
  view.received = at;
  ++view.responses;
  ++responses_;
}

void AdsFleet::Ended(int index) {
  absl::MutexLock lock(&mu_);
  ++ended_;
}

std::function<bool(const std::vector<AdsFleet::MemberView>&)> AdsFleet::AllSee(
    const std::string& cluster, size_t healthy) {
  return [cluster, healthy](const std::vector<MemberView>& views) {
    for (const MemberView& v : views) {
      auto it = v.find(cluster);
      if (it == v.end() || it->second.healthy != healthy) return false;
    }
    return true;
  };
}

bool AdsFleet::WaitUntil(const std::function<bool(const std::vector<MemberView>&)>& done,
                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    if (done(views_)) return true;
    if (absl::Now() >= deadline) return false;
    const int64_t seen = responses_;
    auto more = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return responses_ != seen; };
    mu_.AwaitWithTimeout(absl::Condition(&more), absl::Milliseconds(10));
  }
}

std::vector<AdsFleet::MemberView> AdsFleet::Views() const {
  absl::MutexLock lock(&mu_);
  return views_;
}

int64_t AdsFleet::responses() const {
  absl::MutexLock lock(&mu_);
  return responses_;
}

int AdsFleet::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

}  // namespace kubegrpc::testing
