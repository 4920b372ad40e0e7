// The folded (collapsed stacks) and flame graph HTML writers on a profile
// built by hand: recursion, an inlined frame, a C++ template name, Python
// frames, names with HTML/script metacharacters, ';' and newlines,
// unsymbolized addresses and a sample with no stack.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "flamegraph_writer.h"
#include "folded_writer.h"

namespace {

using yep::Profile;

// Function ids (index + 1 in Profile::functions).
enum : uint64_t { kMain = 1, kFib, kPushBack, kInlineHelper, kCompute, kEvil, kOdd, kUnsym };
// Location ids.
enum : uint64_t { lMain = 1, lFib, lPushBack, lInlined, lEvil, lOdd, lUnsym, lNoLines };

const char kEvilName[] = "</script><b>&\"'";

Profile make_profile() {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.default_sample_type = 1;
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10;
  p.comments = {"made by hand <for> the test & \xff"};
  p.mappings.push_back({1, 0x7f0000000000, 0x7f0000100000, 0x2000, "/lib/libbar.so", "", true});
  auto function = [&](const std::string& name, const std::string& file, int64_t line) {
    yep::Function f;
    f.id = p.functions.size() + 1;
    f.name = f.system_name = name;
    f.filename = file;
    f.start_line = line;
    p.functions.push_back(f);
  };
  function("main", "/src/main.c", 10);
  function("fib", "/src/fib.c", 3);
  function("std::vector<int, std::allocator<int> >::push_back(int const&)", "/usr/include/c++/12/bits/stl_vector.h",
           1270);
  function("inline_helper", "/src/fib.c", 20);
  function("compute", "/src/fib.c", 25);
  function(kEvilName, "/src/evil.py", 1);
  function("ns::odd;name\nline", "/src/odd.c", 5);
  function("libfoo.so+0x1234", "", 0);
  auto location = [&](std::vector<yep::Line> lines, uint64_t mapping = 0, uint64_t address = 0) {
    yep::Location l;
    l.id = p.locations.size() + 1;
    l.mapping_id = mapping;
    l.address = address;
    l.lines = std::move(lines);
    p.locations.push_back(l);
  };
  location({{kMain, 12}});
  location({{kFib, 5}});
  location({{kPushBack, 1280}});
  location({{kInlineHelper, 21}, {kCompute, 27}});  // inline_helper inlined into compute
  location({{kEvil, 2}});
  location({{kOdd, 6}});
  location({{kUnsym, 0}});
  location({}, 1, 0x7f0000000100);  // left unsymbolized
  p.samples = {
      {{lFib, lFib, lFib, lMain}, {3, 30}},
      {{lFib, lFib, lFib, lMain}, {1, 10}},
      {{lPushBack, lFib, lMain}, {2, 20}},
      {{lInlined, lMain}, {5, 50}},
      {{lEvil, lMain}, {1, 7}},
      {{lOdd, lMain}, {1, 4}},
      {{lNoLines, lUnsym}, {1, 2}},
      {{}, {1, 1}},
      {{lMain}, {0, 0}},
  };
  p.check_valid();
  return p;
}

// The text of the JSON data element.
std::string data_of(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"yep-data\">";
  size_t from = html.find(open);
  EXPECT_NE(from, std::string::npos);
  from += open.size();
  size_t to = html.find("</script>", from);
  EXPECT_NE(to, std::string::npos);
  return html.substr(from, to - from);
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(FoldedWriter, MergesStacksRootFirstWithShortNames) {
  const Profile p = make_profile();
  EXPECT_EQ(yep::write_folded(p, 1),
            "[no stack] 1\n"
            "libfoo.so+0x1234;libbar.so+0x2100 2\n"
            "main;</script><b>&\"' 7\n"
            "main;compute;inline_helper 50\n"
            "main;fib;fib;fib 40\n"
            "main;fib;std::vector::push_back 20\n"
            "main;ns::odd,name line 4\n");
}

TEST(FoldedWriter, OtherValueIndexAndTotals) {
  const Profile p = make_profile();
  const std::string folded = yep::write_folded(p, 0);
  EXPECT_NE(folded.find("main;fib;fib;fib 4\n"), std::string::npos) << folded;
  EXPECT_NE(folded.find("main;compute;inline_helper 5\n"), std::string::npos) << folded;
  // The zero-valued sample is left out; the values sum to the total.
  int64_t sum = 0;
  size_t lines = 0;
  for (size_t at = 0, nl; (nl = folded.find('\n', at)) != std::string::npos; at = nl + 1, ++lines)
    sum += std::stoll(folded.substr(folded.rfind(' ', nl) + 1, nl));
  EXPECT_EQ(lines, 7u);
  EXPECT_EQ(sum, 15);
}

TEST(FoldedWriter, ValueIndexOutOfRange) {
  EXPECT_THROW(yep::write_folded(make_profile(), 2), yep::ProfileError);
  EXPECT_THROW(yep::write_folded(make_profile(), SIZE_MAX), yep::ProfileError);
  EXPECT_THROW(yep::write_flamegraph_html(make_profile(), 5, "t"), yep::ProfileError);
}

TEST(FlamegraphWriter, SelfContainedPage) {
  const std::string html = yep::write_flamegraph_html(make_profile(), 1, "fib <b>&</b> \"test\"");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  // No network: nothing is loaded from elsewhere.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // The title, escaped as HTML.
  EXPECT_NE(html.find("<title>fib &lt;b&gt;&amp;&lt;/b&gt; &quot;test&quot;</title>"), std::string::npos);
  // Exactly two script elements end: the data and the code.
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
}

TEST(FlamegraphWriter, DataIsEscapedJson) {
  const std::string data = data_of(yep::write_flamegraph_html(make_profile(), 1, "fib <b>&</b>"));
  // Nothing in the data can end the script element or open a comment.
  EXPECT_EQ(data.find('<'), std::string::npos) << data;
  EXPECT_EQ(data.find('>'), std::string::npos) << data;
  EXPECT_EQ(data.find('&'), std::string::npos) << data;
  EXPECT_NE(data.find("\"title\": \"fib \\u003cb\\u003e\\u0026\\u003c/b\\u003e\""), std::string::npos) << data;
  // The evil Python name, escaped, and kept whole (no C++ shortening).
  EXPECT_NE(data.find("{\"name\": \"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\\"'\", "
                      "\"full\": \"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\\"'\", "
                      "\"file\": \"/src/evil.py\", \"line\": 1, \"kind\": \"python\"}"),
            std::string::npos)
      << data;
  // The C++ name: short label, full name escaped.
  EXPECT_NE(data.find("{\"name\": \"std::vector::push_back\", "
                      "\"full\": \"std::vector\\u003cint, std::allocator\\u003cint\\u003e \\u003e::push_back(int const\\u0026)\", "
                      "\"file\": \"/usr/include/c++/12/bits/stl_vector.h\", \"line\": 1270, \"kind\": \"native\"}"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find("\"full\": \"ns::odd;name\\nline\""), std::string::npos) << data;
  EXPECT_NE(data.find("{\"name\": \"libfoo.so+0x1234\", \"full\": \"libfoo.so+0x1234\", \"file\": \"\", \"line\": 0, "
                      "\"kind\": \"unsymbolized\"}"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find("\"name\": \"libbar.so+0x2100\""), std::string::npos) << data;
  // Comments escaped; invalid UTF-8 replaced by U+FFFD.
  EXPECT_NE(data.find("\"comments\": [\"made by hand \\u003cfor\\u003e the test \\u0026 \xef\xbf\xbd\"]"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find("\"unit\": \"nanoseconds\""), std::string::npos);
  EXPECT_NE(data.find("\"samples\": 15,"), std::string::npos);
}

TEST(FlamegraphWriter, TreeMergesRecursionAndInlinedFrames) {
  const std::string data = data_of(yep::write_flamegraph_html(make_profile(), 1, "t"));
  // Frames in order of first use: all, main, fib, push_back... Look nodes up by name.
  auto frame_index = [&](const std::string& name) {
    size_t at = data.find("{\"name\": \"" + name + "\"");
    EXPECT_NE(at, std::string::npos) << name;
    return count(data.substr(0, at), "{\"name\": ");
  };
  const size_t all = frame_index("all"), main = frame_index("main"), fib = frame_index("fib"),
               push_back = frame_index("std::vector::push_back"), compute = frame_index("compute"),
               helper = frame_index("inline_helper");
  EXPECT_EQ(all, 0u);
  auto node = [](size_t depth, size_t frame, int64_t value) {
    return "[" + std::to_string(depth) + "," + std::to_string(frame) + "," + std::to_string(value) + "]";
  };
  // Depth first, heaviest child first: main 121 = fib 60 + compute 50 + evil 7 + odd 4.
  const std::string expected = node(0, all, 124) + ",\n" + node(1, main, 121) + ",\n" + node(2, fib, 60) + ",\n" +
                               node(3, fib, 40) + ",\n" + node(4, fib, 40) + ",\n" + node(3, push_back, 20) + ",\n" +
                               node(2, compute, 50) + ",\n" + node(3, helper, 50) + ",\n";
  EXPECT_NE(data.find("\"nodes\": [\n" + expected), std::string::npos) << data;
  EXPECT_EQ(count(data, "\n[1,"), 3u);  // main, libfoo.so+0x1234, [no stack]
}

// A comparison: the base's samples (negated, labelled pprof::base) become
// each node's base value; widths (the value) are the new profile's, never
// negative; a frame only in the base has value 0.
TEST(FlamegraphWriter, ComparisonNodesCarryNewAndBase) {
  Profile p = make_profile();
  p.samples = {
      {{lFib, lMain}, {3, 30}},
      {{lEvil, lMain}, {1, 10}},
      {{lFib, lMain}, {-1, -10}, {{Profile::kBaseLabel, "true"}}},
      {{lOdd, lMain}, {-2, -20}, {{Profile::kBaseLabel, "true"}}},
      {{lEvil, lMain}, {-1, -10}, {{Profile::kBaseLabel, "true"}}},
  };
  p.diff = true;
  const std::string data = data_of(yep::write_flamegraph_html(p, 1, "t"));
  EXPECT_NE(data.find("\"diff\": true,"), std::string::npos) << data;
  EXPECT_NE(data.find("\"samples\": 4,"), std::string::npos) << data;
  EXPECT_NE(data.find("\"base_samples\": 4,"), std::string::npos) << data;
  // all: new 40, base 40; main the same; fib 30 (base 10), evil 10 (10), odd 0 (20).
  EXPECT_NE(data.find("\"nodes\": [\n[0,0,40,40],\n[1,1,40,40],\n[2,2,30,10],\n"), std::string::npos) << data;
  EXPECT_NE(data.find(",0,20]"), std::string::npos) << data;  // odd: only in the base
  EXPECT_EQ(data.find(",-"), std::string::npos) << data;      // no negative figure anywhere
}

// Negative values without Profile::diff (a profile subtracted elsewhere)
// are drawn as a comparison too, never as negative widths.
TEST(FlamegraphWriter, NegativeValuesAreABase) {
  Profile p = make_profile();
  p.samples = {{{lFib, lMain}, {3, 30}}, {{lOdd, lMain}, {-2, -20}}};
  const std::string data = data_of(yep::write_flamegraph_html(p, 1, "t"));
  EXPECT_NE(data.find("\"diff\": true,"), std::string::npos) << data;
  EXPECT_EQ(data.find(",-"), std::string::npos) << data;
}

TEST(FlamegraphWriter, EmptyProfileStillRenders) {
  Profile p;
  p.sample_types = {{"cpu", "nanoseconds"}};
  const std::string html = yep::write_flamegraph_html(p, 0, "empty");
  EXPECT_NE(data_of(html).find("\"nodes\": [\n[0,0,0]\n]"), std::string::npos);
  EXPECT_EQ(yep::write_folded(p, 0), "");
}

}  // namespace
