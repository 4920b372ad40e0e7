// Writes the call graph as Graphviz dot text, as pprof's -dot does (and its
// -svg through Graphviz): yep's own, so mixed Python + native profiles show
// their Python frames by name rather than as interpreter addresses.
//
// Nodes are functions (display_name, the definition's short file:line, as
// the text report names them); a node's flat is the value of samples whose
// leaf (innermost inlined frame) is in it, its cum the value of samples with
// it anywhere on the stack, counted once per sample. Edges go caller ->
// callee and carry the value of the samples in which the caller calls the
// callee, counted once per sample per edge even under recursion.
//
// Pruning, pprof's: nodes whose |cum| is under nodefraction of the total are
// dropped, then all but the nodecount heaviest by cum (0 = no limit), then
// edges under edgefraction of the total. A sample through dropped functions
// joins the kept ones around them with a residual edge.
//
// Conventions, pprof's (graph/dotgraph.go):
//  - node label "name\nfile:line\nflat (x%)\nof cum (y%)" (the "of" line
//    only when cum differs from flat), font size 8 + ceil(16 * sqrt(|flat| /
//    max |flat|)), border and fill on pprof's grey -> red scale by cum share;
//  - edge label the value it carries; penwidth 1 + min(5 * share, 5),
//    weight 1 + min(100 * share, 100), colour by share;
//  - residual edges (through dropped nodes) style="dotted";
//  - an edge from a function to the one inlined into it (two lines of one
//    location) labelled "(inline)";
//  - a legend box: the profile type, the total, what is shown, and what was
//    dropped ("Dropped N nodes (cum <= X)", "Dropped M edges (freq <= Y)",
//    "Showing top K nodes out of L").
// A comparison (Profile::diff): flat, cum and edge values are the change
// (new - base, signed, as the text diff prints them), percentages of the
// base's total (pprof's total for a diff), and each node also says "cum
// base -> new"; pruning by |cum change| and |edge change| against the base's
// total; font size by |flat change|; colour pprof's dotColor of change /
// base total (red grew, green shrank, grey near zero); the legend says it is
// a comparison, with new, base and change totals.
// Values print as the text report prints them (seconds, MiB, counts).
// Everything from the profile is escaped for dot's quoted strings.
#pragma once

#include <cstddef>
#include <string>

#include "profile.h"

namespace yep {

struct DotOptions {
  size_t nodecount = 80;       // 0 = no limit
  double nodefraction = 0.005;
  double edgefraction = 0.001;
  std::string title;           // the legend's first line, "" = none
};

// Throws ProfileError when value_index is out of range.
std::string write_dot(const Profile& profile, size_t value_index, const DotOptions& options);

}  // namespace yep
