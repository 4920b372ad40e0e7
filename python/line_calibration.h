// The line tracer's own cost per event, measured at start-up so that it can
// be taken out of the line times (as the profile module's calibration does).
//
// The tracer reads the clock once per line boundary, so a line's measured
// time is its own work plus the cost of the event that ends it: the
// interpreter noticing the line change and calling the hook, the hook, the
// tracer's bookkeeping and its return. To measure that, a loop of known,
// near-empty lines (`for item in items: last = item`, which allocates
// nothing) runs first untraced, timed as a whole (the lines' true time),
// then traced, timed by the tracer itself; the cost is the tracer's time per
// event minus the true time per line, the smallest of several runs of each,
// so that a moment the machine was busy elsewhere does not count. Takes a
// few milliseconds.
#pragma once

#include <functional>

namespace yep {

// Runs the untraced loops, then start() (which must start the tracer: the
// calibration loop's code is registered then), then the traced loops;
// returns the cost per event in clock ticks (line_clock.h; >= 0). The
// tracer is left started.
double measure_line_event_cost(const std::function<void()>& start);

}  // namespace yep
