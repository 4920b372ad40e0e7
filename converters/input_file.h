// The one way yep reads a file a profile or the user names: only a regular
// file (never a FIFO, which would block, nor a device such as /dev/zero,
// which never ends), and never more than a limit.
//  - profiles: up to kMaxProfileBytes;
//  - source files a report prints (--format source): up to kMaxSourceBytes,
//    and only what looks like source text of a language yep reports
//    (a known source file extension, text without NUL bytes, in UTF-8):
//    a profile naming /etc/shadow or a binary gets "not shown", never its
//    contents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yep {

constexpr size_t kMaxProfileBytes = size_t{16} << 30;
constexpr size_t kMaxSourceBytes = size_t{16} << 20;

// The file's bytes; throws ProfileError "<path>: <why>" for a missing,
// unreadable, special or too large file.
std::string read_input(const std::string& path, size_t limit);

// A regular file opened once (the checks of read_input), for readers that
// look at its first bytes, then read it whole or line by line.
class InputFile {
 public:
  // Opens `path`; on failure ok() is false and why() says why ("no such
  // file", "a symbolic link", ...). no_follow: a symbolic link is refused
  // (for a file named inside another file, never followed).
  InputFile(const std::string& path, size_t limit, bool no_follow = false);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool missing() const { return missing_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }
  size_t limit() const { return limit_; }

  // Up to n bytes at `offset`, fewer at the end; throws ProfileError
  // "<path>: read error: ..." on an I/O error.
  size_t read_at(uint64_t offset, char* to, size_t n) const;
  // The first n bytes (fewer in a shorter file).
  std::string head(size_t n) const;
  // The whole file, as read_input gives it.
  std::string read_all() const;

 private:
  std::string path_;
  int fd_ = -1;
  size_t limit_ = 0, size_ = 0;
  bool missing_ = false;
  std::string why_;
};

// Longer lines are refused: a reader's memory holds one line at a time.
constexpr size_t kMaxLineBytes = size_t{16} << 20;

// The lines of a text in memory, or of a file read 1 MiB at a time (so
// that the file is never held whole, only its current line and a chunk).
class LineReader {
 public:
  // `name` goes in error messages.
  LineReader(std::string_view text, std::string name);
  explicit LineReader(const InputFile& file);

  // The next line without its '\n', valid until the next call; false at the
  // end. Throws ProfileError for a line longer than kMaxLineBytes.
  bool next(std::string_view& line);
  // Whether the line next() gave ended with '\n' (a file's last may not).
  bool ended() const { return ended_; }
  // The number of the line next() gave, from 1.
  size_t line_number() const { return line_number_; }
  // Back to the first line.
  void rewind();

 private:
  bool fill();  // reads one more chunk into buffer_; false at the end of the file

  const InputFile* file_ = nullptr;
  std::string name_;
  std::string_view text_;  // in memory: the text; from a file: buffer_ (from the current line on)
  std::string buffer_;
  size_t start_ = 0;    // in text_: the next line's start
  size_t scanned_ = 0;  // in text_: [start_, scanned_) holds no '\n'
  uint64_t offset_ = 0;  // the file offset of buffer_'s end
  bool eof_ = false, ended_ = false;
  size_t line_number_ = 0;
};

// The source file's lines, or nullopt with the reason it is not shown
// ("not found", "not a regular file", "larger than 16 MiB", "not source text").
std::optional<std::vector<std::string>> read_source_lines(const std::string& path, std::string& why);

}  // namespace yep
