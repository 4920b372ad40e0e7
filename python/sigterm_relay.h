// SIGTERM for a profiled process whose SIGTERM handler is Python's
// (yep.run_ends): Python's C-level handler only notes the signal, and the
// Python handler runs when the main thread next checks. A signal that comes
// between that check and a blocking call (a pool worker entering sem_wait
// for its queue's lock as its pool terminates it) never interrupts the call:
// the handler never runs, the worker never dies, and the pool waits for it
// forever. The relay sits in front of Python's handler and, after passing a
// SIGTERM on, sends it again every 10 ms (a POSIX timer of this process)
// until the Python handler has run (sigterm_relay_handled), so a blocked
// call is interrupted and the handler runs.
#pragma once

namespace yep {

// Puts the relay in front of the SIGTERM handler installed now (Python's).
// Per process: a forked child calls it again (timers are not inherited).
void sigterm_relay_install();
// Called by the Python handler as it starts: no more repeats.
void sigterm_relay_handled();

}  // namespace yep
