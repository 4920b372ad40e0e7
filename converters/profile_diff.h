// Comparing a profile with a base (`yep report NEW --base OLD`, pprof's
// -diff_base): what grew or shrank between two runs, or two heap dumps.
//
// diff(profile, base, names, normalize) promises, for symbolized profiles:
//  - it refuses (ProfileError, one line naming both inputs and their kinds)
//    profiles of different kinds: CPU against CPU, heap against heap;
//  - frames are matched by function, as ProfileCombiner matches them
//    (profile_combiner.h, function_identity.h): never by address, nor by an
//    index that depends on what else the run had loaded;
//  - the result (Profile::diff) holds the profile's samples as they are and
//    the base's negated, labelled Profile::kBaseLabel: summed, they give a
//    function's change; apart (Profile::in_base), the base and the new;
//  - with normalize, each base value is first multiplied by the profile's
//    total of its sample type over the base's (1 where either is 0), so runs
//    of different lengths or rates compare by shares; base_scales holds
//    the factors (empty without normalize);
//  - the result keeps the profile's period, times and comments, and adds
//    "base: NAME subtracted" (with the scale when normalized) and the base's
//    comments prefixed "base: ".
#pragma once

#include <string>

#include "profile.h"

namespace yep {

Profile diff(Profile profile, Profile base, const std::string& profile_name, const std::string& base_name,
             bool normalize);

}  // namespace yep
