#include "proto_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "object_addresses.h"

namespace yep {

namespace {

// Field numbers of profile.proto (FORMATS.md, "pprof profile.proto").
namespace field {
enum ProfileField : uint32_t {
  kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5, kStringTable = 6,
  kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11, kPeriod = 12, kComment = 13, kDefaultSampleType = 14,
};
enum ValueTypeField : uint32_t { kValueTypeType = 1, kValueTypeUnit = 2 };
enum SampleField : uint32_t { kSampleLocationId = 1, kSampleValue = 2, kSampleLabel = 3 };
enum LabelField : uint32_t { kLabelKey = 1, kLabelStr = 2 };
enum MappingField : uint32_t {
  kMappingId = 1, kMemoryStart = 2, kMemoryLimit = 3, kFileOffset = 4, kMappingFilename = 5, kBuildId = 6,
  kHasFunctions = 7, kHasFilenames = 8, kHasLineNumbers = 9, kHasInlineFrames = 10,
};
enum LocationField : uint32_t { kLocationId = 1, kLocationMappingId = 2, kAddress = 3, kLine = 4 };
enum LineField : uint32_t { kLineFunctionId = 1, kLineLine = 2 };
enum FunctionField : uint32_t { kFunctionId = 1, kName = 2, kSystemName = 3, kFunctionFilename = 4, kStartLine = 5 };
}  // namespace field

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2 };

// Appends protobuf wire format to a string. Scalars equal to their default
// (0, false, string index 0) are left out, as proto3 encoders do.
class Encoder {
 public:
  std::string& bytes() { return out_; }
  void clear() { out_.clear(); }

  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void tag(uint32_t number, WireType type) { varint((static_cast<uint64_t>(number) << 3) | type); }

  void uint(uint32_t number, uint64_t v) {
    if (v == 0) return;
    tag(number, kVarint);
    varint(v);
  }
  // int64 is a varint of the two's complement (10 bytes when negative).
  void int64(uint32_t number, int64_t v) { uint(number, static_cast<uint64_t>(v)); }
  void boolean(uint32_t number, bool v) { uint(number, v ? 1 : 0); }

  void bytes(uint32_t number, const std::string& data) {
    tag(number, kLengthDelimited);
    varint(data.size());
    out_ += data;
  }
  // Packed repeated varints: one length-delimited field holding them all.
  template <typename Int>
  void packed(uint32_t number, const std::vector<Int>& values, Encoder& scratch) {
    if (values.empty()) return;
    scratch.clear();
    for (Int v : values) scratch.varint(static_cast<uint64_t>(v));
    bytes(number, scratch.out_);
  }

 private:
  std::string out_;
};

// The string table: "" first, then each distinct string once, in first-use order.
class StringTable {
 public:
  StringTable() { intern(""); }
  int64_t intern(const std::string& s) {
    auto [it, inserted] = index_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (inserted) strings_.push_back(&it->first);  // keys of an unordered_map never move
    return it->second;
  }
  const std::vector<const std::string*>& strings() const { return strings_; }

 private:
  std::unordered_map<std::string, int64_t> index_;
  std::vector<const std::string*> strings_;
};

std::string encode(const Profile& p, bool object_addresses) {
  StringTable strings;
  Encoder out, msg, sub, scratch;

  auto value_type = [&](uint32_t number, const ValueType& vt) {
    msg.clear();
    msg.int64(field::kValueTypeType, strings.intern(vt.type));
    msg.int64(field::kValueTypeUnit, strings.intern(vt.unit));
    out.bytes(number, msg.bytes());
  };

  for (const ValueType& vt : p.sample_types) value_type(field::kSampleType, vt);

  for (const Sample& s : p.samples) {
    msg.clear();
    msg.packed(field::kSampleLocationId, s.location_ids, scratch);
    msg.packed(field::kSampleValue, s.values, scratch);
    for (const Label& l : s.labels) {  // thread, process, profile: string labels
      sub.clear();
      sub.int64(field::kLabelKey, strings.intern(l.key));
      sub.int64(field::kLabelStr, strings.intern(l.value));
      msg.bytes(field::kSampleLabel, sub.bytes());
    }
    out.bytes(field::kSample, msg.bytes());
  }

  // Only the locations and functions the samples use (hiding the
  // interpreter's frames leaves some unused), so pprof's listings of them
  // agree with its traces.
  std::vector<bool> used_location(p.locations.size(), false), used_function(p.functions.size(), false);
  for (const Sample& s : p.samples)
    for (uint64_t id : s.location_ids) used_location[id - 1] = true;
  for (const Location& loc : p.locations)
    if (used_location[loc.id - 1])
      for (const Line& line : loc.lines) used_function[line.function_id - 1] = true;

  // A mapping is symbolized when any location in it has lines.
  std::vector<bool> symbolized(p.mappings.size(), false);
  for (const Location& loc : p.locations)
    if (used_location[loc.id - 1] && loc.mapping_id && !loc.lines.empty()) symbolized[loc.mapping_id - 1] = true;
  for (const Mapping& m : p.mappings) {
    const bool has = symbolized[m.id - 1];
    msg.clear();
    const ObjectRange range =
        object_addresses ? object_range(m) : ObjectRange{m.memory_start, m.memory_limit, m.file_offset};
    msg.uint(field::kMappingId, m.id);
    msg.uint(field::kMemoryStart, range.start);
    msg.uint(field::kMemoryLimit, range.limit);
    msg.uint(field::kFileOffset, range.file_offset);
    msg.int64(field::kMappingFilename, strings.intern(m.filename));
    msg.int64(field::kBuildId, strings.intern(m.build_id));
    msg.boolean(field::kHasFunctions, has);
    msg.boolean(field::kHasFilenames, has);
    msg.boolean(field::kHasLineNumbers, has);
    msg.boolean(field::kHasInlineFrames, has);
    out.bytes(field::kMapping, msg.bytes());
  }

  for (const Location& loc : p.locations) {
    if (!used_location[loc.id - 1]) continue;
    msg.clear();
    msg.uint(field::kLocationId, loc.id);
    msg.uint(field::kLocationMappingId, loc.mapping_id);
    msg.uint(field::kAddress, object_addresses ? object_address(p.mapping(loc.mapping_id), loc.address) : loc.address);
    for (const Line& line : loc.lines) {
      sub.clear();
      sub.uint(field::kLineFunctionId, line.function_id);
      sub.int64(field::kLineLine, line.line);
      msg.bytes(field::kLine, sub.bytes());
    }
    out.bytes(field::kLocation, msg.bytes());
  }

  for (const Function& f : p.functions) {
    if (!used_function[f.id - 1]) continue;
    msg.clear();
    msg.uint(field::kFunctionId, f.id);
    msg.int64(field::kName, strings.intern(f.name));
    msg.int64(field::kSystemName, strings.intern(f.system_name));
    msg.int64(field::kFunctionFilename, strings.intern(f.filename));
    msg.int64(field::kStartLine, f.start_line);
    out.bytes(field::kFunction, msg.bytes());
  }

  out.int64(field::kTimeNanos, p.time_nanos);
  out.int64(field::kDurationNanos, p.duration_nanos);
  value_type(field::kPeriodType, p.period_type);
  out.int64(field::kPeriod, p.period);
  std::vector<int64_t> comments;
  comments.reserve(p.comments.size());
  for (const std::string& c : p.comments) comments.push_back(strings.intern(c));
  out.packed(field::kComment, comments, scratch);
  if (p.default_sample_type < p.sample_types.size())
    out.int64(field::kDefaultSampleType, strings.intern(p.sample_types[p.default_sample_type].type));

  // Last, once every string is interned. Field order does not matter in
  // protobuf; decoders resolve the indexes after reading the whole message.
  for (const std::string* s : strings.strings()) out.bytes(field::kStringTable, *s);
  return std::move(out.bytes());
}

std::string gzip(const std::string& data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("zlib: deflateInit2 failed");
  std::string out;
  out.reserve(data.size() / 4 + 64);
  char buffer[1 << 16];
  size_t offset = 0;
  int flush;
  do {  // input in chunks, since avail_in is only 32 bits
    const size_t chunk = std::min(data.size() - offset, size_t{1} << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    zs.avail_in = static_cast<uInt>(chunk);
    offset += chunk;
    flush = offset == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buffer);
      zs.avail_out = sizeof buffer;
      if (deflate(&zs, flush) == Z_STREAM_ERROR) {
        deflateEnd(&zs);
        throw std::runtime_error("zlib: deflate failed");
      }
      out.append(buffer, sizeof buffer - zs.avail_out);
    } while (zs.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&zs);
  return out;
}

}  // namespace

std::string write_proto(const Profile& profile, bool object_addresses) {
  return gzip(encode(profile, object_addresses));
}

}  // namespace yep
