#include "profile_diff.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "profile_combiner.h"

namespace yep {

namespace {

std::vector<int64_t> totals(const Profile& p) {
  std::vector<int64_t> sum(p.sample_types.size(), 0);
  for (const Sample& s : p.samples)
    for (size_t i = 0; i < sum.size() && i < s.values.size(); ++i) sum[i] += s.values[i];
  return sum;
}

}  // namespace

Profile diff(Profile profile, Profile base, const std::string& profile_name, const std::string& base_name,
             bool normalize) {
  check_same_kind(profile, profile_name, base, base_name, "compared with");
  std::vector<double> scales(base.sample_types.size(), -1.0);
  std::vector<double> base_scales;
  if (normalize) {
    const std::vector<int64_t> now = totals(profile), before = totals(base);
    for (size_t i = 0; i < scales.size(); ++i) {
      base_scales.push_back(now[i] && before[i] ? static_cast<double>(now[i]) / before[i] : 1.0);
      scales[i] = -base_scales.back();
    }
  }
  std::vector<std::string> comments = std::move(profile.comments);
  std::string said = "base: " + base_name + " subtracted";
  if (normalize) {
    char factor[64];
    std::snprintf(factor, sizeof factor, " (scaled by %.4g to this profile's total)",
                  base_scales[profile.default_sample_type]);
    said += factor;
  }
  comments.push_back(said);
  for (const std::string& c : base.comments) comments.push_back("base: " + c);
  const int64_t time_nanos = profile.time_nanos, duration_nanos = profile.duration_nanos;

  ProfileCombiner combiner;
  combiner.add(std::move(profile), {});
  combiner.add(std::move(base), {{Profile::kBaseLabel, "true"}}, scales);
  Profile out = combiner.take();
  out.diff = true;
  out.base_scales = std::move(base_scales);
  out.comments = std::move(comments);
  out.time_nanos = time_nanos;
  out.duration_nanos = duration_nanos;
  out.check_valid();
  return out;
}

}  // namespace yep
