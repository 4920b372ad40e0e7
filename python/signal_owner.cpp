#include "signal_owner.h"

#include <Python.h>
#include <dlfcn.h>

#include <cstdio>

namespace yep {

const char* const kPythonSignalModule = "Python's signal module";

std::string signal_handler_owner(const struct sigaction& action) {
  if (!(action.sa_flags & SA_SIGINFO)) {
    if (action.sa_handler == SIG_DFL) return "SIG_DFL";
    if (action.sa_handler == SIG_IGN) return "SIG_IGN";
  }
  void* handler = (action.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(action.sa_sigaction)
                                                  : reinterpret_cast<void*>(action.sa_handler);
  Dl_info theirs{}, python{};
  if (!dladdr(handler, &theirs) || !theirs.dli_fname) {
    char text[64];
    std::snprintf(text, sizeof text, "a handler at %p", handler);
    return text;
  }
  // signal.signal installs one C handler, in the runtime (libpython, or the
  // executable of a static build): the Python function is the program's.
  if (dladdr(reinterpret_cast<void*>(&Py_Initialize), &python) && python.dli_fbase == theirs.dli_fbase)
    return kPythonSignalModule;
  const std::string object = theirs.dli_fname;
  if (theirs.dli_sname && theirs.dli_saddr == handler) return std::string(theirs.dli_sname) + " in " + object;
  return "a function in " + object;
}

std::string signal_handler_owner(int signal) {
  struct sigaction action {};
  sigaction(signal, nullptr, &action);
  return signal_handler_owner(action);
}

}  // namespace yep
