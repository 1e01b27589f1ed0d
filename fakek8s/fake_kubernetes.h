// File: fakek8s/fake_kubernetes.h
// -----------------------------------------------------------------------------
// A whole fake Kubernetes control plane in one object: an ObjectStore, the
// endpoint controller attached to it, an event recorder narrating pod changes
// and injected faults, and the HTTP(S) API server in front of it.
// This is what tests and the standalone server use.
//
//   absl::StatusOr<std::unique_ptr<fakek8s::FakeKubernetes>> k8s =
//       fakek8s::FakeKubernetes::Start({.server = {.tls = true}});
//   (*k8s)->store().Create(fakek8s::Resource::kServices, service_json);
//   (*k8s)->WriteKubeconfig(path, /*token=*/"", "default");
//   // point kubectl or kube-grpc at `path` / (*k8s)->server().url()
//
// Thread-safety: thread-safe, like its parts.

#ifndef FAKEK8S_FAKE_KUBERNETES_H_
#define FAKEK8S_FAKE_KUBERNETES_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fakek8s/api_server.h"
#include "fakek8s/endpoint_controller.h"
#include "fakek8s/events.h"
#include "fakek8s/object_store.h"

namespace fakek8s {

class FakeKubernetes {
 public:
  struct Options {
    ObjectStore::Options store;
    EndpointControllerOptions controller;
    ApiServerOptions server;
    EventRecorder::Options events;
    // Fills the store before the server listens, so that no client sees it
    // half seeded. Its error ends Start().
    std::function<absl::Status(ObjectStore&)> seed;
  };

  // Seeds the store, then starts the API server; errors as ApiServer::Start.
  static absl::StatusOr<std::unique_ptr<FakeKubernetes>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<FakeKubernetes>> Start() { return Start(Options()); }

  ObjectStore& store() { return store_; }
  ApiServer& server() { return *server_; }
  // Records events (the test harness reports the faults it injects into pods).
  EventRecorder& events() { return events_; }

  // Writes ApiServer::Kubeconfig(token, ns) to `path` (mode 0600).
  absl::Status WriteKubeconfig(const std::string& path, const std::string& token = "",
                               const std::string& ns = "default") const;

 private:
  explicit FakeKubernetes(const Options& options)
      : store_(options.store), controller_(options.controller), events_(&store_, options.events) {}

  ObjectStore store_;
  EndpointController controller_;
  EventRecorder events_;
  std::unique_ptr<ApiServer> server_;  // destroyed first
};

}  // namespace fakek8s

#endif  // FAKEK8S_FAKE_KUBERNETES_H_
