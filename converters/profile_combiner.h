// Putting the samples of several symbolized profiles of one kind into one
// profile: what merging (profile_merge.h) and comparing with a base
// (profile_diff.h) share.
//
// check_same_kind(a, b, ...) refuses (ProfileError, one line naming both
// inputs and their kinds) profiles whose sample types differ in name, unit
// or order: CPU and heap profiles do not add up.
//
// ProfileCombiner::add(profile, labels, scales) promises:
//  - a function of `profile` is a function already in the result when their
//    function_identity (function_identity.h) is equal: whatever address it
//    was loaded at (address space randomization, another host), it is never
//    doubled. A function whose definition moved (same name, symbol, file and
//    object, another line) is the one function of the result with that
//    loose_identity when the name is unambiguous in both;
//  - every mapping and location is kept, renumbered: an address stays
//    meaningful within its own mapping;
//  - every sample is kept, with `labels` added and each value multiplied by
//    the scale of its sample type (rounded; none: unchanged);
//  - missing object files are gathered once each; python_frames is any
//    input's, interpreter_marked every input's.
// The first profile added sets the result's sample types, period and
// default sample type; take() returns the result.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "profile.h"

namespace yep {

void check_same_kind(const Profile& a, const std::string& a_name, const Profile& b, const std::string& b_name,
                     const std::string& what_to_do);

class ProfileCombiner {
 public:
  void add(Profile profile, const std::vector<Label>& labels, const std::vector<double>& scales = {});
  Profile take();

 private:
  uint64_t function_id(Function f, const std::unordered_map<std::string, size_t>& loose_in_profile);

  Profile out_;
  bool first_ = true;
  std::unordered_map<std::string, uint64_t> by_identity_;
  std::unordered_map<std::string, std::vector<uint64_t>> by_loose_;
};

}  // namespace yep
