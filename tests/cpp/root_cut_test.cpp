// python/root_cut.h on made-up merged stacks, leaf first. Frames are
// letters: R the root (the CLI's runner), r a runpy frame, E an eval-loop
// native frame, n another native frame, P a frame of the program.
#include "root_cut.h"

#include <gtest/gtest.h>

#include <string>

namespace {

size_t cut(const std::string& stack) {
  std::basic_string<uint64_t> frames(stack.begin(), stack.end());
  return yep::depth_above_root(
      frames.data(), frames.size(), [](uint64_t f) { return f == 'R'; }, [](uint64_t f) { return f == 'r'; },
      [](uint64_t f) { return f == 'P' || f == 'r' || f == 'R'; }, [](uint64_t f) { return f == 'E'; });
}

TEST(RootCut, TheScriptStartsAtItsModuleOnTheEvalFrameRunningIt) {
  // <module> -> eval -> exec's natives -> runpy -> runner
  EXPECT_EQ(cut("nPPEnnrrrRnE"), 4u);
}

TEST(RootCut, AStackWithoutTheRootIsKeptWhole) { EXPECT_EQ(cut("nPPEnE"), 6u); }

TEST(RootCut, RunpysOwnMethodsCalledThroughCAreTheRunners) {
  // runpy's _TempModule.__init__ runs in an eval call of its own, under
  // type_call's natives, from runpy's _run_module_code: none of it is the
  // program's (it once kept the __init__ frame as '<frozen runpy>').
  EXPECT_EQ(cut("rEnnrrRnE"), 0u);
  EXPECT_EQ(cut("nnrEnnrrRnE"), 2u);
}

TEST(RootCut, TheProgramUnderRunpysMethodIsKeptFromItsOwnEvalFrame) {
  // <module> -> eval -> exec -> runpy _run_code, called from runpy code that
  // an earlier eval call ran (the eval frame rootward of runpy is not kept).
  EXPECT_EQ(cut("PEnrErrRnE"), 2u);
}

TEST(RootCut, CompilingKeepsTheLeafNativesUpToTheRunner) {
  // runpy compiles the script: no frame of the program yet.
  EXPECT_EQ(cut("nnnnrrRnE"), 4u);
}

TEST(RootCut, EvalFramesBetweenTheProgramAndRunpyAreKeptFromTheRootMostOne) {
  EXPECT_EQ(cut("PEnEnrRE"), 4u);
}

TEST(RootCut, ARootFunctionCallingTheProgramInTheSameEvalCallKeepsItsFrames) {
  // yep.start() from main(): the program's frames are right above the root.
  EXPECT_EQ(cut("nPPRPE"), 3u);
}

TEST(RootCut, TheRootMostRootCounts) { EXPECT_EQ(cut("PERPERE"), 5u); }

}  // namespace
