// yep's wrapper around gperftools' CPU profiler (libprofiler), used by the
// extension module. It adds what ProfilerStart/ProfilerStop do not do:
//  - refuses to start twice, to stop when not started, to write to a path
//    that cannot be written, and to run when another SIGPROF/SIGALRM handler
//    owns the timer signal (gperftools would silently record nothing);
//  - applies a sampling frequency chosen at start (gperftools reads
//    CPUPROFILE_FREQUENCY only once, when it is loaded);
//  - makes the profile tell the truth about time: the kernel tick caps
//    CPU-time sampling (about 250 Hz here), so at stop the header's period is
//    rewritten to (measured CPU or wall seconds) / samples, and a
//    "# yep: ..." record with the requested and achieved rates is appended
//    after the maps. Every reader (yep, google-pprof, go tool pprof) then
//    reports seconds that match getrusage.
// The file is rewritten atomically (temporary file + rename).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <time.h>

namespace yep {

// A user mistake or an environment problem; the message is one line.
class CaptureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CpuProfileSummary {
  std::string path;
  bool wall_clock = false;     // timer counts wall time, not CPU time
  int64_t samples = 0;
  double requested_hz = 0;
  double achieved_hz = 0;      // samples / measured seconds; 0 if no samples
  double cpu_seconds = 0;      // process CPU time between start and stop
  double wall_seconds = 0;
  // Who replaced the timer signal's handler while the profile ran ("" if
  // nobody did): its samples stop there, so the period stays the asked one
  // (the record says timer_handler=replaced) and the owner is named.
  std::string timer_handler_replaced_by;
};

// The clocks a CPU profile's summary is measured with, read at its start.
struct ProfileClock {
  timespec cpu{}, wall{}, unix_time{};  // process CPU, monotonic, Unix
  static ProfileClock start();
  // Sets s.cpu_seconds and s.wall_seconds to the time since the start.
  void measure(CpuProfileSummary& s) const;
  double unix_seconds() const { return unix_time.tv_sec + unix_time.tv_nsec / 1e9; }
};

// yep's "# yep: key=value ..." record that follows the maps of a CPU
// profile (see cpu_profile_reader.h); `extra` is appended as is (" key=value").
std::string cpu_profile_record(const CpuProfileSummary& s, double start_unix, const std::string& extra);

// frequency <= 0 keeps gperftools' own (CPUPROFILE_FREQUENCY or 100 Hz).
void cpu_profiler_start(const std::string& path, double frequency);
CpuProfileSummary cpu_profiler_stop();
void cpu_profiler_flush();
// In a forked child, drops the profiler state inherited from the parent
// without touching the parent's file; the child may then profile itself.
void cpu_profiler_release_after_fork();
bool cpu_profiler_running();
// Samples gperftools' profiler has gathered so far (0 when it is not running).
long long cpu_profiler_samples();
// The file the running CPU profiler writes to ("" when none is running).
std::string cpu_profiler_path();
// True when no profiler samples and `signal` (SIGPROF or SIGALRM) has its
// default handler or libprofiler's idle one (which another sampler may
// borrow and give back).
bool timer_signal_is_free(int signal);
// True when libprofiler was loaded in wall-clock mode (CPUPROFILE_REALTIME).
bool cpu_profiler_wall_clock();

}  // namespace yep
