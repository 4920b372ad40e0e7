// The stand-in addresses of mixed Python + native profiles (yep --mixed).
//
// yep's mixed sampler writes stacks in gperftools' formats, where a frame is
// an address. A Python frame (function at a line) and the sampled thread
// (at the root of each stack) get stand-in addresses outside any mapping,
// explained by lines after the maps:
//   # yep-python:<TAB>address<TAB>line<TAB>first line<TAB>file<TAB>qualified name
//   # yep-thread:<TAB>address<TAB>native thread id<TAB>thread name
// Readers resolve them here: Python frames become locations with no mapping
// whose one line names the .py file (the symbolizer leaves them alone);
// threads become the sample's "thread" label.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "profile.h"

namespace yep {

class PythonStandIns {
 public:
  // Parses the annotation lines found in `text` (the part after the maps).
  explicit PythonStandIns(std::string_view text);

  bool empty() const { return frames_.empty() && threads_.empty(); }

  // The location of a Python frame's stand-in, added to `p` on first use;
  // 0 when `address` is not one.
  uint64_t location(Profile& p, uint64_t address);

  // The label value ("name (id)") of a thread stand-in, nullptr if not one.
  const std::string* thread(uint64_t address) const;

 private:
  struct Frame {
    int64_t line = 0, first_line = 0;
    std::string file, name;
    uint64_t location_id = 0;
  };
  std::map<uint64_t, Frame> frames_;
  std::map<uint64_t, std::string> threads_;
  std::map<std::tuple<std::string, std::string, int64_t>, uint64_t> function_ids_;
};

}  // namespace yep
