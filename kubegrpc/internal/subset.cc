#include "kubegrpc/internal/subset.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace kubegrpc::internal {

uint64_t RendezvousScore(const std::string& key, const std::string& host_port) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(key);
  h ^= 0xff;  // a separator that no byte of the key can imitate in place
  h *= 1099511628211ull;
  mix(host_port);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::vector<const Endpoint*> RendezvousSubset(const EndpointList& endpoints, const std::string& key,
                                              size_t limit) {
  std::vector<std::pair<uint64_t, const Endpoint*>> scored;
  scored.reserve(endpoints.size());
  for (const Endpoint& e : endpoints) scored.emplace_back(RendezvousScore(key, e.HostPort()), &e);
  if (scored.size() > limit) {
    std::nth_element(scored.begin(), scored.begin() + limit, scored.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    scored.resize(limit);
  }
  std::vector<const Endpoint*> out;
  out.reserve(scored.size());
  for (const auto& [score, e] : scored) out.push_back(e);
  return out;
}

std::optional<int64_t> FreeDescriptors() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::nullopt;
  }
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  int64_t open = -1;  // the directory's own descriptor
  while (::readdir(dir) != nullptr) ++open;
  ::closedir(dir);
  open -= 2;  // "." and ".."
  return static_cast<int64_t>(limit.rlim_cur) - open;
}

std::string DefaultSubsetKey() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "kube-grpc";
  return name;
}

}  // namespace kubegrpc::internal
