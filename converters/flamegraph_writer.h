// Writes an interactive flame graph as one self-contained HTML file: no
// network, no CDN, all CSS and JavaScript inline, the call tree embedded as
// JSON. It opens from disk (file://) in Chromium and Firefox.
//
// The call tree merges samples by their frames root first (inlined frames
// expanded, as Profile::frames gives them): a node is one function (or, for a
// location the symbolizer left without lines, one "<object>+0x<offset>"
// address) under one parent, and its value is the sum of the sample values at
// value_index of every sample whose stack passes through it. Siblings are
// ordered heaviest first, so the page reads left to right by cost.
//
// The page shows:
//  - a header with the title, the total ("3.012 s CPU, 753 samples") and the
//    profile's comments;
//  - the graph, root at the bottom (flame graph) or at the top (icicle), with
//    a toggle; widths are proportional to value; labels are short names
//    (short_function_name for C/C++, Python names as they are) shortened to
//    fit; native frames in warm colours, Python frames (source file *.py) in
//    green/blue, unsymbolized addresses in grey;
//  - on hover or keyboard focus, a tooltip and a status line with the full
//    name, file:line, the value (seconds for nanoseconds, MiB for bytes,
//    counts plain) and the percentage of the total;
//  - click or Enter zooms into a frame, Escape or "Reset zoom" goes back;
//    Ctrl-F or the search box highlights the frames whose name contains the
//    text and shows the share of the total they account for; Tab and the
//    arrow keys move between frames.
//
// A comparison (Profile::diff, or any profile with negative values, whose
// negative samples are then the base) draws the new profile: widths by the
// new value (never negative, so no bar overflows its parent; frames only in
// the base have no width and are not drawn, the header says how much of the
// base they hold), each frame coloured by its change (red grew, blue shrank,
// grey unchanged; saturation by the change relative to the frame's own
// size), the tooltip with new, base, change and change%; the header says it
// is a comparison, with both totals (the comments name the base). The JSON
// then has "diff": true and nodes [depth, frame, value, base value].
//
// Everything taken from the profile is escaped: the title in HTML, the data as
// JSON whose '<', '>' and '&' are written \u003c, \u003e, \u0026 (so no "</script>"
// or "<!--" can appear inside the script element), invalid UTF-8 replaced by
// U+FFFD; the page's script inserts names with textContent only.
#pragma once

#include <cstddef>
#include <string>

#include "profile.h"

namespace yep {

// Throws ProfileError when value_index is out of range.
std::string write_flamegraph_html(const Profile& profile, size_t value_index, const std::string& title);

}  // namespace yep
