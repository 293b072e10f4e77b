// An LD_PRELOAD allocation counter for bench/allocs_per_request.py: counts
// every malloc, calloc, realloc and aligned allocation (operator new calls
// malloc) of a process and of the children it forks, into one 64-bit counter
// in the file $MALLOC_COUNT_FILE (shared mapping, so the benchmark reads it
// while the process runs, without signals). Allocation itself is glibc's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static uint64_t local_count;
static uint64_t* counter = &local_count;  // until the file is mapped

static inline void count(void) { __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED); }

__attribute__((constructor)) static void map_counter(void) {
  const char* path = getenv("MALLOC_COUNT_FILE");
  if (!path) return;
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return;
  if (ftruncate(fd, sizeof(uint64_t)) == 0) {
    void* p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) counter = (uint64_t*)p;
  }
  close(fd);
}

void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  count();
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  count();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  count();
  void* p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
