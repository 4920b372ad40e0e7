#include "output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace yep {
namespace {

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw OutputError("cannot write '" + path + "': " + why);
}

// The process's umask, read without changing it (umask() would, racing
// with the program's threads).
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  return 022;
}

bool is_special(mode_t mode) { return S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode) || S_ISSOCK(mode); }

// What the path names, links resolved unless one was planted: the path to
// write (a link's target, or the path itself) and its status (st_mode 0
// when nothing is there).
struct Target {
  std::string path;
  struct stat st {};
};

Target resolve(const std::string& path) {
  if (path.empty()) refuse(path, "the path is empty");
  if (path.find('\0') != std::string::npos) refuse(path, "the path holds a NUL byte");
  Target t{path, {}};
  if (::lstat(path.c_str(), &t.st) != 0) {
    if (errno != ENOENT) refuse(path, std::strerror(errno));
    t.st.st_mode = 0;
    return t;
  }
  // The kernel's protected_symlinks/protected_fifos rule, for every kind
  // of entry: in a sticky world-writable folder, one another user made
  // (not the folder's owner) is theirs, never used.
  struct stat folder {};
  if (::stat(folder_of(path).c_str(), &folder) == 0 && (folder.st_mode & S_ISVTX) && (folder.st_mode & S_IWOTH) &&
      t.st.st_uid != ::geteuid() && t.st.st_uid != folder.st_uid)
    refuse(path, std::string(S_ISLNK(t.st.st_mode) ? "it is a symbolic link" : "it is a file") +
                     " another user made in the shared folder " + folder_of(path) +
                     ", not " + (S_ISLNK(t.st.st_mode) ? "followed" : "used") + "; remove it or write elsewhere");
  if (S_ISLNK(t.st.st_mode)) {
    struct stat target {};
    if (::stat(path.c_str(), &target) != 0) {
      t.st.st_mode = 0;  // a dangling link of the user's: replaced by the file
      return t;
    }
    char resolved[PATH_MAX];
    if (S_ISREG(target.st_mode) && ::realpath(path.c_str(), resolved)) return resolve(resolved);
    t.st = target;  // a device, FIFO or folder through the user's link (/dev/stdout): opened through it
  }
  if (S_ISDIR(t.st.st_mode)) refuse(path, std::strerror(EISDIR));
  return t;
}

}  // namespace

OutputFile::OutputFile(const std::string& path) : path_(path) {
  const Target t = resolve(path);
  final_ = t.path;
  if (is_special(t.st.st_mode)) {
    // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of waiting.
    fd_ = ::open(final_.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      if (errno == ENXIO && S_ISFIFO(t.st.st_mode)) refuse(path, "it is a FIFO that no process reads; start the reader first");
      fail(errno);
    }
    struct stat opened {};
    if (::fstat(fd_, &opened) != 0 || !is_special(opened.st_mode)) {  // swapped since: start over
      ::close(fd_);
      fd_ = -1;
      refuse(path, "it changed while being opened");
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    return;
  }
  temporary_ = make_private_temporary(final_);
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd_ < 0) {
    const int err = errno;
    abandon();
    fail(err);
  }
  const mode_t mode = S_ISREG(t.st.st_mode) ? (t.st.st_mode & 07777) : (0666 & ~current_umask());
  ::fchmod(fd_, mode);
}

OutputFile::~OutputFile() { abandon(); }

void OutputFile::abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
}

void OutputFile::fail(int err) const {
  if (err == ENOSPC) refuse(path_, "no space left on the device");
  refuse(path_, std::strerror(err));
}

void OutputFile::write(std::string_view bytes) {
  if (fd_ < 0) refuse(path_, "the file is closed");
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      abandon();
      fail(err);
    }
    done += static_cast<size_t>(n);
  }
}

void OutputFile::commit() {
  if (fd_ < 0) refuse(path_, "the file is closed");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    abandon();
    fail(err);
  }
  if (temporary_.empty()) return;
  if (::rename(temporary_.c_str(), final_.c_str()) != 0) {
    const int err = errno;
    abandon();
    fail(err);
  }
  temporary_.clear();
}

int OutputFile::commit_keeping_open() {
  if (fd_ < 0) refuse(path_, "the file is closed");
  if (!temporary_.empty() && ::rename(temporary_.c_str(), final_.c_str()) != 0) {
    const int err = errno;
    abandon();
    fail(err);
  }
  temporary_.clear();
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void write_output(const std::string& path, std::string_view bytes) {
  OutputFile out(path);
  out.write(bytes);
  out.commit();
}

std::string make_private_temporary(const std::string& path) {
  std::string templ = folder_of(path) + "/." + name_of(path) + ".XXXXXX.yep-tmp";
  const int fd = ::mkostemps(&templ[0], 8, O_CLOEXEC);
  if (fd < 0) refuse(path, std::strerror(errno));
  ::close(fd);
  return templ;
}

void check_output(const std::string& path) {
  const Target t = resolve(path);
  if (is_special(t.st.st_mode)) return;  // opened at the end: a FIFO's reader may come later
  ::unlink(make_private_temporary(t.path).c_str());
}

}  // namespace yep
