// The call graph writer (dot_writer.h) on profiles built by hand: node
// labels with flat and cum, edges, pprof's pruning (nodecount, nodefraction,
// edgefraction, a dotted residual edge over dropped nodes) and a
// comparison's figures (signed changes, base -> new) and diff colours.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "dot_writer.h"

namespace {

using yep::Profile;

enum : uint64_t { kMain = 1, kA, kB, kLeaf, kHelper, kSteady };
const int64_t kMs = 1000000;  // values are CPU nanoseconds

// A profile of main -> {a, b, helper, steady}, a and b -> leaf; each
// location is one function (location id == function id). Samples: stacks
// leaf first as function ids, and a value in milliseconds.
struct Stack {
  std::vector<uint64_t> frames;
  int64_t ms;
  bool base = false;  // a comparison's base sample (value negated)
};

Profile make_profile(const std::vector<Stack>& stacks, bool diff = false) {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.default_sample_type = 1;
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10 * kMs;
  for (const char* name : {"main", "a", "b", "leaf", "helper", "steady"}) {
    yep::Function f;
    f.id = p.functions.size() + 1;
    f.name = f.system_name = name;
    f.filename = "/src/prog.c";
    f.start_line = static_cast<int64_t>(f.id * 10);
    p.functions.push_back(f);
    yep::Location l;
    l.id = f.id;
    l.lines = {{f.id, f.start_line + 1}};
    p.locations.push_back(l);
  }
  p.diff = diff;
  for (const Stack& s : stacks) {
    yep::Sample sample;
    sample.location_ids = s.frames;
    const int64_t sign = s.base ? -1 : 1;
    sample.values = {sign * s.ms / 10, sign * s.ms * kMs};
    if (s.base) sample.labels.push_back({Profile::kBaseLabel, "true"});
    p.samples.push_back(sample);
  }
  p.check_valid();
  return p;
}

// main -> a -> leaf 600 ms, main -> b -> leaf 200, main -> b 150, main -> helper 50.
Profile plain_profile() {
  return make_profile({{{kLeaf, kA, kMain}, 600}, {{kLeaf, kB, kMain}, 200}, {{kB, kMain}, 150},
                       {{kHelper, kMain}, 50}});
}

yep::DotOptions no_pruning() {
  yep::DotOptions o;
  o.nodecount = 0;
  o.nodefraction = 0;
  o.edgefraction = 0;
  return o;
}

// The statement of the node named `name`, "" when it is not in the graph.
std::string node(const std::string& dot, const std::string& name) {
  const std::regex re("N\\d+ \\[label=\"" + name + "\\\\n.*");
  for (size_t at = 0, next; at < dot.size(); at = next + 1) {
    next = dot.find('\n', at);
    if (next == std::string::npos) next = dot.size();
    const std::string line = dot.substr(at, next - at);
    if (std::regex_match(line, re)) return line;
  }
  return "";
}

// The node's id ("N3"), for finding its edges.
std::string node_id(const std::string& dot, const std::string& name) {
  const std::string line = node(dot, name);
  return line.substr(0, line.find(' '));
}

// The statement of the edge from -> to, "" when absent.
std::string edge(const std::string& dot, const std::string& from, const std::string& to) {
  const std::string prefix = node_id(dot, from) + " -> " + node_id(dot, to) + " [";
  const size_t at = dot.find("\n" + prefix);
  if (at == std::string::npos) return "";
  return dot.substr(at + 1, dot.find('\n', at + 1) - at - 1);
}

std::string attribute(const std::string& statement, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(statement, m, std::regex("[ [(]" + key + "=\"([^\"]*)\""))) return "";
  return m[1];
}

// (red, green, blue) of a "#rrggbb" colour.
std::vector<int> rgb(const std::string& colour) {
  EXPECT_EQ(colour.size(), 7u) << colour;
  if (colour.size() != 7) return {0, 0, 0};
  return {static_cast<int>(std::strtol(colour.substr(1, 2).c_str(), nullptr, 16)),
          static_cast<int>(std::strtol(colour.substr(3, 2).c_str(), nullptr, 16)),
          static_cast<int>(std::strtol(colour.substr(5, 2).c_str(), nullptr, 16))};
}

TEST(DotWriter, NodeLabelsHaveFlatAndCum) {
  const std::string dot = yep::write_dot(plain_profile(), 1, no_pruning());
  EXPECT_EQ(attribute(node(dot, "leaf"), "label"), "leaf\\nprog.c:40\\n0.800s (80.00%)");
  EXPECT_EQ(attribute(node(dot, "b"), "label"), "b\\nprog.c:30\\n0.150s (15.00%)\\nof 0.350s (35.00%)");
  EXPECT_EQ(attribute(node(dot, "main"), "label"), "main\\nprog.c:10\\n0 of 1.000s (100.00%)");
  EXPECT_EQ(attribute(edge(dot, "main", "a"), "label"), " 0.600s");
  EXPECT_EQ(attribute(edge(dot, "b", "leaf"), "label"), " 0.200s");
  EXPECT_EQ(edge(dot, "main", "leaf"), "");  // no direct call
  EXPECT_NE(dot.find("Total: 1.000s in 100 samples\\l"), std::string::npos) << dot;
  // Font size by flat: leaf has the most.
  EXPECT_NE(node(dot, "leaf").find("fontsize=24 "), std::string::npos);
  EXPECT_NE(node(dot, "main").find("fontsize=8 "), std::string::npos);
  // Not a comparison: no signs, no "->" line.
  EXPECT_EQ(dot.find("+0."), std::string::npos);
  EXPECT_EQ(dot.find("Comparison"), std::string::npos);
}

TEST(DotWriter, NodefractionDropsLightNodes) {
  yep::DotOptions o = no_pruning();
  o.nodefraction = 0.1;  // helper's cum is 5%
  const std::string dot = yep::write_dot(plain_profile(), 1, o);
  EXPECT_EQ(node(dot, "helper"), "");
  EXPECT_NE(node(dot, "b"), "");
  EXPECT_NE(dot.find("Dropped 1 nodes (cum <= 0.100s)\\l"), std::string::npos) << dot;
}

TEST(DotWriter, NodecountKeepsTheHeaviestAndJoinsThemWithDottedEdges) {
  yep::DotOptions o = no_pruning();
  o.nodecount = 2;  // main (cum 1.0s) and leaf (0.8s); a and b go
  const std::string dot = yep::write_dot(plain_profile(), 1, o);
  EXPECT_EQ(node(dot, "a"), "");
  EXPECT_EQ(node(dot, "b"), "");
  const std::string residual = edge(dot, "main", "leaf");
  EXPECT_EQ(attribute(residual, "label"), " 0.800s");
  EXPECT_NE(residual.find("style=\"dotted\""), std::string::npos) << residual;
  EXPECT_NE(dot.find("Showing top 2 nodes out of 5\\l"), std::string::npos) << dot;
}

TEST(DotWriter, EdgefractionDropsLightEdges) {
  yep::DotOptions o = no_pruning();
  o.edgefraction = 0.1;  // main -> helper carries 5%
  const std::string dot = yep::write_dot(plain_profile(), 1, o);
  EXPECT_NE(node(dot, "helper"), "");
  EXPECT_EQ(edge(dot, "main", "helper"), "");
  EXPECT_NE(edge(dot, "b", "leaf"), "");
  EXPECT_NE(dot.find("Dropped 1 edges (freq <= 0.100s)\\l"), std::string::npos) << dot;
}

// Base (1.000s): main -> a -> leaf 300 ms, main -> b 150, main -> helper 450,
// main -> steady 100. New (0.750s): main -> a -> leaf 600, main -> b 50,
// main -> steady 100.
Profile diff_profile() {
  return make_profile({{{kLeaf, kA, kMain}, 600},
                       {{kB, kMain}, 50},
                       {{kSteady, kMain}, 100},
                       {{kLeaf, kA, kMain}, 300, true},
                       {{kB, kMain}, 150, true},
                       {{kHelper, kMain}, 450, true},
                       {{kSteady, kMain}, 100, true}},
                      true);
}

TEST(DotWriter, ComparisonShowsChangesAndBaseToNew) {
  const std::string dot = yep::write_dot(diff_profile(), 1, no_pruning());
  // Changes with sign, as shares of the base's total; then cum base -> new.
  EXPECT_EQ(attribute(node(dot, "leaf"), "label"),
            "leaf\\nprog.c:40\\n+0.300s (+30.00%)\\ncum 0.300s \xe2\x86\x92 0.600s");
  EXPECT_EQ(attribute(node(dot, "helper"), "label"),
            "helper\\nprog.c:50\\n-0.450s (-45.00%)\\ncum 0.450s \xe2\x86\x92 0");
  EXPECT_EQ(attribute(node(dot, "main"), "label"),
            "main\\nprog.c:10\\n0 of -0.250s (-25.00%)\\ncum 1.000s \xe2\x86\x92 0.750s");
  EXPECT_EQ(attribute(node(dot, "steady"), "label"), "steady\\nprog.c:60\\n0\\ncum 0.100s \xe2\x86\x92 0.100s");
  EXPECT_EQ(attribute(edge(dot, "main", "a"), "label"), " +0.300s");
  EXPECT_EQ(attribute(edge(dot, "main", "helper"), "label"), " -0.450s");
  EXPECT_NE(dot.find("Comparison: new 0.750s, base 1.000s, change -0.250s (-25.00% of the base)\\l"),
            std::string::npos)
      << dot;
  // Font size by |flat change|: helper's is the largest.
  EXPECT_NE(node(dot, "helper").find("fontsize=24 "), std::string::npos);
}

TEST(DotWriter, ComparisonColoursRedForGrowthGreenForDecreaseGreyForNone) {
  const std::string dot = yep::write_dot(diff_profile(), 1, no_pruning());
  for (const char* grew : {"leaf", "a"}) {
    const std::vector<int> c = rgb(attribute(node(dot, grew), "color"));
    EXPECT_GT(c[0], c[1] + 40) << grew << " " << node(dot, grew);
    EXPECT_GT(c[0], c[2] + 40) << grew;
  }
  for (const char* shrank : {"helper", "main"}) {
    const std::vector<int> c = rgb(attribute(node(dot, shrank), "color"));
    EXPECT_GT(c[1], c[0] + 40) << shrank << " " << node(dot, shrank);
    EXPECT_GT(c[1], c[2] + 40) << shrank;
  }
  const std::vector<int> steady = rgb(attribute(node(dot, "steady"), "color"));
  EXPECT_EQ(steady[0], steady[1]);
  EXPECT_EQ(steady[1], steady[2]);
  const std::vector<int> up = rgb(attribute(edge(dot, "main", "a"), "color"));
  const std::vector<int> down = rgb(attribute(edge(dot, "main", "helper"), "color"));
  EXPECT_GT(up[0], up[1] + 40);
  EXPECT_GT(down[1], down[0] + 40);
}

TEST(DotWriter, ComparisonPrunesByTheSizeOfTheChange) {
  yep::DotOptions o = no_pruning();
  o.nodefraction = 0.2;  // of the base's 1.000s: b (-0.100s) and steady (0) go, helper (-0.450s) stays
  const std::string dot = yep::write_dot(diff_profile(), 1, o);
  EXPECT_EQ(node(dot, "b"), "");
  EXPECT_EQ(node(dot, "steady"), "");
  EXPECT_NE(node(dot, "helper"), "");
  EXPECT_NE(node(dot, "leaf"), "");
  EXPECT_NE(dot.find("Dropped 2 nodes (cum |change| <= 0.200s)\\l"), std::string::npos) << dot;
  o.nodefraction = 0;
  o.edgefraction = 0.2;  // main -> b (-0.100s) and main -> steady (0) go
  const std::string edges = yep::write_dot(diff_profile(), 1, o);
  EXPECT_EQ(edge(edges, "main", "b"), "");
  EXPECT_NE(edge(edges, "main", "helper"), "");
  EXPECT_NE(edges.find("Dropped 2 edges (freq |change| <= 0.200s)\\l"), std::string::npos) << edges;
}

}  // namespace
