#include "testing/blackhole.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kubegrpc::testing {

Blackhole::Blackhole(Mode mode) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd_, mode == Mode::kSilent ? 64 : 0);
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  if (mode == Mode::kSilent) {
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // closed
        held_.push_back(c);
      }
    });
    return;
  }
  // Fill the queue: these finish the handshake and are never accepted.
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    held_.push_back(c);
  }
  absl::SleepFor(absl::Milliseconds(50));  // let the handshakes complete
}

Blackhole::~Blackhole() {
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  if (thread_.joinable()) thread_.join();
  for (int c : held_) ::close(c);
}

std::string Blackhole::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace kubegrpc::testing
