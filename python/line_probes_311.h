// Line probes in CPython 3.11 bytecode: a copy of a function's code object
// with the tracer's events inserted, so that its lines are measured without
// a trace function (which on 3.11 sends every instruction of every frame
// through the interpreter's slow tracing path and costs 2.3x by itself).
// Each probe is `LOAD_CONST probe; LOAD_CONST arg; BINARY_OP @; POP_TOP`:
// the probe object's nb_matrix_multiply is the event, called with an int.
// An operator, not a call: no call checks for pending signals after it, so
// no KeyboardInterrupt or signal handler's exception can come between an
// event and the instruction it stands for (an exception right after leave
// popped the activation would make the handler below pop the caller's).
//
//   enter(first line)  right after the RESUME that ends the prologue: the
//                      activation starts, and so does its first line;
//   line(line)         on every way into a line from another one (falling
//                      through, a jump, an exception handler), and never on
//                      a jump within a line, so a line counts once each time
//                      it is entered, as sys.monitoring's LINE does on 3.12+;
//   leave(0)           before each RETURN_VALUE, and in a handler added
//                      around the whole body (from enter on) that calls it
//                      and re-raises, for an exception that leaves the frame.
//
// Jumps, the exception table, the line and column table and the stack size
// are rewritten to match; the copy's lines, columns and behaviour are the
// original's. Never between PRECALL and its CALL (a specialized PRECALL
// skips a fixed distance) or after KW_NAMES. Only plain functions:
// generators and coroutines (whose suspension points the interpreter
// expects in exact shapes) are refused.
#pragma once

#include <Python.h>

namespace yep {

struct LineProbes {
  PyObject* enter;  // objects whose type's nb_matrix_multiply takes a line number (an int)
  PyObject* line;
  PyObject* leave;
};

// A new code object with the probes in, or nullptr (no Python error set)
// when the code is not one this can rewrite (a generator or coroutine, or a
// shape it does not know); the caller then traces it another way.
PyObject* insert_line_probes(PyObject* code, const LineProbes& probes);

}  // namespace yep
