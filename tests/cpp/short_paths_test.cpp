#include <gtest/gtest.h>

#include "short_paths.h"

using yep::ShortPaths;

TEST(ShortPaths, AFileAloneWithItsNameIsJustTheName) {
  ShortPaths paths({"/home/u/work.py", "/usr/lib/python3.11/json/decoder.py", "", "hotcold.c"});
  EXPECT_EQ(paths("/home/u/work.py"), "work.py");
  EXPECT_EQ(paths("/usr/lib/python3.11/json/decoder.py"), "decoder.py");
  EXPECT_EQ(paths("hotcold.c"), "hotcold.c");
  EXPECT_EQ(paths(""), "");
}

TEST(ShortPaths, FilesOfOneNameGetTheShortestTailThatTellsThemApart) {
  ShortPaths paths({"/home/u/pool.py", "/usr/lib/python3.11/multiprocessing/pool.py", "/home/u/a/util.py",
                    "/home/u/b/util.py", "/x/a/util.py", "/home/u/work.py", "/home/u/work.py"});
  EXPECT_EQ(paths("/home/u/pool.py"), "u/pool.py");
  EXPECT_EQ(paths("/usr/lib/python3.11/multiprocessing/pool.py"), "multiprocessing/pool.py");
  EXPECT_EQ(paths("/home/u/a/util.py"), "u/a/util.py");  // a/util.py is /x/a/util.py's too
  EXPECT_EQ(paths("/x/a/util.py"), "x/a/util.py");
  EXPECT_EQ(paths("/home/u/b/util.py"), "b/util.py");
  EXPECT_EQ(paths("/home/u/work.py"), "work.py");  // the same file twice is one file
}

TEST(ShortPaths, APathThatIsTheTailOfAnotherStaysWhole) {
  ShortPaths paths({"/a/pool.py", "/b/a/pool.py", "pool.py"});
  EXPECT_EQ(paths("/a/pool.py"), "/a/pool.py");
  EXPECT_EQ(paths("/b/a/pool.py"), "b/a/pool.py");
  EXPECT_EQ(paths("pool.py"), "pool.py");
}
