// File: fakek8s/pod_reaper.h
// -----------------------------------------------------------------------------
// PodReaper: how fakek8s deletes a pod, standing in for the kubelet. A DELETE
// marks the pod terminating (deletionTimestamp, deletionGracePeriodSeconds from
// the request, the DeleteOptions body or the pod's
// terminationGracePeriodSeconds); the object is removed `termination_delay`
// later by the reaper's thread (at once when the delay is zero, or when the
// request asked for a grace period of 0).
//
// Thread-safety: thread-safe. The store must outlive the reaper.

#ifndef FAKEK8S_POD_REAPER_H_
#define FAKEK8S_POD_REAPER_H_

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakek8s/object_store.h"

namespace fakek8s {

class PodReaper {
 public:
  PodReaper(ObjectStore* store, absl::Duration termination_delay);
  ~PodReaper();  // stops the thread; pending removals are dropped
  PodReaper(const PodReaper&) = delete;
  PodReaper& operator=(const PodReaper&) = delete;

  // Deletes pod ns/name with the given grace period (nullopt: the pod's, else
  // 30 s); returns the pod as the API answers a DELETE.
  absl::StatusOr<json> Delete(const std::string& ns, const std::string& name,
                              std::optional<int64_t> grace_seconds) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct PendingRemoval {
    absl::Time when;
    std::string ns;
    std::string name;
    std::string uid;
  };
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  ObjectStore* const store_;
  const absl::Duration termination_delay_;
  absl::Mutex mu_;
  std::vector<PendingRemoval> removals_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fakek8s

#endif  // FAKEK8S_POD_REAPER_H_
