// write_proto against a hand-built profile: gunzipped with zlib and decoded
// with a minimal protobuf reader written here (no protobuf library), then
// every field, id and string checked against profile.proto's rules.
#include "proto_writer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::string gunzip(const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[4096];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("inflate failed: " + std::to_string(rc));
    }
    out.append(buffer, sizeof buffer - zs.avail_out);
  } while (rc != Z_STREAM_END);
  const bool trailing = zs.avail_in != 0;
  inflateEnd(&zs);
  if (trailing) throw std::runtime_error("bytes after the gzip stream");
  return out;
}

// One field of a decoded message: a varint or a length-delimited payload.
struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t varint = 0;
  std::string bytes;
};

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) throw std::runtime_error("truncated varint");
    const uint8_t b = static_cast<uint8_t>(s[pos++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("varint longer than 10 bytes");
}

// A decoded message; accessors treat absent scalars as 0, as proto3 does.
struct Message {
  std::vector<Field> fields;

  explicit Message(const std::string& s) {
    size_t pos = 0;
    while (pos < s.size()) {
      const uint64_t key = read_varint(s, pos);
      Field f;
      f.number = static_cast<uint32_t>(key >> 3);
      f.wire = static_cast<uint32_t>(key & 7);
      if (f.number == 0) throw std::runtime_error("field number 0");
      if (f.wire == 0) {
        f.varint = read_varint(s, pos);
      } else if (f.wire == 2) {
        const uint64_t n = read_varint(s, pos);
        if (n > s.size() - pos) throw std::runtime_error("length-delimited field runs past the end");
        f.bytes = s.substr(pos, n);
        pos += n;
      } else {
        throw std::runtime_error("unexpected wire type " + std::to_string(f.wire));
      }
      fields.push_back(std::move(f));
    }
  }

  size_t count(uint32_t number) const {
    size_t n = 0;
    for (const Field& f : fields) n += f.number == number;
    return n;
  }
  uint64_t scalar(uint32_t number) const {
    uint64_t v = 0;
    size_t seen = 0;
    for (const Field& f : fields)
      if (f.number == number) {
        EXPECT_EQ(f.wire, 0u) << "field " << number;
        v = f.varint;
        ++seen;
      }
    EXPECT_LE(seen, 1u) << "scalar field " << number << " repeated";
    return v;
  }
  int64_t int64(uint32_t number) const { return static_cast<int64_t>(scalar(number)); }
  std::vector<Message> messages(uint32_t number) const {
    std::vector<Message> out;
    for (const Field& f : fields)
      if (f.number == number) {
        EXPECT_EQ(f.wire, 2u) << "field " << number;
        out.emplace_back(f.bytes);
      }
    return out;
  }
  std::vector<std::string> strings(uint32_t number) const {
    std::vector<std::string> out;
    for (const Field& f : fields)
      if (f.number == number) out.push_back(f.bytes);
    return out;
  }
  // A packed repeated varint field; `packed` reports whether every
  // occurrence was packed (wire type 2).
  std::vector<uint64_t> repeated(uint32_t number, bool* packed = nullptr) const {
    std::vector<uint64_t> out;
    if (packed) *packed = true;
    for (const Field& f : fields) {
      if (f.number != number) continue;
      if (f.wire == 0) {
        out.push_back(f.varint);
        if (packed) *packed = false;
      } else {
        size_t pos = 0;
        while (pos < f.bytes.size()) out.push_back(read_varint(f.bytes, pos));
      }
    }
    return out;
  }
};

// The decoded Profile with its string table at hand.
struct Decoded {
  Message profile;
  std::vector<std::string> strings;

  explicit Decoded(const std::string& gz) : profile(gunzip(gz)), strings(profile.strings(6)) {}
  std::string str(uint64_t index) const {
    EXPECT_LT(index, strings.size());
    return index < strings.size() ? strings[index] : "<out of range>";
  }
  std::string str_field(const Message& m, uint32_t number) const { return str(m.scalar(number)); }
};

constexpr uint64_t kLibStart = 0x7f0000000000;

yep::Profile sample_profile() {
  yep::Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.default_sample_type = 1;
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 4000000;
  p.time_nanos = 1700000000123456789;
  p.duration_nanos = 2500000000;
  p.comments = {"CPU-time timer: asked 250 Hz", "second comment"};

  p.mappings.push_back({1, 0x400000, 0x500000, 0, "/usr/bin/app", "0123abcd", true});
  p.mappings.push_back({2, kLibStart, kLibStart + 0x100000, 0x1000, "/lib/libm.so.6", "", true});

  p.functions.push_back({1, "main", "main", "/src/app.c", 10});
  p.functions.push_back({2, "ns::helper(int)", "_ZN2ns6helperEi", "/src/app.c", 20});
  p.functions.push_back({3, "square", "square", "/src/inline.h", 5});

  // 1: square inlined into ns::helper; 2: main; 3: libm, not symbolized.
  p.locations.push_back({1, 1, 0x401234, {{3, 7}, {2, 25}}});
  p.locations.push_back({2, 1, 0x402000, {{1, 12}}});
  p.locations.push_back({3, 2, kLibStart + 0x2345, {}});

  p.samples.push_back({{1, 2}, {3, 12000000}});
  p.samples.push_back({{2}, {1, 4000000}});
  p.samples.push_back({{3, 1, 2}, {2, 8000000}});
  p.check_valid();
  return p;
}

TEST(ProtoWriter, IsGzip) {
  const std::string gz = yep::write_proto(sample_profile());
  ASSERT_GT(gz.size(), 10u);
  EXPECT_EQ(static_cast<uint8_t>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<uint8_t>(gz[1]), 0x8b);
  EXPECT_NO_THROW(gunzip(gz));
}

TEST(ProtoWriter, StringTableStartsEmptyAndHasNoDuplicates) {
  const Decoded d(yep::write_proto(sample_profile()));
  ASSERT_FALSE(d.strings.empty());
  EXPECT_EQ(d.strings[0], "");
  const std::set<std::string> distinct(d.strings.begin(), d.strings.end());
  EXPECT_EQ(distinct.size(), d.strings.size());
  // Shared strings ("cpu", "nanoseconds", "/src/app.c", "main") are there once.
  for (const char* s : {"cpu", "nanoseconds", "/src/app.c", "main", "_ZN2ns6helperEi", "0123abcd"})
    EXPECT_EQ(distinct.count(s), 1u) << s;
}

TEST(ProtoWriter, SampleTypesPeriodAndHeader) {
  const Decoded d(yep::write_proto(sample_profile()));
  const auto types = d.profile.messages(1);
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(d.str_field(types[0], 1), "samples");
  EXPECT_EQ(d.str_field(types[0], 2), "count");
  EXPECT_EQ(d.str_field(types[1], 1), "cpu");
  EXPECT_EQ(d.str_field(types[1], 2), "nanoseconds");

  const auto period_type = d.profile.messages(11);
  ASSERT_EQ(period_type.size(), 1u);
  EXPECT_EQ(d.str_field(period_type[0], 1), "cpu");
  EXPECT_EQ(d.str_field(period_type[0], 2), "nanoseconds");
  EXPECT_EQ(d.profile.int64(12), 4000000);
  EXPECT_EQ(d.profile.int64(9), 1700000000123456789);
  EXPECT_EQ(d.profile.int64(10), 2500000000);
  EXPECT_EQ(d.str_field(d.profile, 14), "cpu");  // default_sample_type

  std::vector<std::string> comments;
  for (uint64_t i : d.profile.repeated(13)) comments.push_back(d.str(i));
  EXPECT_EQ(comments, (std::vector<std::string>{"CPU-time timer: asked 250 Hz", "second comment"}));
}

TEST(ProtoWriter, SamplesArePackedLeafFirstWithAllValues) {
  const Decoded d(yep::write_proto(sample_profile()));
  const auto samples = d.profile.messages(2);
  ASSERT_EQ(samples.size(), 3u);
  const std::vector<std::vector<uint64_t>> stacks = {{1, 2}, {2}, {3, 1, 2}};
  const std::vector<std::vector<uint64_t>> values = {{3, 12000000}, {1, 4000000}, {2, 8000000}};
  for (size_t i = 0; i < samples.size(); ++i) {
    bool packed_ids = false, packed_values = false;
    EXPECT_EQ(samples[i].repeated(1, &packed_ids), stacks[i]) << "sample " << i;
    EXPECT_EQ(samples[i].repeated(2, &packed_values), values[i]) << "sample " << i;
    EXPECT_TRUE(packed_ids);
    EXPECT_TRUE(packed_values);
    EXPECT_EQ(samples[i].count(1), 1u);  // one packed field, not one per id
    EXPECT_EQ(samples[i].count(2), 1u);
  }
}

TEST(ProtoWriter, SamplesCarryTheirStringLabels) {
  yep::Profile p = sample_profile();
  p.samples[0].labels = {{"process", "python pool.py (42, fork of 7)"}, {"thread", "MainThread (42)"}};
  const Decoded d(yep::write_proto(p));
  const auto samples = d.profile.messages(2);
  ASSERT_EQ(samples.size(), 3u);
  const auto labels = samples[0].messages(3);  // Sample.label: Label{1 key, 2 str}
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(d.str_field(labels[0], 1), "process");
  EXPECT_EQ(d.str_field(labels[0], 2), "python pool.py (42, fork of 7)");
  EXPECT_EQ(d.str_field(labels[1], 1), "thread");
  EXPECT_EQ(d.str_field(labels[1], 2), "MainThread (42)");
  EXPECT_EQ(samples[1].count(3), 0u);  // a sample without labels has none
}

TEST(ProtoWriter, MappingsWithSymbolizedLocationsSayTheyHaveFunctions) {
  const Decoded d(yep::write_proto(sample_profile()));
  const auto mappings = d.profile.messages(3);
  ASSERT_EQ(mappings.size(), 2u);
  const Message& app = mappings[0];
  EXPECT_EQ(app.scalar(1), 1u);
  EXPECT_EQ(app.scalar(2), 0x400000u);
  EXPECT_EQ(app.scalar(3), 0x500000u);
  EXPECT_EQ(app.scalar(4), 0u);
  EXPECT_EQ(d.str_field(app, 5), "/usr/bin/app");
  EXPECT_EQ(d.str_field(app, 6), "0123abcd");
  for (uint32_t has = 7; has <= 10; ++has) EXPECT_EQ(app.scalar(has), 1u) << "has_* field " << has;

  const Message& lib = mappings[1];
  EXPECT_EQ(lib.scalar(1), 2u);
  EXPECT_EQ(lib.scalar(2), kLibStart);
  EXPECT_EQ(lib.scalar(3), kLibStart + 0x100000);
  EXPECT_EQ(lib.scalar(4), 0x1000u);
  EXPECT_EQ(d.str_field(lib, 5), "/lib/libm.so.6");
  EXPECT_EQ(d.str_field(lib, 6), "");
  // Its only location has no lines: pprof may still symbolize it.
  for (uint32_t has = 7; has <= 10; ++has) EXPECT_EQ(lib.scalar(has), 0u) << "has_* field " << has;
}

// With object_addresses, a mapping the symbolizer placed goes out in its
// object file's own addresses, its locations with it (object_addresses.h);
// the others as they are. Without, every address is the process's.
TEST(ProtoWriter, PlacedMappingsAndTheirLocationsAreInObjectAddressesWhenAsked) {
  yep::Profile p = sample_profile();
  yep::Mapping& lib = p.mappings[1];  // loaded at kLibStart, file offset 0x1000
  lib.placed = true;
  lib.load_bias = kLibStart - 0x1000;  // its code segment: vaddr 0x1000
  lib.code_vaddr = 0x1000;
  const Decoded as_loaded(yep::write_proto(p));
  EXPECT_EQ(as_loaded.profile.messages(3)[1].scalar(2), kLibStart);
  EXPECT_EQ(as_loaded.profile.messages(4)[2].scalar(3), kLibStart + 0x2345);
  const Decoded d(yep::write_proto(p, true));
  const auto mappings = d.profile.messages(3);
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[0].scalar(2), 0x400000u);
  EXPECT_EQ(mappings[1].scalar(2), 0x1000u);
  EXPECT_EQ(mappings[1].scalar(3), 0x101000u);
  EXPECT_EQ(mappings[1].scalar(4), 0x1000u);
  const auto locations = d.profile.messages(4);
  ASSERT_EQ(locations.size(), 3u);
  EXPECT_EQ(locations[0].scalar(3), 0x401234u);
  EXPECT_EQ(locations[2].scalar(3), 0x3345u);  // kLibStart + 0x2345 in the file
}

TEST(ProtoWriter, LocationsKeepInlinedLinesInnermostFirst) {
  const Decoded d(yep::write_proto(sample_profile()));
  const auto locations = d.profile.messages(4);
  ASSERT_EQ(locations.size(), 3u);
  EXPECT_EQ(locations[0].scalar(1), 1u);
  EXPECT_EQ(locations[0].scalar(2), 1u);
  EXPECT_EQ(locations[0].scalar(3), 0x401234u);
  const auto lines = locations[0].messages(4);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].scalar(1), 3u);  // square, the inlined callee
  EXPECT_EQ(lines[0].int64(2), 7);
  EXPECT_EQ(lines[1].scalar(1), 2u);  // ns::helper, at the call site
  EXPECT_EQ(lines[1].int64(2), 25);

  EXPECT_EQ(locations[1].scalar(1), 2u);
  EXPECT_EQ(locations[1].scalar(3), 0x402000u);
  ASSERT_EQ(locations[1].messages(4).size(), 1u);
  EXPECT_EQ(locations[1].messages(4)[0].scalar(1), 1u);
  EXPECT_EQ(locations[1].messages(4)[0].int64(2), 12);

  EXPECT_EQ(locations[2].scalar(1), 3u);
  EXPECT_EQ(locations[2].scalar(2), 2u);
  EXPECT_EQ(locations[2].scalar(3), kLibStart + 0x2345);
  EXPECT_TRUE(locations[2].messages(4).empty());
}

TEST(ProtoWriter, FunctionsCarryNamesFilesAndStartLines) {
  const Decoded d(yep::write_proto(sample_profile()));
  const auto functions = d.profile.messages(5);
  ASSERT_EQ(functions.size(), 3u);
  struct Want { uint64_t id; const char* name; const char* system_name; const char* file; int64_t start; };
  const Want want[] = {{1, "main", "main", "/src/app.c", 10},
                       {2, "ns::helper(int)", "_ZN2ns6helperEi", "/src/app.c", 20},
                       {3, "square", "square", "/src/inline.h", 5}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(functions[i].scalar(1), want[i].id);
    EXPECT_EQ(d.str_field(functions[i], 2), want[i].name);
    EXPECT_EQ(d.str_field(functions[i], 3), want[i].system_name);
    EXPECT_EQ(d.str_field(functions[i], 4), want[i].file);
    EXPECT_EQ(functions[i].int64(5), want[i].start);
  }
}

TEST(ProtoWriter, IdsAreNonZeroUniqueAndReferencesResolve) {
  const Decoded d(yep::write_proto(sample_profile()));
  auto ids = [&](uint32_t number) {
    std::set<uint64_t> out;
    for (const Message& m : d.profile.messages(number)) {
      const uint64_t id = m.scalar(1);
      EXPECT_NE(id, 0u) << "field " << number;
      EXPECT_TRUE(out.insert(id).second) << "duplicate id " << id << " in field " << number;
    }
    return out;
  };
  const auto mapping_ids = ids(3), location_ids = ids(4), function_ids = ids(5);
  for (const Message& loc : d.profile.messages(4)) {
    const uint64_t m = loc.scalar(2);
    if (m) {
      EXPECT_EQ(mapping_ids.count(m), 1u);
    }
    for (const Message& line : loc.messages(4)) EXPECT_EQ(function_ids.count(line.scalar(1)), 1u);
  }
  const size_t ntypes = d.profile.count(1);
  for (const Message& s : d.profile.messages(2)) {
    for (uint64_t id : s.repeated(1)) EXPECT_EQ(location_ids.count(id), 1u);
    EXPECT_EQ(s.repeated(2).size(), ntypes);
  }
  // Every string index in range.
  for (const Message& f : d.profile.messages(5))
    for (uint32_t n : {2u, 3u, 4u}) EXPECT_LT(f.scalar(n), d.strings.size());
}

TEST(ProtoWriter, NegativeAndLargeValuesRoundTrip) {
  yep::Profile p = sample_profile();
  p.samples[0].values = {-3, INT64_MAX};
  p.samples[1].values = {INT64_MIN, 0};
  const Decoded d(yep::write_proto(p));
  const auto samples = d.profile.messages(2);
  ASSERT_EQ(samples.size(), 3u);
  auto as_int64 = [](const std::vector<uint64_t>& v) {
    std::vector<int64_t> out;
    for (uint64_t x : v) out.push_back(static_cast<int64_t>(x));
    return out;
  };
  EXPECT_EQ(as_int64(samples[0].repeated(2)), (std::vector<int64_t>{-3, INT64_MAX}));
  EXPECT_EQ(as_int64(samples[1].repeated(2)), (std::vector<int64_t>{INT64_MIN, 0}));
}

TEST(ProtoWriter, EmptyProfileHasJustTheEmptyString) {
  const Decoded d(yep::write_proto(yep::Profile{}));
  EXPECT_EQ(d.strings, std::vector<std::string>{""});
  EXPECT_EQ(d.profile.count(2), 0u);
}

TEST(ProtoWriter, LargeProfileSurvivesCompression) {
  // Enough distinct data that deflate fills its output buffer many times.
  yep::Profile p = sample_profile();
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 50000; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    p.samples.push_back({{1 + x % 3, 2}, {static_cast<int64_t>(x >> 40), static_cast<int64_t>(x >> 8)}});
  }
  const Decoded d(yep::write_proto(p));
  const auto samples = d.profile.messages(2);
  ASSERT_EQ(samples.size(), p.samples.size());
  for (size_t i = 0; i < samples.size(); i += 997) {
    const auto values = samples[i].repeated(2);
    ASSERT_EQ(values.size(), 2u);
    EXPECT_EQ(static_cast<int64_t>(values[1]), p.samples[i].values[1]) << "sample " << i;
  }
}

}  // namespace
