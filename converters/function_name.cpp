#include "function_name.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

namespace yep {

namespace {

const char kAnonymous[] = "(anonymous namespace)";

// Length of an operator name starting at `name + i` ("operator" already
// matched), e.g. "operator()" -> 10, "operator<<" -> 10, "operator new" -> 12.
size_t operator_length(const std::string& name, size_t i) {
  size_t j = i + std::strlen("operator");
  if (name.compare(j, 2, "()") == 0 || name.compare(j, 2, "[]") == 0) return j + 2 - i;
  if (j < name.size() && name[j] == ' ') {  // operator new, operator delete[], conversions
    size_t end = name.find('(', j);
    return (end == std::string::npos ? name.size() : end) - i;
  }
  while (j < name.size() && std::strchr("+-*/%^&|~!=<>,", name[j])) ++j;
  return j - i;
}

}  // namespace

std::string short_function_name(const std::string& name) {
  if (name.find('(') == std::string::npos && name.find('<') == std::string::npos) return name;
  std::string out;
  int angle = 0, paren = 0;
  std::vector<size_t> spaces;  // top-level spaces in out: one may end a return type
  for (size_t i = 0; i < name.size();) {
    if (name.compare(i, sizeof kAnonymous - 1, kAnonymous) == 0) {
      if (angle == 0 && paren == 0) out += kAnonymous;
      i += sizeof kAnonymous - 1;
      continue;
    }
    if (name.compare(i, 8, "operator") == 0 && (i == 0 || name[i - 1] == ':' || name[i - 1] == ' ')) {
      size_t n = operator_length(name, i);
      if (angle == 0 && paren == 0) out.append(name, i, n);
      i += n;
      continue;
    }
    if (name.compare(i, 8, " [clone ") == 0 && angle == 0 && paren == 0) break;
    char c = name[i++];
    if (c == '<') ++angle;
    else if (c == '>' && angle > 0) --angle;
    else if (c == '(') ++paren;
    else if (c == ')' && paren > 0) --paren;
    else if (angle == 0 && paren == 0) {
      if (c == ' ') spaces.push_back(out.size());
      out += c;
    }
  }
  // Drop a return type ("void f" -> "f"), and trailing " const" qualifiers.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  for (const char* q : {" const", " volatile", " &&", " &"}) {
    size_t n = std::strlen(q);
    if (out.size() > n && out.compare(out.size() - n, n, q) == 0) out.erase(out.size() - n);
  }
  while (!spaces.empty() && spaces.back() + 1 >= out.size()) spaces.pop_back();
  if (!spaces.empty()) out.erase(0, spaces.back() + 1);
  return out.empty() ? name : out;
}

std::string cython_name(const std::string& symbol) {
  static const char* const kPrefixes[] = {"__pyx_f_", "__pyx_pf_", "__pyx_pw_", "__pyx_gb_"};
  size_t i = std::string::npos;
  for (const char* prefix : kPrefixes)
    if (symbol.rfind(prefix, 0) == 0) i = std::strlen(prefix);
  if (i == std::string::npos) return "";
  std::string out;
  // Length-prefixed parts, each followed by '_': the module path and classes.
  for (;;) {
    size_t digits = i;
    while (digits < symbol.size() && std::isdigit(static_cast<unsigned char>(symbol[digits]))) ++digits;
    if (digits == i || digits - i > 4) break;
    const size_t length = std::stoul(symbol.substr(i, digits - i));
    if (length == 0 || digits + length >= symbol.size() || symbol[digits + length] != '_') break;
    out += symbol.substr(digits, length) + ".";
    i = digits + length + 1;
  }
  // The function's own name, after the index def functions carry.
  while (i < symbol.size() && std::isdigit(static_cast<unsigned char>(symbol[i]))) ++i;
  if (out.empty() || i >= symbol.size()) return "";
  return out + symbol.substr(i);
}

std::string without_clone_suffix(const std::string& symbol) {
  static const char* const kKinds[] = {"constprop", "isra", "part", "cold", "lto_priv", "localalias",
                                       "clone", "llvm", "specialized", "__uniq", "cfi"};
  auto is_kind = [](const std::string& part) {
    for (const char* kind : kKinds)
      if (part == kind) return true;
    return false;
  };
  auto is_number = [](const std::string& part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  // The first dot after which every part is a kind or a number, the first
  // part a kind.
  size_t cut = std::string::npos;
  for (size_t dot = symbol.size(); dot > 0;) {
    dot = symbol.rfind('.', dot - 1);
    if (dot == std::string::npos || dot == 0) break;
    const size_t end = symbol.find('.', dot + 1);
    const std::string part = symbol.substr(dot + 1, end == std::string::npos ? std::string::npos : end - dot - 1);
    if (is_kind(part)) cut = dot;
    else if (!is_number(part)) break;
  }
  return cut == std::string::npos ? symbol : symbol.substr(0, cut);
}

std::string display_name(const Function& f) {
  const std::string& file = f.filename;
  const bool python_file = file.size() > 3 && file.compare(file.size() - 3, 3, ".py") == 0;
  if (python_file || f.system_name.rfind("py:", 0) == 0 || f.system_name.rfind("thread:", 0) == 0 ||
      f.system_name.rfind("process:", 0) == 0)
    return f.name;
  return short_function_name(f.name);
}

}  // namespace yep
