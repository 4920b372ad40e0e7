// Who owns a signal's handler, in words, for the warning a profile gives
// when the program replaced the timer signal's handler while it sampled
// (a program's own SIGPROF handler, another profiler, a library): from
// then on the profile gets no samples.
#pragma once

#include <signal.h>

#include <string>

namespace yep {

// "SIG_DFL", "SIG_IGN", "Python's signal module" (the handler signal.signal
// installs: the caller names the Python function), "<symbol> in <object>"
// or "an address in <object>".
std::string signal_handler_owner(const struct sigaction& action);

// The owner of `signal`'s handler now.
std::string signal_handler_owner(int signal);

// The description signal_handler_owner gives for Python's own handler.
extern const char* const kPythonSignalModule;

}  // namespace yep
