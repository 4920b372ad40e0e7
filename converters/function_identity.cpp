#include "function_identity.h"

namespace yep {

std::string loose_identity(const Function& f) {
  std::string key = f.name;
  for (const std::string* part : {&f.system_name, &f.filename, &f.object}) {
    key += '\0';
    key += *part;
  }
  return key;
}

std::string function_identity(const Function& f) {
  return loose_identity(f) + '\0' + std::to_string(f.start_line);
}

std::string object_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace yep
