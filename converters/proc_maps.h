// Parses the text of /proc/<pid>/maps (as appended to gperftools profiles)
// into Mappings, and finds the mapping that contains an address.
#pragma once

#include <string_view>
#include <vector>

#include "profile.h"

namespace yep {

// One Mapping per well-formed line, ids 1..n in file order. Lines that are
// not maps lines (comments, blank, yep's "# yep:" records) are skipped, but
// for yep's "# yep-build-id:\t<address>\t<build id>" lines: the mappings of
// the file mapped at that address get that build id (the capture records
// them, so that a report can tell a file rebuilt since the run).
std::vector<Mapping> parse_proc_maps(std::string_view text);

// Finds the mapping that contains an address (maps lines never overlap).
class MappingIndex {
 public:
  explicit MappingIndex(const std::vector<Mapping>& mappings);
  // Id of the mapping containing address, 0 if none.
  uint64_t find(uint64_t address) const;

 private:
  std::vector<const Mapping*> sorted_;  // by memory_start
};

}  // namespace yep
