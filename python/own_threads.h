// yep's own threads (the live view's, the RSS sampler's): their CPU time is
// yep's work, never the program's, so a CPU profile counts their samples as
// yep's own and records none (the drain thread is left out as it samples).
// Registered by kernel thread id, from the thread itself.
#pragma once

#include <cstdint>

namespace yep {

// The calling thread is yep's, until it calls unmark_own_thread (a thread
// that ends leaves its id to be reused).
void mark_own_thread();
void unmark_own_thread();
bool is_own_thread(uint64_t tid);

}  // namespace yep
