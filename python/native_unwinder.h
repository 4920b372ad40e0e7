// Native stacks of the calling thread, from libunwind's unw_backtrace with
// per-thread caching: no lock, no signal mask system calls, no malloc, so it
// may run in malloc hooks and in signal handlers (gperftools'
// MallocHook_GetCallerStackTrace makes two sigprocmask calls per frame, 80x
// slower on small-object workloads).
//
// libunwind is opened with dlopen(RTLD_LOCAL), never linked: linked, its
// _Unwind_* functions can take the place of libgcc's for yep's own C++
// exceptions, and an exception thrown by one unwinder and resumed by the
// other aborts the process.
#pragma once

namespace yep {

// Loads libunwind and sets per-thread caching (once); false if it is missing.
bool native_unwinder_load();
// The library native_unwinder_load needs, for error messages.
const char* native_unwinder_library();
// Return addresses of the calling thread, innermost first; returns how many.
// Only after native_unwinder_load() returned true.
int native_backtrace(void** pcs, int max);

}  // namespace yep
