#include "profile_merge.h"

#include <algorithm>
#include <utility>

#include "profile_combiner.h"

namespace yep {

Profile merge(std::vector<Profile> profiles, const std::vector<std::string>& names) {
  if (profiles.size() == 1) return std::move(profiles[0]);
  if (profiles.empty()) return Profile();
  for (size_t i = 1; i < profiles.size(); ++i) check_same_kind(profiles[0], names[0], profiles[i], names[i], "merged with");
  ProfileCombiner combiner;
  std::vector<std::string> comments;
  int64_t start = 0, end = 0, durations = 0;
  bool all_timed = true;
  for (size_t i = 0; i < profiles.size(); ++i) {
    Profile& p = profiles[i];
    for (const std::string& c : p.comments) comments.push_back(names[i] + ": " + c);
    durations += p.duration_nanos;
    if (p.time_nanos == 0) {
      all_timed = false;
    } else {
      start = start == 0 ? p.time_nanos : std::min(start, p.time_nanos);
      end = std::max(end, p.time_nanos + p.duration_nanos);
    }
    combiner.add(std::move(p), {{"profile", names[i]}});
  }
  Profile out = combiner.take();
  out.comments = std::move(comments);
  out.time_nanos = start;
  out.duration_nanos = all_timed ? end - start : durations;
  out.check_valid();
  return out;
}

}  // namespace yep
