#include "input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "profile.h"  // ProfileError

namespace yep {
namespace {

std::string size_text(size_t bytes) {
  return bytes >= (size_t{1} << 30) ? std::to_string(bytes >> 30) + " GiB" : std::to_string(bytes >> 20) + " MiB";
}

// Opens a regular file of at most limit bytes; -1 and why otherwise.
int open_regular(const std::string& path, size_t limit, bool no_follow, size_t& size, bool& missing,
                 std::string& why) {
  // O_NONBLOCK: opening a FIFO returns at once (it is then refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (no_follow ? O_NOFOLLOW : 0));
  if (fd < 0) {
    missing = errno == ENOENT;
    why = errno == ENOENT ? "no such file" : no_follow && errno == ELOOP ? "a symbolic link" : std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    why = S_ISDIR(st.st_mode) ? "a folder, not a file" : "not a regular file (a device, FIFO or socket)";
    return -1;
  }
  if (static_cast<size_t>(st.st_size) > limit) {
    ::close(fd);
    why = "larger than " + size_text(limit);
    return -1;
  }
  size = static_cast<size_t>(st.st_size);
  return fd;
}

// Reads the `size` bytes of an open file (fewer if it shrank meanwhile).
bool read_whole(int fd, size_t size, std::string& bytes, std::string& why) {
  bytes.assign(size, '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, &bytes[done], bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = std::string("read error: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) break;  // shrank meanwhile
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return true;
}

// Reads a regular file of at most limit bytes; "" in why on success.
bool read_regular(const std::string& path, size_t limit, std::string& bytes, std::string& why) {
  size_t size = 0;
  bool missing = false;
  const int fd = open_regular(path, limit, false, size, missing, why);
  if (fd < 0) return false;
  const bool ok = read_whole(fd, size, bytes, why);
  ::close(fd);
  return ok;
}

bool has_source_extension(const std::string& path) {
  static const char* const kExtensions[] = {
      // Python and Cython
      ".py", ".pyw", ".pyi", ".pyx", ".pxd", ".pxi",
      // C, C++, CUDA, Objective-C, assembly
      ".c", ".h", ".cc", ".cp", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".tcc", ".inc",
      ".inl", ".def", ".C", ".H", ".cu", ".cuh", ".m", ".mm", ".s", ".S", ".asm",
      // Fortran, Rust, Go, Zig, D
      ".f", ".for", ".f77", ".f90", ".f95", ".f03", ".f08", ".F", ".FOR", ".F90", ".F95", ".F03", ".F08",
      ".rs", ".go", ".zig", ".d"};
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
  const std::string ext = path.substr(dot);
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 4;
    if (n == 4 || i + n >= s.size() + (n ? 0 : 1)) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

std::string read_input(const std::string& path, size_t limit) {
  std::string bytes, why;
  if (!read_regular(path, limit, bytes, why)) throw ProfileError(path + ": " + why);
  return bytes;
}

InputFile::InputFile(const std::string& path, size_t limit, bool no_follow) : path_(path), limit_(limit) {
  fd_ = open_regular(path, limit, no_follow, size_, missing_, why_);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t InputFile::read_at(uint64_t offset, char* to, size_t n) const {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, to + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw ProfileError(path_ + ": read error: " + std::strerror(errno));
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

std::string InputFile::head(size_t n) const {
  std::string bytes(n, '\0');
  bytes.resize(read_at(0, &bytes[0], n));
  return bytes;
}

std::string InputFile::read_all() const {
  std::string bytes, why;
  if (::lseek(fd_, 0, SEEK_SET) != 0 || !read_whole(fd_, size_, bytes, why))
    throw ProfileError(path_ + ": " + (why.empty() ? std::string("read error: ") + std::strerror(errno) : why));
  return bytes;
}

namespace {
constexpr size_t kChunkBytes = size_t{1} << 20;
}

LineReader::LineReader(std::string_view text, std::string name) : name_(std::move(name)), text_(text) {}

LineReader::LineReader(const InputFile& file) : file_(&file), name_(file.path()) {}

void LineReader::rewind() {
  start_ = scanned_ = line_number_ = 0;
  ended_ = false;
  if (!file_) return;
  buffer_.clear();
  text_ = {};
  offset_ = 0;
  eof_ = false;
}

bool LineReader::fill() {
  if (eof_) return false;
  buffer_.erase(0, start_);  // the lines given already
  scanned_ -= start_;
  start_ = 0;
  const size_t kept = buffer_.size();
  buffer_.resize(kept + kChunkBytes);
  const size_t n = file_->read_at(offset_, &buffer_[kept], kChunkBytes);
  buffer_.resize(kept + n);
  text_ = buffer_;
  offset_ += n;
  if (offset_ > file_->limit()) throw ProfileError(name_ + ": larger than " + size_text(file_->limit()));
  eof_ = n == 0;
  return !eof_;
}

bool LineReader::next(std::string_view& line) {
  while (true) {
    const size_t nl = text_.find('\n', scanned_);
    const bool at_end = nl == std::string_view::npos && (!file_ || eof_);
    if (nl != std::string_view::npos || at_end) {
      const size_t end = at_end ? text_.size() : nl;
      if (at_end && start_ == end) return false;
      if (end - start_ > kMaxLineBytes) break;
      line = text_.substr(start_, end - start_);
      start_ = scanned_ = at_end ? end : end + 1;
      ended_ = !at_end;
      ++line_number_;
      return true;
    }
    scanned_ = text_.size();
    if (scanned_ - start_ > kMaxLineBytes) break;
    fill();
  }
  throw ProfileError(name_ + ": line " + std::to_string(line_number_ + 1) + " is longer than " +
                     size_text(kMaxLineBytes) + ": not a profile yep reads (a corrupt or foreign file?)");
}

std::optional<std::vector<std::string>> read_source_lines(const std::string& path, std::string& why) {
  if (!has_source_extension(path)) {
    why = "not a source file name";
    return std::nullopt;
  }
  std::string bytes;
  if (!read_regular(path, kMaxSourceBytes, bytes, why)) return std::nullopt;
  if (bytes.find('\0') != std::string::npos || !valid_utf8(bytes)) {
    why = "not source text";
    return std::nullopt;
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

}  // namespace yep
