#include "fakek8s/fake_kubernetes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fakek8s {

absl::StatusOr<std::unique_ptr<FakeKubernetes>> FakeKubernetes::Start(Options options) {
  std::unique_ptr<FakeKubernetes> k8s(new FakeKubernetes(options));
  k8s->controller_.Attach(k8s->store_);
  k8s->events_.WatchPods();
  if (options.seed) {
    if (absl::Status s = options.seed(k8s->store_); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<ApiServer>> server =
      ApiServer::Start(&k8s->store_, options.server);
  if (!server.ok()) return server.status();
  k8s->server_ = *std::move(server);
  k8s->server_->SetEventRecorder(&k8s->events_);
  return k8s;
}

absl::Status FakeKubernetes::WriteKubeconfig(const std::string& path, const std::string& token,
                                             const std::string& ns) const {
  const std::string text = server_->Kubeconfig(token, ns);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("fakek8s: cannot write kubeconfig ", path, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return absl::UnavailableError(
          absl::StrCat("fakek8s: cannot write kubeconfig ", path, ": ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace fakek8s
