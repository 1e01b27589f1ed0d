#include "fakek8s/connection_threads.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace fakek8s::internal {
namespace {

// "address", port of a socket address; false for other families.
bool AddressOf(const sockaddr_storage& a, std::string* host, int* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    *port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    *port = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  *host = text;
  return true;
}

struct Connection {
  int fd;
  std::string local_host, remote_host;
  int local_port, remote_port;
};

// Calls `visit` with each connected IP socket of this process until it returns true.
template <typename Visit>
void ForEachConnection(Visit visit) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    struct stat st;
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local = {}, remote = {};
    socklen_t local_len = sizeof local, remote_len = sizeof remote;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        ::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&remote), &remote_len) !=
            0) {
      continue;
    }
    Connection c{static_cast<int>(fd), "", "", 0, 0};
    if (!AddressOf(local, &c.local_host, &c.local_port) ||
        !AddressOf(remote, &c.remote_host, &c.remote_port)) {
      continue;
    }
    if (visit(c)) break;
  }
  ::closedir(dir);
}

}  // namespace

int ConnectionSocket(const httplib::Request& req) {
  if (req.remote_port <= 0 || req.local_port <= 0) return -1;  // served in process
  int found = -1;
  ForEachConnection([&](const Connection& c) {
    if (c.local_port == req.local_port && c.remote_port == req.remote_port &&
        c.local_host == req.local_addr && c.remote_host == req.remote_addr) {
      found = c.fd;
      return true;
    }
    return false;
  });
  return found;
}

int ShutdownConnections(const std::string& host, int port) {
  const bool any = host.empty() || host == "0.0.0.0" || host == "::";
  int count = 0;
  ForEachConnection([&](const Connection& c) {
    if (c.local_port == port && (any || c.local_host == host)) {
      ::shutdown(c.fd, SHUT_RDWR);
      ++count;
    }
    return false;
  });
  return count;
}

bool PeerClosed(int fd) {
  if (fd < 0) return false;
  struct pollfd p = {fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace fakek8s::internal
