// The Python frames and thread names of mixed Python + native profiles
// (yep's default CPU profiles, --heap), carried in lines after the maps so
// that the stacks themselves stay purely native: google-pprof and go tool
// pprof read such a file as a plain gperftools profile, with native names
// and no unknown frames.
//
//   # yep-python:<TAB>key<TAB>line<TAB>first line<TAB>file<TAB>qualified name
//   # yep-thread:<TAB>key<TAB>native thread id<TAB>thread name
//   # yep-stack:<TAB>record<TAB>thread key or -<TAB>pos:key,pos:key,...<TAB>i-j,k,...
//   # yep-function:<TAB>start<TAB>end<TAB>name
//
// Keys are hex. A yep-stack line completes the record-th stack of the file
// (0-based, in file order: a CPU profile's records, a heap profile's
// buckets; in the stacks file of yep's reference heap dumps, the stack's id:
// heap_profile_reader.h): its Python frames, leaf first, each inserted just leafward of
// the native frame at index pos (pos = that stack's depth: at its root),
// the thread it was sampled in, and which of its native frames (indexes,
// and inclusive ranges of them) are the interpreter's own plumbing, hidden
// from reports unless asked for (python/interpreter_code.h says which).
//
// A yep-function line names the native function at [start, end) (hex
// addresses) for the symbolizer, where the object file cannot: a builtin's
// C function in a stripped interpreter, by its Python name.
//
// Files written before yep-stack lines existed put the keys themselves in
// the stacks, as stand-in addresses outside any mapping (0x1000... for
// Python frames, 0x2000... for the thread at the root); those are read too.
//
// Readers resolve both here: Python frames become locations with no mapping
// whose one line names the .py file (the symbolizer leaves them alone);
// threads become the sample's "thread" label.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "profile.h"

namespace yep {

class PythonStandIns {
 public:
  // Parses the annotation lines found in `text` (the part after the maps).
  explicit PythonStandIns(std::string_view text);

  // The same, a line at a time (a reader that streams the file): add_line
  // each line after the maps (other lines are ignored), then finish().
  PythonStandIns() = default;
  void add_line(std::string_view line);
  void finish();

  // Whether a yep-python or yep-thread line names a key that the yep-stack
  // lines added so far use (a reader of a file shared by many profiles adds
  // only those); false for other lines. Call once the yep-stack lines are in.
  bool uses(std::string_view line);

  bool empty() const { return frames_.empty() && threads_.empty(); }

  // Puts the Python frames and the thread of record `record` into its native
  // stack (leaf first), as keys that location() and thread() resolve (they
  // never collide with addresses), and tags its plumbing frames (see
  // plumbing()). Stacks of files without yep-stack lines are left as they are.
  void complete(size_t record, std::vector<uint64_t>& stack) const;
  // After the last complete(): frees what the yep-stack lines hold.
  void release_stacks();

  // The yep-function lines, sorted by start (Profile::function_hints).
  const std::vector<FunctionHint>& function_hints() const { return hints_; }

  // Whether the file says which frames are the interpreter's plumbing.
  bool marks_plumbing() const { return marks_plumbing_; }
  // Whether a completed stack's entry is a native frame tagged as plumbing;
  // address() gives its address either way.
  static bool plumbing(uint64_t entry);
  static uint64_t address(uint64_t entry);

  // The location of a Python frame's key, added to `p` on first use; 0 when
  // `address` is not one.
  uint64_t location(Profile& p, uint64_t address);

  // The label value ("name (id)") of a thread key, nullptr if not one.
  const std::string* thread(uint64_t address) const;

 private:
  struct Frame {
    int64_t line = 0, first_line = 0;
    std::string file, name;
    uint64_t location_id = 0;
  };
  // A yep-stack line's lists kept as written (parsed by complete(): text
  // is the smaller, and a heap profile has one such line per bucket).
  struct Stack {
    uint64_t thread = 0;   // a tagged key, 0: none
    std::string python;    // "pos:key,...", leaf first
    std::string plumbing;  // "i-j,k,...": native indexes
  };
  // The Python frames of a Stack: (pos, tagged key), leaf first.
  static void python_of(const Stack& s, std::vector<std::pair<uint32_t, uint64_t>>& out);
  std::map<uint64_t, Frame> frames_;
  std::map<uint64_t, std::string> threads_;
  // Until finish(): keys as written (tagged then if the file has yep-stack lines).
  std::map<uint64_t, Frame> frames_read_;
  std::map<uint64_t, std::string> threads_read_;
  bool tagged_ = false;
  std::unordered_set<uint64_t> used_;  // for uses(): tagged keys of stacks_
  bool used_known_ = false;
  std::unordered_map<size_t, Stack> stacks_;
  bool marks_plumbing_ = false;
  std::vector<FunctionHint> hints_;
  std::map<std::tuple<std::string, std::string, int64_t>, uint64_t> function_ids_;
};

}  // namespace yep
