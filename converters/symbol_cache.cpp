// SymbolCache: see symbol_cache.h for what it promises.
//
// A cache file, all integers little-endian:
//   "YEPSYMC2"
//   str build_id, u8 debuginfod
//   u32 n, n x (str path, u8 present, u64 size, i64 mtime_ns)       sources
//   u32 n, n x (u64 address, u8 unnamed, unnamed ? u64 entry
//               : u32 k, k x (str name, str system_name, str filename,
//                             i64 start_line, i64 line))          addresses ascending
//   u32 crc32 of everything before it
// where str is u32 length + bytes.
#include "symbol_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "output_file.h"

namespace yep {
namespace {

constexpr char kMagic[] = "YEPSYMC2";
constexpr size_t kMagicSize = 8;
constexpr uint32_t kMaxString = 1u << 20;
constexpr uint32_t kMaxSources = 16;
constexpr uint32_t kMaxFrames = 256;
constexpr const char* kSuffix = ".sym";

// ---- encoding --------------------------------------------------------------

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

// Reads what put_* wrote; any read past the end or over a limit sets ok = false
// and yields zeros, so a caller checks ok once per record.
struct Cursor {
  std::string_view bytes;
  size_t at = 0;
  bool ok = true;

  bool take(size_t n) {
    if (!ok || bytes.size() - at < n) return ok = false;
    at += n;
    return true;
  }
  uint64_t u64() {
    if (!take(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[at - 8 + i])} << (8 * i);
    return v;
  }
  uint32_t u32() {
    if (!take(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(bytes[at - 4 + i])} << (8 * i);
    return v;
  }
  bool flag() {
    if (!take(1)) return false;
    const unsigned char v = static_cast<unsigned char>(bytes[at - 1]);
    if (v > 1) ok = false;
    return v == 1;
  }
  std::string str() {
    const uint32_t n = u32();
    if (n > kMaxString || !take(n)) return ok = false, std::string();
    return std::string(bytes.substr(at - n, n));
  }
};

bool is_build_id(const std::string& id) {
  return id.size() >= 2 && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

uint32_t checksum(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes a uInt length: feed large inputs in pieces.
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = std::min<size_t>(bytes.size() - at, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
    at += n;
  }
  return static_cast<uint32_t>(crc);
}

bool same_stamp(const FileStamp& a, const FileStamp& b) {
  return a.present == b.present && (!a.present || (a.size == b.size && a.mtime_ns == b.mtime_ns));
}

bool debuginfod_enabled() {
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  return urls != nullptr && *urls != '\0';
}

// The folder the environment names for the cache, "" for none.
std::string folder_from_environment() {
  if (const char* own = std::getenv("YEP_SYMBOL_CACHE"); own != nullptr && *own != '\0') {
    if (std::strcmp(own, "off") == 0 || own[0] != '/') return "";
    return own;
  }
  // The XDG base directory spec: a relative XDG_CACHE_HOME is ignored.
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/')
    return std::string(xdg) + "/yep/symbols";
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
    return std::string(home) + "/.cache/yep/symbols";
  return "";
}

// A folder of this user's that no one else can write to.
bool is_private_folder(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
         (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

}  // namespace

FileStamp stamp_of(const std::string& path) {
  FileStamp stamp;
  stamp.path = path;
  struct stat st;
  if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
    stamp.present = true;
    stamp.size = static_cast<uint64_t>(st.st_size);
    stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  return stamp;
}

std::string serialize_symbol_cache(const CacheContents& c) {
  std::string out(kMagic, kMagicSize);
  put_str(out, c.build_id);
  out += static_cast<char>(c.debuginfod);
  put_u32(out, static_cast<uint32_t>(c.sources.size()));
  for (const FileStamp& s : c.sources) {
    put_str(out, s.path);
    out += static_cast<char>(s.present);
    put_u64(out, s.size);
    put_u64(out, static_cast<uint64_t>(s.mtime_ns));
  }
  put_u32(out, static_cast<uint32_t>(c.answers.size()));
  for (const auto& [address, answer] : c.answers) {
    put_u64(out, address);
    out += static_cast<char>(answer.unnamed);
    if (answer.unnamed) {
      put_u64(out, answer.entry);
      continue;
    }
    put_u32(out, static_cast<uint32_t>(answer.frames.size()));
    for (const CachedFrame& f : answer.frames) {
      put_str(out, f.name);
      put_str(out, f.system_name);
      put_str(out, f.filename);
      put_u64(out, static_cast<uint64_t>(f.start_line));
      put_u64(out, static_cast<uint64_t>(f.line));
    }
  }
  put_u32(out, checksum(out));
  return out;
}

std::optional<CacheContents> parse_symbol_cache(std::string_view bytes) {
  if (bytes.size() < kMagicSize + 4 || bytes.size() > kMaxCacheFileBytes ||
      bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize))
    return std::nullopt;
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  Cursor tail{bytes, body.size()};
  if (tail.u32() != checksum(body)) return std::nullopt;

  Cursor in{body, kMagicSize};
  CacheContents c;
  c.build_id = in.str();
  c.debuginfod = in.flag();
  if (!in.ok || !is_build_id(c.build_id)) return std::nullopt;
  const uint32_t sources = in.u32();
  if (!in.ok || sources == 0 || sources > kMaxSources) return std::nullopt;
  for (uint32_t i = 0; i < sources; ++i) {
    FileStamp s;
    s.path = in.str();
    s.present = in.flag();
    s.size = in.u64();
    s.mtime_ns = static_cast<int64_t>(in.u64());
    if (!in.ok) return std::nullopt;
    c.sources.push_back(std::move(s));
  }
  const uint32_t count = in.u32();
  if (!in.ok || count > kMaxCacheEntries) return std::nullopt;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t address = in.u64();
    // Ascending and unique, as serialize writes them: the map gets one answer each.
    if (!in.ok || (!c.answers.empty() && address <= c.answers.rbegin()->first)) return std::nullopt;
    CachedAnswer answer;
    answer.unnamed = in.flag();
    if (answer.unnamed) {
      answer.entry = in.u64();
    } else {
      const uint32_t frames = in.u32();
      if (!in.ok || frames == 0 || frames > kMaxFrames) return std::nullopt;
      for (uint32_t k = 0; k < frames && in.ok; ++k) {
        CachedFrame f;
        f.name = in.str();
        f.system_name = in.str();
        f.filename = in.str();
        f.start_line = static_cast<int64_t>(in.u64());
        f.line = static_cast<int64_t>(in.u64());
        answer.frames.push_back(std::move(f));
      }
    }
    if (!in.ok) return std::nullopt;
    c.answers.emplace_hint(c.answers.end(), address, std::move(answer));
  }
  if (!in.ok || in.at != body.size()) return std::nullopt;
  return c;
}

bool still_valid(const CacheContents& c, const std::string& object) {
  if (c.debuginfod != debuginfod_enabled() || c.sources.empty()) return false;
  if (!same_stamp(c.sources[0], stamp_of(object))) return false;
  for (size_t i = 1; i < c.sources.size(); ++i)
    if (!same_stamp(c.sources[i], stamp_of(c.sources[i].path))) return false;
  return true;
}

SymbolCache::SymbolCache() : folder_(folder_from_environment()) {}
SymbolCache::SymbolCache(std::string folder) : folder_(std::move(folder)) {}

std::string SymbolCache::file_for(const std::string& build_id) const {
  return folder_ + "/" + build_id + kSuffix;
}

bool SymbolCache::folder_is_safe(bool create) const {
  if (create) {
    // Each missing level made private (0700); existing ones left as they are.
    for (size_t slash = folder_.find('/', 1);; slash = folder_.find('/', slash + 1)) {
      const std::string level = folder_.substr(0, slash);
      if (::mkdir(level.c_str(), 0700) != 0 && errno != EEXIST) return false;
      if (slash == std::string::npos) break;
    }
  }
  return is_private_folder(folder_);
}

std::map<uint64_t, CachedAnswer> SymbolCache::load(const std::string& build_id, const std::string& object) const {
  if (!enabled() || !is_build_id(build_id) || !folder_is_safe(false)) return {};
  const int fd = ::open(file_for(build_id).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return {};
  std::string bytes;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
      (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 && static_cast<uint64_t>(st.st_size) <= kMaxCacheFileBytes) {
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, &bytes[done], bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    bytes.resize(done);
  }
  ::close(fd);
  std::optional<CacheContents> contents = parse_symbol_cache(bytes);
  if (!contents || contents->build_id != build_id || !still_valid(*contents, object)) return {};
  return std::move(contents->answers);
}

void SymbolCache::save(const CacheContents& contents) const {
  if (!enabled() || !is_build_id(contents.build_id) || contents.answers.size() > kMaxCacheEntries) return;
  const std::string bytes = serialize_symbol_cache(contents);
  if (bytes.size() > kMaxCacheFileBytes || !folder_is_safe(true)) return;
  try {
    OutputFile out(file_for(contents.build_id));
    if (!out.temporary().empty()) ::fchmod(out.fd(), 0600);
    out.write(bytes);
    if (out.temporary().empty()) return;  // a special file planted there: never written through
    out.commit();
  } catch (const OutputError&) {
    return;
  }
  prune();
}

// Removes the least recently written cache files while the folder holds more
// than kMaxCacheFolderBytes.
void SymbolCache::prune() const {
  DIR* dir = ::opendir(folder_.c_str());
  if (dir == nullptr) return;
  struct Entry {
    int64_t mtime_ns;
    std::string path;
    uint64_t size;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    const size_t suffix = std::strlen(kSuffix);
    if (name.size() <= suffix || name.compare(name.size() - suffix, suffix, kSuffix) != 0) continue;
    const std::string path = folder_ + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    entries.push_back({static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, path,
                       static_cast<uint64_t>(st.st_size)});
    total += static_cast<uint64_t>(st.st_size);
  }
  ::closedir(dir);
  if (total <= kMaxCacheFolderBytes) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.mtime_ns < b.mtime_ns; });
  for (const Entry& e : entries) {
    if (total <= kMaxCacheFolderBytes) break;
    if (::unlink(e.path.c_str()) == 0) total -= e.size;
  }
}

}  // namespace yep
