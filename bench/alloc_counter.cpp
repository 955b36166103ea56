// Bench-only allocation counter, linked into relay-node, rc-bare-forwarder and rc-floor-forwarder
// when the tree is configured with -DRC_BENCH_COUNT_ALLOCS=ON (never in a normal build).
//
// The executable defines malloc/calloc/realloc, which interposes them for the whole process (the
// executable comes first in symbol lookup; no LD_PRELOAD), counts each call and forwards to glibc's
// __libc_* entry points; free is glibc's own. operator new goes through malloc, so it is counted.
// Not counted: posix_memalign/aligned_alloc/memalign (aligned new), mmap.
//
// The count is a uint64 at offset 0 of /dev/shm/rc-allocs-<pid> (shared mapping, relaxed atomic
// increments), which rc-loadgen reads before and after the measured phase to report
// relay_allocs_per_msg. The file is removed at normal exit (bench/run.sh also removes it).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
}

namespace {

std::atomic<uint64_t> g_early{0};
std::atomic<std::atomic<uint64_t>*> g_counter{&g_early};

inline void count() {
  g_counter.load(std::memory_order_relaxed)->fetch_add(1, std::memory_order_relaxed);
}

struct publisher {
  char path[64] = {};
  publisher() {
    std::snprintf(path, sizeof path, "/dev/shm/rc-allocs-%d", static_cast<int>(::getpid()));
    int fd = ::open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    void* p = MAP_FAILED;
    if (::ftruncate(fd, 4096) == 0)
      p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return;
    auto* shared = new (p) std::atomic<uint64_t>(g_early.load());
    g_counter.store(shared, std::memory_order_relaxed);
  }
  ~publisher() {
    if (path[0]) ::unlink(path);
  }
} g_publisher;

}  // namespace

extern "C" void* malloc(std::size_t n) noexcept {
  count();
  return __libc_malloc(n);
}

extern "C" void* calloc(std::size_t n, std::size_t m) noexcept {
  count();
  return __libc_calloc(n, m);
}

extern "C" void* realloc(void* p, std::size_t n) noexcept {
  count();
  return __libc_realloc(p, n);
}
