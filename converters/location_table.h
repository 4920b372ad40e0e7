// Interns the locations of a profile being read: one Location per distinct
// address (and plumbing flag), with the id of the mapping that contains it. Readers call it
// after the profile's mappings are final.
#pragma once

#include <unordered_map>

#include "proc_maps.h"
#include "profile.h"

namespace yep {

class LocationTable {
 public:
  explicit LocationTable(Profile& profile) : profile_(profile), index_(profile.mappings) {}

  // The id of the location at `address`, added to the profile if new;
  // `interpreter`: the same address as one of the interpreter's plumbing
  // frames (Location::interpreter), a location of its own.
  uint64_t id(uint64_t address, bool interpreter = false) {
    auto [it, inserted] = ids_.try_emplace(interpreter ? ~address : address, profile_.locations.size() + 1);
    if (inserted) {
      Location loc;
      loc.id = it->second;
      loc.address = address;
      loc.interpreter = interpreter;
      loc.mapping_id = index_.find(address);
      profile_.locations.push_back(std::move(loc));
    }
    return it->second;
  }

 private:
  Profile& profile_;
  MappingIndex index_;
  std::unordered_map<uint64_t, uint64_t> ids_;
};

}  // namespace yep
