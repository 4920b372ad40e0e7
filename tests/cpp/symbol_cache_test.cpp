// Tests for yep::SymbolCache's file format and its rules on what it trusts:
// a round trip keeps everything; every truncation and every flipped byte of
// a real file is refused; stamps of changed files invalidate; the folder and
// files are private and others' are not read. (The symbolizer's output with
// and without the cache: tests/test_report_speed.py, on real profiles.)
#include "symbol_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace {

using yep::CacheContents;
using yep::CachedAnswer;
using yep::CachedFrame;

std::string TempFolder() {
  char templ[] = "/tmp/yep_symbol_cache_test.XXXXXX";
  const char* made = mkdtemp(templ);
  EXPECT_NE(made, nullptr);
  return made ? made : "";
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A cache for this test binary itself (any existing file will do as "object").
CacheContents Sample(const std::string& object) {
  CacheContents c;
  c.build_id = "0123456789abcdef0123456789abcdef01234567";
  c.sources = {yep::stamp_of(object), yep::stamp_of("/nonexistent/debug/file.debug")};
  CachedAnswer frames;
  frames.frames = {CachedFrame{"inner", "_Z5innerv", "/src/a.c", 10, 12},
                   CachedFrame{"", "", "", 0, 30}};  // no name: the fallback
  c.answers[0x1000] = frames;
  CachedAnswer unnamed;
  unnamed.unnamed = true;
  unnamed.entry = 0x1ff0;
  c.answers[0x2000] = unnamed;
  return c;
}

TEST(SymbolCacheFormat, RoundTripKeepsEverything) {
  const CacheContents c = Sample("/proc/self/exe");
  const auto back = yep::parse_symbol_cache(yep::serialize_symbol_cache(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->build_id, c.build_id);
  ASSERT_EQ(back->sources.size(), 2u);
  EXPECT_EQ(back->sources[0].size, c.sources[0].size);
  EXPECT_FALSE(back->sources[1].present);
  ASSERT_EQ(back->answers.size(), 2u);
  const CachedAnswer& a = back->answers.at(0x1000);
  ASSERT_EQ(a.frames.size(), 2u);
  EXPECT_EQ(a.frames[0].name, "inner");
  EXPECT_EQ(a.frames[0].system_name, "_Z5innerv");
  EXPECT_EQ(a.frames[0].filename, "/src/a.c");
  EXPECT_EQ(a.frames[0].start_line, 10);
  EXPECT_EQ(a.frames[0].line, 12);
  EXPECT_EQ(a.frames[1].line, 30);
  EXPECT_TRUE(back->answers.at(0x2000).unnamed);
  EXPECT_EQ(back->answers.at(0x2000).entry, 0x1ff0u);
}

TEST(SymbolCacheFormat, EveryTruncationAndFlippedByteIsRefused) {
  const std::string bytes = yep::serialize_symbol_cache(Sample("/proc/self/exe"));
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(yep::parse_symbol_cache(bytes.substr(0, n))) << n;
  EXPECT_FALSE(yep::parse_symbol_cache(bytes + "x"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    EXPECT_FALSE(yep::parse_symbol_cache(flipped)) << i;
  }
}

TEST(SymbolCacheFormat, ChangedFilesInvalidate) {
  const std::string folder = TempFolder();
  const std::string object = folder + "/libx.so", debug = folder + "/libx.debug";
  WriteFile(object, "object");
  CacheContents c = Sample(object);
  EXPECT_TRUE(yep::still_valid(c, object));
  WriteFile(object, "object, rebuilt");  // another size
  EXPECT_FALSE(yep::still_valid(c, object));
  c = Sample(object);
  WriteFile(debug, "debug info");  // a debug file that was absent appears
  c.sources[1] = yep::stamp_of(folder + "/absent.debug");
  EXPECT_TRUE(yep::still_valid(c, object));
  c.sources[1].path = debug;
  EXPECT_FALSE(yep::still_valid(c, object));
  EXPECT_FALSE(yep::still_valid(c, folder + "/absent.so"));
  ::unlink(object.c_str());
  ::unlink(debug.c_str());
  ::rmdir(folder.c_str());
}

TEST(SymbolCacheFiles, SavedPrivatelyAndLoadedBack) {
  const std::string root = TempFolder(), folder = root + "/yep/symbols";
  const std::string object = root + "/libx.so";
  WriteFile(object, "object");
  const yep::SymbolCache cache(folder);
  const CacheContents c = Sample(object);
  cache.save(c);
  struct stat st;
  ASSERT_EQ(::stat(folder.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const std::string file = folder + "/" + c.build_id + ".sym";
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(cache.load(c.build_id, object).size(), 2u);
  EXPECT_TRUE(cache.load("ab", object).empty());          // no such file
  EXPECT_TRUE(cache.load("../../etc", object).empty());   // not a build id
  // Writable by others: not read.
  ::chmod(file.c_str(), 0620);
  EXPECT_TRUE(cache.load(c.build_id, object).empty());
  ::chmod(file.c_str(), 0600);
  ::chmod(folder.c_str(), 0770);
  EXPECT_TRUE(cache.load(c.build_id, object).empty());
  ::chmod(folder.c_str(), 0700);
  EXPECT_EQ(cache.load(c.build_id, object).size(), 2u);
  // Another build id's file under this one's name: not used.
  CacheContents other = c;
  other.build_id = "ffff";
  WriteFile(file, yep::serialize_symbol_cache(other));
  ::chmod(file.c_str(), 0600);
  EXPECT_TRUE(cache.load(c.build_id, object).empty());
  EXPECT_EQ(std::system(("rm -rf " + root).c_str()), 0);
}

TEST(SymbolCacheFiles, OffAndRelativeFoldersDisable) {
  ::setenv("YEP_SYMBOL_CACHE", "off", 1);
  EXPECT_FALSE(yep::SymbolCache().enabled());
  ::setenv("YEP_SYMBOL_CACHE", "relative/folder", 1);
  EXPECT_FALSE(yep::SymbolCache().enabled());
  ::setenv("YEP_SYMBOL_CACHE", "/tmp/somewhere", 1);
  EXPECT_TRUE(yep::SymbolCache().enabled());
  ::unsetenv("YEP_SYMBOL_CACHE");
}

}  // namespace
