// What every profile file the capture side writes needs: the text of
// /proc/self/maps (gperftools' formats end with it), the build ids of the
// loaded objects (so that a report made where an object was rebuilt since
// can tell), and a write that leaves the whole file or nothing (see
// converters/output_file.h: a private temporary renamed over PATH, a
// special file written directly, no planted link followed).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mapped_allocator.h"

namespace yep {

// The process's memory maps now ("" if /proc is not readable). This and the
// build ids are built outside malloc (mapped_allocator.h says why).
MappedString read_self_maps();

// A file yep wrote (gperftools' raw CPU profile), read outside malloc ("" if
// it cannot be read).
MappedString read_own_file(const std::string& path);

// One "# yep-build-id:\t<address>\t<build id>" line (both in hex) per loaded
// object that has a GNU build id, the address one inside its first loaded
// segment (converters/proc_maps.h gives the id to that object's mappings).
// Read from the objects' notes in memory: no file is opened.
MappedString read_self_build_ids();

// Whether PATH could be written at stop, creating nothing and never
// blocking, so a start fails at once on a path it could never write.
// Throws CaptureError "cannot write '<path>': ...".
void check_writable(const std::string& path);

// Throws CaptureError "cannot write <what> '<path>': <reason>".
void write_atomically(const std::string& path, std::string_view bytes, const std::string& what);

class OutputFile;

// A profile file too big to build whole in memory (a heap dump can be
// gigabytes): it is written in pieces, all or nothing as write_atomically.
// Append to text(), then call flush_if_full(); its mapped buffer is written
// out whenever it holds a MiB. Errors: CaptureError as write_atomically.
class ProfileFileWriter {
 public:
  ProfileFileWriter(const std::string& path, const std::string& what);
  ~ProfileFileWriter();  // not committed: nothing is left at the path
  MappedString& text() { return text_; }
  void flush_if_full();
  void commit();
  // Commits and returns the file's descriptor for later appends (append_to).
  int commit_keeping_open();

 private:
  void flush();
  std::string what_;
  std::unique_ptr<OutputFile> file_;
  MappedString text_;
};

// Appends bytes to a file committed with commit_keeping_open; throws
// CaptureError "cannot write <what>: <reason>".
void append_to(int fd, std::string_view bytes, const std::string& what);

}  // namespace yep
