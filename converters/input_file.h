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
#include <optional>
#include <string>
#include <vector>

namespace yep {

constexpr size_t kMaxProfileBytes = size_t{16} << 30;
constexpr size_t kMaxSourceBytes = size_t{16} << 20;

// The file's bytes; throws ProfileError "<path>: <why>" for a missing,
// unreadable, special or too large file.
std::string read_input(const std::string& path, size_t limit);

// The source file's lines, or nullopt with the reason it is not shown
// ("not found", "not a regular file", "larger than 16 MiB", "not source text").
std::optional<std::vector<std::string>> read_source_lines(const std::string& path, std::string& why);

}  // namespace yep
