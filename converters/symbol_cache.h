// SymbolCache: the symbolizer's answers for one object file's addresses,
// kept on disk between runs, so that reporting again (another format, the
// same libraries in the next profile) does not read the same DWARF again:
// libc's compressed debug info and libpython's DWARF cost ~80 ms each.
//
// What it promises:
//  - One file per object, named by its build id, in
//    $YEP_SYMBOL_CACHE, else $XDG_CACHE_HOME/yep/symbols, else
//    ~/.cache/yep/symbols (absolute paths only); YEP_SYMBOL_CACHE=off, or a
//    relative path, turns the cache off. Objects without a build id are
//    never cached.
//  - Not noticed: a separate debug file that appears later where libdwfl
//    looks by .gnu_debuglink (beside the object or under /usr/lib/debug/<its
//    folder>) for an object whose answers came without one; by build id
//    (/usr/lib/debug/.build-id, as Debian's -dbg packages install) it is.
//  - An entry is used only when everything its answers came from is as it
//    was: the build id, the object file's size and modification time, and
//    the same (size, modification time, or absence) of the debug files
//    libdwfl may read for it (the build id's file under
//    /usr/lib/debug/.build-id, the one it did read) and whether debuginfod
//    was enabled (DEBUGINFOD_URLS). Otherwise the file is ignored and, once
//    the symbolizer has new answers, replaced.
//  - Reading never trusts the file: only a regular file of this user, not
//    group- or world-writable, in a folder of this user's that is not either,
//    at most kMaxCacheFileBytes; every length, count and the checksum are
//    checked, and a file that fails any check is ignored as if absent (never
//    a crash, never a wrong answer from it).
//  - Writing is atomic (output_file.h: a private temporary renamed over the
//    file, mode 0600), at most kMaxCacheEntries addresses a file; the folder
//    (made 0700) is kept under kMaxCacheFolderBytes by removing the least
//    recently written files. Failures to write are silent: the cache only
//    saves time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yep {

constexpr size_t kMaxCacheFileBytes = size_t{8} << 20;
constexpr size_t kMaxCacheFolderBytes = size_t{64} << 20;
constexpr size_t kMaxCacheEntries = 100000;

// One frame of an answer. An empty name stands for the symbolizer's
// fallback name of the address ("<object>+0x<address>"), which depends on the
// mapping's path, not on the object.
struct CachedFrame {
  std::string name, system_name, filename;
  int64_t start_line = 0, line = 0;
};

// What the symbolizer found at an ELF address: frames (innermost first), or,
// when unnamed, the entry of the function that holds it (the fallback name
// and the profile's own hints are applied by the symbolizer).
struct CachedAnswer {
  bool unnamed = false;
  uint64_t entry = 0;
  std::vector<CachedFrame> frames;
};

// A file the answers depend on, as it was: absent, or its size and mtime.
struct FileStamp {
  std::string path;
  bool present = false;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
FileStamp stamp_of(const std::string& path);

// The contents of one cache file.
struct CacheContents {
  std::string build_id;
  bool debuginfod = false;
  std::vector<FileStamp> sources;  // the object file first (its path not compared)
  std::map<uint64_t, CachedAnswer> answers;  // by ELF address
};

// Bytes of a cache file, and back; parse returns nullopt for anything that
// is not exactly what serialize writes (the fuzz target's entry point).
std::string serialize_symbol_cache(const CacheContents& contents);
std::optional<CacheContents> parse_symbol_cache(std::string_view bytes);

// Whether contents' sources are as they are now (the object as `object`).
bool still_valid(const CacheContents& contents, const std::string& object);

class SymbolCache {
 public:
  // The folder from the environment (see above); disabled when off or when no
  // folder can be named.
  SymbolCache();
  explicit SymbolCache(std::string folder);  // "" = disabled

  bool enabled() const { return !folder_.empty(); }
  // The cached answers for this build id, valid for the object file at
  // `object`; empty when there are none.
  std::map<uint64_t, CachedAnswer> load(const std::string& build_id, const std::string& object) const;
  // Replaces the build id's file with these contents. Never throws.
  void save(const CacheContents& contents) const;

 private:
  std::string file_for(const std::string& build_id) const;
  bool folder_is_safe(bool create) const;
  void prune() const;
  std::string folder_;
};

}  // namespace yep
