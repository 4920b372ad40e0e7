// Makes gperftools write a heap profile bigger than its 1 MiB dump buffer:
// allocates (and keeps) one 16-byte block from each of 4^8 = 65,536 distinct
// call stacks, then dumps (~20 frames a stack: ~300 bytes a bucket line, so
// about 3,000 buckets fit). Linked to libtcmalloc, so tcmalloc is the
// allocator.
//   heap_truncation_program PREFIX   -> writes PREFIX.0001.heap, prints its path
// Exit status 77 when the heap profiler does not run (the test then skips).
#include <gperftools/heap-profiler.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void* volatile* kept = nullptr;
int kept_count = 0;

void dispatch(int depth, unsigned path);

// Four callers of dispatch: every path through them is a distinct stack of
// return addresses. noinline and the volatile store after each call keep the
// frames (no inlining, no tail calls) at any optimization level.
volatile int sink = 0;
__attribute__((noinline)) void branch0(int depth, unsigned path) { dispatch(depth, path); sink = sink + 0; }
__attribute__((noinline)) void branch1(int depth, unsigned path) { dispatch(depth, path); sink = sink + 1; }
__attribute__((noinline)) void branch2(int depth, unsigned path) { dispatch(depth, path); sink = sink + 2; }
__attribute__((noinline)) void branch3(int depth, unsigned path) { dispatch(depth, path); sink = sink + 3; }

__attribute__((noinline)) void dispatch(int depth, unsigned path) {
  if (depth == 0) {
    kept[kept_count++] = std::malloc(16);
    return;
  }
  switch (path % 4) {
    case 0: branch0(depth - 1, path / 4); break;
    case 1: branch1(depth - 1, path / 4); break;
    case 2: branch2(depth - 1, path / 4); break;
    default: branch3(depth - 1, path / 4); break;
  }
  sink = sink + 4;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PREFIX\n", argv[0]);
    return 2;
  }
  const int depth = 8, paths = 1 << (2 * depth);
  HeapProfilerStart(argv[1]);
  if (!IsHeapProfilerRunning()) {
    std::fprintf(stderr, "the heap profiler did not start\n");
    return 77;
  }
  kept = static_cast<void* volatile*>(std::calloc(paths, sizeof(void*)));
  for (int p = 0; p < paths; ++p) dispatch(depth, static_cast<unsigned>(p));
  HeapProfilerDump("yep truncation test");
  HeapProfilerStop();
  std::printf("%s.0001.heap\n", argv[1]);
  return 0;
}
