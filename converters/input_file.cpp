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

// Reads a regular file of at most limit bytes; "" in why on success.
bool read_regular(const std::string& path, size_t limit, std::string& bytes, std::string& why) {
  // O_NONBLOCK: opening a FIFO returns at once (it is then refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    why = errno == ENOENT ? "no such file" : std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    why = S_ISDIR(st.st_mode) ? "a folder, not a file" : "not a regular file (a device, FIFO or socket)";
    return false;
  }
  if (static_cast<size_t>(st.st_size) > limit) {
    ::close(fd);
    why = "larger than " + size_text(limit);
    return false;
  }
  bytes.assign(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, &bytes[done], bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = std::string("read error: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;  // shrank meanwhile
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  ::close(fd);
  return true;
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
