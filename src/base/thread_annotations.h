// Thread-safety annotations and the mutexes they can see.
//
// The macros are Clang's capability attributes
// (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html); under other
// compilers they expand to nothing. scripts/thread-safety.sh builds src/
// with clang's -Wthread-safety -Werror, so a member marked GUARDED_BY(mu_)
// read or written without mu_ held, or a REQUIRES(mu_) function called
// without it, fails the build.
//
// libstdc++'s std::mutex and std::lock_guard carry no annotations, so the
// analysis cannot see them: lock with these wrappers instead. Each is the
// std type it wraps, inline, with nothing added but the attributes (MutexLock
// adds one bool for unlock()) and the same thread-safety as that type; a
// scoped lock stays on the thread that made it. Conventions: a member that
// never changes after construction says "constant after construction"
// instead of GUARDED_BY; constructors and destructors are not analyzed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#if defined(__clang__)
#define LROGATE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LROGATE_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) LROGATE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY LROGATE_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) LROGATE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) LROGATE_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) LROGATE_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) LROGATE_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) LROGATE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) LROGATE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) LROGATE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) LROGATE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) LROGATE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) LROGATE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) LROGATE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) LROGATE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) LROGATE_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS LROGATE_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace lrogate {

class CondVar;

// std::mutex, as a capability.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;  // lends mu_ to std::condition_variable
  std::mutex mu_;
};

// std::shared_mutex, as a capability: many readers or one writer.
class CAPABILITY("shared_mutex") SharedMutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Tag: the caller already holds the mutex (after a successful try_lock()).
struct AdoptLock {};
inline constexpr AdoptLock kAdoptLock{};

// Holds a Mutex for its scope (std::lock_guard); unlock() ends the hold early.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  MutexLock(Mutex& mu, AdoptLock) REQUIRES(mu) : mu_(mu) {}
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// Holds a SharedMutex shared (std::shared_lock) for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex exclusively (std::unique_lock) for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// std::condition_variable over a Mutex the caller holds. A predicate reads
// guarded state, so it says so: [this]() REQUIRES(mu_) { return ...; }.
class CondVar {
 public:
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

  // Waits until pred() holds; mu is held again on return.
  template <class Pred>
  void wait(Mutex& mu, Pred pred) REQUIRES(mu) {
    Adopted a{std::unique_lock<std::mutex>(mu.mu_, std::adopt_lock)};
    cv_.wait(a.lock, std::move(pred));
  }
  // Waits until pred() holds or `timeout` has passed; returns pred().
  template <class Rep, class Period, class Pred>
  bool wait_for(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout, Pred pred)
      REQUIRES(mu) {
    Adopted a{std::unique_lock<std::mutex>(mu.mu_, std::adopt_lock)};
    return cv_.wait_for(a.lock, timeout, std::move(pred));
  }

 private:
  // The caller's lock, lent to std::condition_variable and handed back held
  // (even if pred throws): the caller's MutexLock releases it.
  struct Adopted {
    std::unique_lock<std::mutex> lock;
    ~Adopted() { lock.release(); }
  };
  std::condition_variable cv_;
};

}  // namespace lrogate
