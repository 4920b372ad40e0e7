// Merging symbolized profiles of one kind into one: the processes of a run,
// the runs of a cluster job, the same program on several hosts
// (`yep report a.prof b.prof ...`).
//
// merge(profiles, names) promises:
//  - it refuses (ProfileError, one line naming the two inputs and their
//    kinds) when sample types differ in name, unit or order: CPU and heap
//    profiles do not add up;
//  - a function is one function of the result as ProfileCombiner matches
//    them (profile_combiner.h: by function_identity, whatever the address it
//    was loaded at); mappings and locations are kept, renumbered;
//  - every sample is kept, with a "profile" label naming its input when
//    there are several;
//  - the result's period and default sample type are the first input's;
//    its start is the earliest start and its duration spans every input
//    (their sum where a start is unknown); comments and missing object
//    files are gathered, a comment prefixed with its input's name when
//    there are several.
// names: one per profile (what the "profile" label and comments call it).
#pragma once

#include <string>
#include <vector>

#include "profile.h"

namespace yep {

Profile merge(std::vector<Profile> profiles, const std::vector<std::string>& names);

}  // namespace yep
