// The one way yep creates an output file (profiles at capture, reports,
// yep-convert -o, and every Python writer through yep/atomic_file.py), safe
// in a shared directory such as /tmp:
//  - a regular file (or a new one) is written whole or not at all: bytes go
//    to a temporary beside it, made with O_EXCL under an unpredictable name
//    (".NAME.XXXXXX.yep-tmp", mode 0600 until commit), renamed over the
//    path at commit; no symlink is followed while making it;
//  - a special file (a device such as /dev/null, a terminal, /dev/stdout,
//    a FIFO) is written directly and never replaced; a FIFO that no process
//    reads is an error, never a wait;
//  - a symbolic link, FIFO or file another user made in a sticky
//    world-writable folder (the kernel's protected_symlinks and
//    protected_fifos rules) is refused; the user's own links are followed
//    to their target (/dev/stdout to the terminal or pipe it names);
//  - a folder is refused.
// Errors are one line: "cannot write '<path>': <why>" (13 characters
// before the path's quote, which callers may reword).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace yep {

class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OutputFile {
 public:
  explicit OutputFile(const std::string& path);
  ~OutputFile();  // not committed: the temporary is removed, the path untouched
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int fd() const { return fd_; }
  // The temporary's path; "" when the special file is written directly.
  const std::string& temporary() const { return temporary_; }
  void write(std::string_view bytes);
  void commit();
  // Commits, and hands over the file's descriptor for appending to it later
  // (the caller closes it): a file that grows during a session (the heap
  // profiler's stacks file) without ever being opened by its path again.
  int commit_keeping_open();
  void abandon();

 private:
  [[noreturn]] void fail(int err) const;
  std::string path_, final_, temporary_;
  int fd_ = -1;
};

// Writes bytes to path as above; throws OutputError.
void write_output(const std::string& path, std::string_view bytes);

// A new empty file of this process's (mode 0600, O_EXCL, an unpredictable
// name) beside path, for a writer yep does not control (gperftools'
// profiler) to fill; the caller removes it. Throws OutputError.
std::string make_private_temporary(const std::string& path);

// At a profile's start, creating nothing and never blocking: whether the
// path could be written at its end (the folder writable, no planted link,
// not a folder). Throws OutputError.
void check_output(const std::string& path);

}  // namespace yep
