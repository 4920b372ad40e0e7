#include "cpu_profiler.h"
#include "signal_owner.h"
#include "output_file.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gperftools/profiler.h>
#include <signal.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "profile_file.h"

namespace yep {

namespace {

// Read once, like libprofiler itself, when this module is loaded.
const bool kWallClock = std::getenv("CPUPROFILE_REALTIME") != nullptr;
const int kTimer = kWallClock ? ITIMER_REAL : ITIMER_PROF;
const int kSignal = kWallClock ? SIGALRM : SIGPROF;
const char* const kSignalName = kWallClock ? "SIGALRM" : "SIGPROF";

struct Session {
  bool running = false;
  std::string path;         // as the user gave it, for messages
  std::string file;         // absolute: the program may chdir meanwhile
  std::string raw;          // gperftools' own file: a private temporary beside it
  int fd = -1;              // libprofiler's descriptor of the file
  pid_t owner = 0;          // the process that started profiling
  double requested_hz = 0;  // 0: gperftools' own, read from the header at stop
  bool timer_overridden = false;
  itimerval saved_timer{};
  ProfileClock clock;
};
Session session;

// True when the timer signal's handler belongs to libprofiler.
bool handler_is_libprofiler(const struct sigaction& sa) {
  void* handler = (sa.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(sa.sa_sigaction)
                                              : reinterpret_cast<void*>(sa.sa_handler);
  Dl_info mine{}, theirs{};
  if (!dladdr(reinterpret_cast<void*>(&ProfilerStart), &mine) || !dladdr(handler, &theirs)) return false;
  return mine.dli_fbase == theirs.dli_fbase;
}

bool handler_is_default(const struct sigaction& sa) {
  return !(sa.sa_flags & SA_SIGINFO) && (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN);
}

struct sigaction current_handler() {
  struct sigaction sa {};
  sigaction(kSignal, nullptr, &sa);
  return sa;
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

// The descriptor libprofiler opened for `file`, found in /proc/self/fd.
int find_descriptor(const std::string& file) {
  struct stat want {};
  if (::stat(file.c_str(), &want) != 0) return -1;
  for (int fd = 3; fd < 1024; ++fd) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino) return fd;
  }
  return -1;
}

// In a forked child, the profile belongs to the parent: libprofiler's copy of
// the descriptor would let the child's exit (static destructors) write a
// stale buffer and a second trailer into the parent's file. Point the
// child's descriptor at /dev/null instead. Async-signal-safe.
void after_fork_in_child() {
  if (!session.running || session.fd < 0) return;
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, session.fd);
    ::close(devnull);
  }
}

// Machine words of the profile as written by this process (native order).
using Word = uintptr_t;

// Reads gperftools' raw file, counts the samples into s, rewrites the header
// period to the achieved one, appends yep's record and writes it all to
// path. A raw file not as expected is written as it is (then the summary
// still reports what was measured).
void finalize_profile(const std::string& raw, const std::string& path, CpuProfileSummary& s) {
  // Outside malloc (mapped_allocator.h): a big profile freed through the
  // program's malloc would change how the program's memory is given back.
  MappedString bytes = read_own_file(raw);
  const size_t n = bytes.size() / sizeof(Word);
  auto word = [&](size_t i) {
    Word w;
    std::memcpy(&w, bytes.data() + i * sizeof(Word), sizeof w);
    return w;
  };
  if (n < 5 || word(0) != 0 || word(1) != 3 || word(3) == 0) {
    write_atomically(path, bytes, "the profile");  // as gperftools wrote it
    return;
  }
  const Word header_period_us = word(3);
  if (s.requested_hz <= 0) s.requested_hz = 1e6 / static_cast<double>(header_period_us);

  int64_t samples = 0;
  size_t i = 5;
  while (i + 2 <= n) {
    Word count = word(i), depth = word(i + 1);
    if (count == 0) break;  // trailer
    samples += static_cast<int64_t>(count);
    i += 2 + depth;
  }
  s.samples = samples;
  const double measured = s.wall_clock ? s.wall_seconds : s.cpu_seconds;
  if (samples > 0 && measured > 0) s.achieved_hz = samples / measured;
  if (samples > 0 && measured > 0 && s.timer_handler_replaced_by.empty()) {
    Word period_us = static_cast<Word>(std::llround(measured * 1e6 / samples));
    if (period_us == 0) period_us = 1;
    std::memcpy(&bytes[3 * sizeof(Word)], &period_us, sizeof period_us);
  }
  if (!bytes.empty() && bytes.back() != '\n') bytes += '\n';
  bytes += cpu_profile_record(s, session.clock.unix_seconds(), "");
  bytes += read_self_build_ids();

  write_atomically(path, bytes, "the profile");
}

// ProfilerStop prints "PROFILE: interrupts/evictions/bytes = ..." on stderr;
// that line is not the program's, so it does not reach the program's stderr.
void stop_quietly() {
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && devnull >= 0) ::dup2(devnull, STDERR_FILENO);
  ProfilerStop();
  if (saved >= 0 && devnull >= 0) ::dup2(saved, STDERR_FILENO);
  if (saved >= 0) ::close(saved);
  if (devnull >= 0) ::close(devnull);
}

}  // namespace

ProfileClock ProfileClock::start() {
  ProfileClock c;
  clock_gettime(CLOCK_REALTIME, &c.unix_time);
  clock_gettime(CLOCK_MONOTONIC, &c.wall);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c.cpu);
  return c;
}

void ProfileClock::measure(CpuProfileSummary& s) const {
  auto since = [](const timespec& start, clockid_t id) {
    timespec t{};
    clock_gettime(id, &t);
    return static_cast<double>(t.tv_sec - start.tv_sec) + (t.tv_nsec - start.tv_nsec) / 1e9;
  };
  s.cpu_seconds = since(cpu, CLOCK_PROCESS_CPUTIME_ID);
  s.wall_seconds = since(wall, CLOCK_MONOTONIC);
}

std::string cpu_profile_record(const CpuProfileSummary& s, double start_unix, const std::string& extra) {
  char record[512];
  std::snprintf(record, sizeof record,
                "# yep: timer=%s requested_hz=%.6g achieved_hz=%.6g samples=%lld cpu_seconds=%.6f "
                "wall_seconds=%.6f start_unix=%.6f",
                s.wall_clock ? "wall" : "cpu", s.requested_hz, s.achieved_hz, static_cast<long long>(s.samples),
                s.cpu_seconds, s.wall_seconds, start_unix);
  return std::string(record) + (s.timer_handler_replaced_by.empty() ? "" : " timer_handler=replaced") + extra + "\n";
}

bool timer_signal_is_free(int signal) {
  struct sigaction sa {};
  sigaction(signal, nullptr, &sa);
  return !cpu_profiler_running() && (handler_is_default(sa) || handler_is_libprofiler(sa));
}

bool cpu_profiler_wall_clock() { return kWallClock; }

bool cpu_profiler_running() {
  ProfilerState state{};
  ProfilerGetCurrentState(&state);
  return session.running || state.enabled;
}

long long cpu_profiler_samples() {
  ProfilerState state{};
  ProfilerGetCurrentState(&state);
  return state.enabled ? state.samples_gathered : 0;
}

std::string cpu_profiler_path() {
  if (session.running) return session.path;
  ProfilerState state{};
  ProfilerGetCurrentState(&state);
  return state.enabled ? std::string(state.profile_name) : std::string();
}

void cpu_profiler_start(const std::string& path, double frequency) {
  if (cpu_profiler_running()) {
    ProfilerState state{};
    ProfilerGetCurrentState(&state);
    std::string current = session.running ? session.path : std::string(state.profile_name);
    throw CaptureError("the CPU profiler is already running (writing '" + current +
                       "'); call yep.stop() before starting it again");
  }
  if (path.empty()) throw CaptureError("no profile path given");
  if (frequency > 0 && (frequency < 1 || frequency > 4000))
    throw CaptureError("frequency must be between 1 and 4000 Hz, not " + std::to_string(frequency));

  const struct sigaction before = current_handler();
  if (!handler_is_default(before) && !handler_is_libprofiler(before))
    throw CaptureError(std::string("another ") + kSignalName +
                       " handler is installed (another profiler?); gperftools would record nothing. "
                       "Stop the other profiler first");
  check_writable(path);

  static const bool fork_handler = ::pthread_atfork(nullptr, nullptr, after_fork_in_child) == 0;
  (void)fork_handler;
  session = Session{};
  session.path = path;
  session.file = absolute(path);
  try {
    session.raw = make_private_temporary(session.file);
  } catch (const OutputError& e) {
    throw CaptureError("cannot write the profile to " + std::string(e.what()).substr(13));
  }
  session.owner = ::getpid();
  session.clock = ProfileClock::start();
  if (!ProfilerStart(session.raw.c_str())) {
    ::unlink(session.raw.c_str());
    throw CaptureError("gperftools could not start profiling to '" + path + "'");
  }
  if (!handler_is_libprofiler(current_handler())) {
    // libprofiler disables itself for good when the signal had a handler
    // when it was loaded: ProfilerStart "succeeds" and records nothing.
    ProfilerStop();
    ::unlink(session.raw.c_str());
    throw CaptureError(std::string("gperftools' profiler is disabled in this process: a ") + kSignalName +
                       " handler was installed before yep's native module was loaded. "
                       "Import yep (or run python -m yep) before the other profiler");
  }
  if (frequency > 0) {
    getitimer(kTimer, &session.saved_timer);
    itimerval timer{};
    timer.it_interval.tv_usec = static_cast<suseconds_t>(std::llround(1e6 / frequency));
    if (timer.it_interval.tv_usec >= 1000000) {
      timer.it_interval.tv_sec = timer.it_interval.tv_usec / 1000000;
      timer.it_interval.tv_usec %= 1000000;
    }
    timer.it_value = timer.it_interval;
    setitimer(kTimer, &timer, nullptr);
    session.timer_overridden = true;
    session.requested_hz = frequency;
  }
  session.fd = find_descriptor(session.raw);
  session.running = true;
}

void cpu_profiler_flush() {
  if (!cpu_profiler_running()) throw CaptureError("the CPU profiler is not running; call yep.start() first");
  ProfilerFlush();
  if (session.running && !session.raw.empty()) {  // the samples so far, as gperftools wrote them
    write_atomically(session.file, read_own_file(session.raw), "the profile");
  }
}

void cpu_profiler_release_after_fork() {
  if (!session.running || session.owner == ::getpid()) return;
  stop_quietly();  // writes only to /dev/null: see after_fork_in_child
  session = Session{};
}

CpuProfileSummary cpu_profiler_stop() {
  if (session.running && session.owner != ::getpid())
    throw CaptureError("the CPU profile belongs to the parent process (pid " + std::to_string(session.owner) +
                       "), which writes it; a forked child is not profiled");
  if (!session.running) {
    if (cpu_profiler_running())
      throw CaptureError("the CPU profiler was started outside yep (CPUPROFILE?); stop it the way it was started");
    throw CaptureError("the CPU profiler is not running; call yep.start() first");
  }
  CpuProfileSummary s;
  if (!handler_is_libprofiler(current_handler())) s.timer_handler_replaced_by = signal_handler_owner(kSignal);
  s.path = session.path;
  s.wall_clock = kWallClock;
  s.requested_hz = session.requested_hz;
  session.clock.measure(s);
  stop_quietly();
  if (session.timer_overridden) setitimer(kTimer, &session.saved_timer, nullptr);
  session.running = false;
  try {
    finalize_profile(session.raw, session.file, s);
  } catch (const CaptureError&) {
    ::unlink(session.raw.c_str());
    throw;
  }
  ::unlink(session.raw.c_str());
  return s;
}

}  // namespace yep
