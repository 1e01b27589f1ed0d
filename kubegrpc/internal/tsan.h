// File: kubegrpc/internal/tsan.h
// -----------------------------------------------------------------------------
// Happens-before edges through code ThreadSanitizer cannot see. The system's
// gRPC is not instrumented, so when we hand an object to gRPC on one thread (a
// completion-queue tag, an async call's state) and gRPC gives it back on
// another, the synchronization gRPC did in between is invisible and TSan would
// report a race on our own object. These mark exactly that hand-over:
//   TsanHandOff(p) before giving `p` to gRPC, TsanTakeOver(p) when it comes back.
// No-ops unless built with -fsanitize=thread.

#ifndef KUBEGRPC_INTERNAL_TSAN_H_
#define KUBEGRPC_INTERNAL_TSAN_H_

#if defined(__SANITIZE_THREAD__)
#define KUBEGRPC_TSAN_ENABLED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KUBEGRPC_TSAN_ENABLED 1
#endif
#endif

#ifdef KUBEGRPC_TSAN_ENABLED
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace kubegrpc::internal {

inline void TsanHandOff(void* p) {
#ifdef KUBEGRPC_TSAN_ENABLED
  __tsan_release(p);
#else
  (void)p;
#endif
}

inline void TsanTakeOver(void* p) {
#ifdef KUBEGRPC_TSAN_ENABLED
  __tsan_acquire(p);
#else
  (void)p;
#endif
}

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_TSAN_H_
