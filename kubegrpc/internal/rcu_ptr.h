// File: kubegrpc/internal/rcu_ptr.h
// -----------------------------------------------------------------------------
// RcuPtr<T>: a pointer to an immutable T that many threads read without a lock
// and that a writer replaces, freeing the old T once no reader can still be
// using it (read-copy-update with two epochs of per-slot reader counts).
//
//   RcuPtr<Picker> picker(std::make_unique<Picker>(...));
//   { RcuPtr<Picker>::ReadGuard g(picker); g->Pick(); }     // any thread
//   picker.Update(std::make_unique<Picker>(...));            // one writer at a time
//
// Readers touch one counter in a slot chosen by thread (threads rarely share a
// slot, so readers do not contend on a cache line) and never block. Update waits
// only for readers of the value before the previous one, which are rare: each
// reader holds the guard for one pick.
//
// A reader preempted inside its (short) read section delays the Update() that
// must reclaim what it reads; readers never wait.
//
// Thread-safety: reads are thread-safe and lock-free; Update() calls must be
// serialized by the caller (the pool's lock).

#ifndef KUBEGRPC_INTERNAL_RCU_PTR_H_
#define KUBEGRPC_INTERNAL_RCU_PTR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

namespace kubegrpc::internal {

template <typename T>
class RcuPtr {
 public:
  explicit RcuPtr(std::unique_ptr<T> initial) : ptr_(initial.release()) {}
  RcuPtr(const RcuPtr&) = delete;
  RcuPtr& operator=(const RcuPtr&) = delete;
  ~RcuPtr() {
    ReclaimRetired();
    delete ptr_.load();
  }

  class ReadGuard {
   public:
    explicit ReadGuard(const RcuPtr& rcu) : counter_(rcu.Enter()), value_(rcu.ptr_.load()) {}
    ~ReadGuard() { counter_->fetch_sub(1, std::memory_order_release); }
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;
    const T* get() const { return value_; }
    const T* operator->() const { return value_; }
    const T& operator*() const { return *value_; }

   private:
    std::atomic<int64_t>* counter_;
    const T* value_;
  };

  // Publishes `next`. The previous value is deleted at the next Update() (or
  // destruction), by when its readers are long gone; only if one is still
  // reading does Update() wait for it.
  void Update(std::unique_ptr<T> next) {
    ReclaimRetired();
    retired_ = ptr_.exchange(next.release());
    // New readers go to the other epoch; those in the old one finish with `retired_`.
    retired_epoch_ = epoch_.fetch_xor(1);
  }

 private:
  static constexpr int kSlots = 64;
  struct alignas(64) Slot {
    std::atomic<int64_t> readers[2] = {0, 0};
  };

  std::atomic<int64_t>* Enter() const {
    static thread_local const size_t slot =
        std::hash<std::thread::id>()(std::this_thread::get_id()) % kSlots;
    std::atomic<int64_t>* counter = &slots_[slot].readers[epoch_.load()];
    counter->fetch_add(1);  // seq_cst: ordered before the pointer load
    return counter;
  }

  // Waits until no reader of the retired value's epoch remains, then deletes it.
  void ReclaimRetired() {
    if (retired_ == nullptr) return;
    for (Slot& slot : slots_) {
      while (slot.readers[retired_epoch_].load(std::memory_order_acquire) != 0) {
        std::this_thread::yield();
      }
    }
    delete retired_;
    retired_ = nullptr;
  }

  std::atomic<T*> ptr_;
  T* retired_ = nullptr;  // the previous value, until its readers are gone
  int retired_epoch_ = 0;
  mutable std::atomic<int> epoch_{0};
  mutable Slot slots_[kSlots];
};

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_RCU_PTR_H_
