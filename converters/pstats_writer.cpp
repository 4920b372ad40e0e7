#include "pstats_writer.h"

#include <cstdint>
#include <cstring>
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "function_name.h"

namespace yep {

namespace {

// The few marshal type codes a pstats dict needs (CPython's marshal.c).
class Marshal {
 public:
  void dict_begin() { out_ += '{'; }
  void dict_end() { out_ += '0'; }  // TYPE_NULL ends a dict
  void tuple(uint32_t n) {
    if (n < 256) {
      out_ += ')';  // TYPE_SMALL_TUPLE
      out_ += static_cast<char>(n);
    } else {
      out_ += '(';
      u32(n);
    }
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'i';
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      real(static_cast<double>(v));  // beyond int32: pstats only adds them up
    }
  }
  void real(double v) {
    out_ += 'g';  // TYPE_BINARY_FLOAT, little endian IEEE 754
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  void text(const std::string& s) {
    const std::string utf8 = valid_utf8(s);
    out_ += 'u';
    u32(static_cast<uint32_t>(utf8.size()));
    out_ += utf8;
  }
  void raw(const std::string& marshalled) { out_ += marshalled; }
  std::string take() { return std::move(out_); }

 private:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  // marshal's str must be UTF-8: replace bytes that are not.
  static std::string valid_utf8(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
      unsigned char c = s[i];
      size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      bool ok = n > 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
      if (ok) {
        out.append(s, i, n);
        i += n;
      } else {
        out += '?';
        ++i;
      }
    }
    return out;
  }
  std::string out_;
};

struct Figures {
  int64_t samples = 0;
  double self = 0, inclusive = 0;
  void add(int64_t n, double self_value, double inclusive_value) {
    samples += n;
    self += self_value;
    inclusive += inclusive_value;
  }
};

using Key = std::tuple<std::string, int64_t, std::string>;  // (file, line, name)

struct Entry {
  Figures own;
  std::unordered_map<size_t, Figures> callers;  // by entry index
};

void write_figures(Marshal& m, const Figures& f) {
  m.integer(f.samples);
  m.integer(f.samples);
  m.real(f.self);
  m.real(f.inclusive);
}

}  // namespace

std::string write_pstats(const Profile& p, size_t vi) {
  const double scale = p.sample_types[vi].unit == "nanoseconds" ? 1e-9 : 1.0;
  const bool counted = !p.sample_types.empty() && p.sample_types[0].unit == "count";

  // Object file of each function, for those without a source file.
  std::vector<std::string> object_of(p.functions.size());
  for (const Location& loc : p.locations) {
    const Mapping* m = p.mapping(loc.mapping_id);
    if (!m) continue;
    for (const Line& line : loc.lines)
      if (object_of[line.function_id - 1].empty()) object_of[line.function_id - 1] = m->filename;
  }
  // Functions with equal keys share an entry. pstats keys a function by
  // (file, line, name) only: one source file built into two objects (two
  // copies of a library) would make two functions one entry, so there the
  // object's name is added to the file, "work.c (libwork-a.so)".
  std::vector<Key> key_of(p.functions.size());
  std::map<Key, std::string> first_object;
  std::set<Key> in_several_objects;
  for (const Function& f : p.functions) {
    std::string file = !f.filename.empty() ? f.filename : !object_of[f.id - 1].empty() ? object_of[f.id - 1] : "~";
    key_of[f.id - 1] = Key{file, f.start_line, display_name(f)};
    auto [it, inserted] = first_object.try_emplace(key_of[f.id - 1], f.object);
    if (!inserted && it->second != f.object) in_several_objects.insert(key_of[f.id - 1]);
  }
  std::map<Key, size_t> index_of;
  std::vector<Key> keys;
  std::vector<size_t> entry_of(p.functions.size());
  for (const Function& f : p.functions) {
    Key key = key_of[f.id - 1];
    if (!f.object.empty() && in_several_objects.count(key)) std::get<0>(key) += " (" + f.object + ")";
    auto [it, inserted] = index_of.try_emplace(key, keys.size());
    if (inserted) keys.push_back(key);
    entry_of[f.id - 1] = it->second;
  }

  std::vector<Entry> entries(keys.size());
  std::vector<size_t> seen_in(entries.size(), SIZE_MAX);           // entry counted in sample
  std::unordered_map<uint64_t, size_t> edge_seen;                 // callee << 32 | caller -> sample
  std::vector<Line> frames;
  for (size_t si = 0; si < p.samples.size(); ++si) {
    const Sample& s = p.samples[si];
    const double v = s.values[vi] * scale;
    const int64_t n = counted ? s.values[0] : 1;
    p.frames(s, frames);
    for (size_t i = 0; i < frames.size(); ++i) {
      const size_t e = entry_of[frames[i].function_id - 1];
      const bool leaf = i == 0;
      if (seen_in[e] != si) {
        seen_in[e] = si;
        entries[e].own.add(n, 0, v);
      }
      if (leaf) entries[e].own.self += v;
      if (i + 1 < frames.size()) {
        const size_t caller = entry_of[frames[i + 1].function_id - 1];
        auto [it, inserted] = edge_seen.try_emplace(static_cast<uint64_t>(e) << 32 | caller, si);
        if (inserted || it->second != si) {
          it->second = si;
          entries[e].callers[caller].add(n, leaf ? v : 0, v);
        } else if (leaf) {
          entries[e].callers[caller].self += v;
        }
      }
    }
  }

  // Each key is marshalled once, then copied wherever it appears.
  std::vector<std::string> key_bytes(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    Marshal km;
    km.tuple(3);
    km.text(std::get<0>(keys[k]));
    km.integer(std::get<1>(keys[k]));
    km.text(std::get<2>(keys[k]));
    key_bytes[k] = km.take();
  }
  Marshal m;
  m.dict_begin();
  std::vector<std::pair<size_t, Figures>> callers;
  bool written = false;
  for (size_t e = 0; e < entries.size(); ++e) {
    if (entries[e].own.samples == 0) continue;
    written = true;
    m.raw(key_bytes[e]);
    m.tuple(5);
    write_figures(m, entries[e].own);
    m.dict_begin();
    callers.assign(entries[e].callers.begin(), entries[e].callers.end());
    std::sort(callers.begin(), callers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [caller, figures] : callers) {
      m.raw(key_bytes[caller]);
      m.tuple(4);
      write_figures(m, figures);
    }
    m.dict_end();
  }
  if (!written) {  // pstats.Stats refuses an empty dict (TypeError): one entry that says why
    m.tuple(3);
    m.text("~");
    m.integer(0);
    m.text("<no samples>");
    m.tuple(5);
    write_figures(m, Figures{});
    m.dict_begin();
    m.dict_end();
  }
  m.dict_end();
  return m.take();
}

}  // namespace yep
