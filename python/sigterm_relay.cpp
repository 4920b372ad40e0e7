#include "sigterm_relay.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace yep {

namespace {

struct sigaction python_action;  // the handler the relay passes SIGTERM on to
timer_t timer;
pid_t timer_owner = 0;  // the process the timer belongs to
volatile sig_atomic_t repeating = 0;

void relay(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (python_action.sa_flags & SA_SIGINFO) {
    python_action.sa_sigaction(sig, info, context);
  } else if (python_action.sa_handler != SIG_DFL && python_action.sa_handler != SIG_IGN) {
    python_action.sa_handler(sig);
  }
  if (!repeating && timer_owner == getpid()) {
    repeating = 1;
    itimerspec every{};
    every.it_value.tv_nsec = every.it_interval.tv_nsec = 10 * 1000 * 1000;
    timer_settime(timer, 0, &every, nullptr);
  }
  errno = saved_errno;
}

}  // namespace

void sigterm_relay_install() {
  struct sigaction current;
  if (sigaction(SIGTERM, nullptr, &current) != 0) return;
  if (!(current.sa_flags & SA_SIGINFO && current.sa_sigaction == relay)) python_action = current;
  if (timer_owner != getpid()) {
    sigevent event;
    std::memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGTERM;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) return;  // no relay: as before
    timer_owner = getpid();
  }
  repeating = 0;
  struct sigaction action = python_action;
  action.sa_sigaction = relay;
  action.sa_flags = (python_action.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
  sigaction(SIGTERM, &action, nullptr);
}

void sigterm_relay_handled() {
  if (timer_owner == getpid() && repeating) {
    itimerspec stop{};
    timer_settime(timer, 0, &stop, nullptr);
    repeating = 0;
  }
}

}  // namespace yep
