#include "process_record.h"

namespace yep {

std::string process_label(std::string_view text) {
  const std::string_view tag = "# yep-process:\t";
  size_t at = text.rfind(tag);
  if (at == std::string_view::npos || (at != 0 && text[at - 1] != '\n')) return "";
  std::string_view line = text.substr(at + tag.size());
  line = line.substr(0, line.find('\n'));
  std::string_view fields[4];
  for (int i = 0; i < 3; ++i) {
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return "";
    fields[i] = line.substr(0, tab);
    line.remove_prefix(tab + 1);
  }
  fields[3] = line;
  std::string label = std::string(fields[3]) + " (" + std::string(fields[0]);
  if (fields[2] == "fork") label += ", fork of " + std::string(fields[1]);
  return label + ")";
}

}  // namespace yep
