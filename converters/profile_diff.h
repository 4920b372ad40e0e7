// Subtracting a base profile (pprof's -base): what grew, or shrank, from the
// base to the profile, e.g. between two heap dumps of one process, or two CPU
// profiles of one program.
//
// subtract(profile, base) promises:
//  - it refuses (ProfileError, one line naming both kinds) when the sample
//    types differ in name, unit or order: a CPU profile minus a heap profile
//    means nothing;
//  - samples are matched by their stacks of addresses, before symbolizing.
//    A frame is compared as (object file, file offset) when its location lies
//    in a mapping of a named file, else as its raw address: two profiles of
//    one process match exactly, and two runs of one program match in spite
//    of address space randomization;
//  - a stack in both: profile - base, value by value; a stack only in the
//    base: its values negated; a stack only in the profile: unchanged;
//    identical stacks within one profile are summed first; samples whose
//    values are all zero are dropped;
//  - the result keeps `profile`'s mappings, locations, functions, period,
//    times and comments, and adds the base's comments prefixed "base: ";
//  - a stack only in the base gets locations at the same place in
//    `profile`'s address space (in `profile`'s mapping of the same file), or,
//    when `profile` maps no such file, at the base's address in an appended
//    copy of the base's mapping. Lines of base locations are not copied:
//    subtract unsymbolized profiles (as the readers return them) and
//    symbolize the result.
#pragma once

#include "profile.h"

namespace yep {

Profile subtract(const Profile& profile, const Profile& base);

}  // namespace yep
