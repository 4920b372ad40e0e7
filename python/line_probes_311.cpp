#include "line_probes_311.h"

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000

#include <opcode.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace yep {

namespace {

// What the opcode module says about 3.11's instructions: inline cache units
// after each, relative jumps and their direction.
struct OpcodeInfo {
  int caches[256] = {};
  bool jump[256] = {};
  bool backward[256] = {};
  int matrix_multiply = -1;  // BINARY_OP's argument for @
  bool ok = false;
};

const OpcodeInfo& opcode_info() {
  static const OpcodeInfo info = [] {
    OpcodeInfo i;
    PyObject* m = PyImport_ImportModule("opcode");
    PyObject* caches = m ? PyObject_GetAttrString(m, "_inline_cache_entries") : nullptr;
    PyObject* hasjrel = m ? PyObject_GetAttrString(m, "hasjrel") : nullptr;
    PyObject* opname = m ? PyObject_GetAttrString(m, "opname") : nullptr;
    PyObject* nb_ops = m ? PyObject_GetAttrString(m, "_nb_ops") : nullptr;
    if (nb_ops && PyList_Check(nb_ops)) {
      for (Py_ssize_t k = 0; k < PyList_GET_SIZE(nb_ops); ++k) {
        PyObject* op = PyList_GET_ITEM(nb_ops, k);
        PyObject* name = PyTuple_Check(op) && PyTuple_GET_SIZE(op) == 2 ? PyTuple_GET_ITEM(op, 0) : nullptr;
        const char* text = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
        if (text && std::string(text) == "NB_MATRIX_MULTIPLY") i.matrix_multiply = static_cast<int>(k);
      }
    }
    Py_XDECREF(nb_ops);
    if (caches && hasjrel && opname && PyList_Check(caches) && PyList_GET_SIZE(caches) == 256 &&
        PyList_Check(hasjrel) && PyList_Check(opname) && PyList_GET_SIZE(opname) == 256) {
      i.ok = true;
      for (int op = 0; op < 256; ++op) {
        i.caches[op] = static_cast<int>(PyLong_AsLong(PyList_GET_ITEM(caches, op)));
        const char* name = PyUnicode_AsUTF8(PyList_GET_ITEM(opname, op));
        i.backward[op] = name && std::string(name).find("BACKWARD") != std::string::npos;
        if (i.caches[op] < 0) i.ok = false;
      }
      for (Py_ssize_t k = 0; k < PyList_GET_SIZE(hasjrel); ++k) {
        const long op = PyLong_AsLong(PyList_GET_ITEM(hasjrel, k));
        if (op >= 0 && op < 256) i.jump[op] = true;
      }
      if (PyErr_Occurred() || i.matrix_multiply < 0) i.ok = false;
    }
    PyErr_Clear();
    Py_XDECREF(caches);
    Py_XDECREF(hasjrel);
    Py_XDECREF(opname);
    Py_XDECREF(m);
    return i;
  }();
  return info;
}

bool falls_through(int op) {
  switch (op) {
    case JUMP_FORWARD: case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
    case RETURN_VALUE: case RAISE_VARARGS: case RERAISE:
      return false;
    default:
      return true;
  }
}

// Instructions only generators and coroutines have.
bool suspends(int op) {
  switch (op) {
    case YIELD_VALUE: case SEND: case RETURN_GENERATOR: case ASYNC_GEN_WRAP: case GET_AWAITABLE:
    case GET_AITER: case GET_ANEXT: case BEFORE_ASYNC_WITH: case END_ASYNC_FOR:
      return true;
    default:
      return false;
  }
}

// EXTENDED_ARG units an argument needs.
int prefixes_for(long arg) { return arg < (1 << 8) ? 0 : arg < (1 << 16) ? 1 : arg < (1 << 24) ? 2 : 3; }

struct Position {  // one code unit's source position; -1 is None
  int line = -1, end_line = -1, col = -1, end_col = -1;
  bool operator==(const Position& o) const {
    return line == o.line && end_line == o.end_line && col == o.col && end_col == o.end_col;
  }
};

struct Instr {
  int start = 0;     // first code unit (EXTENDED_ARG prefixes included)
  int at = 0;        // the unit of the opcode itself
  int op = 0;
  long arg = 0;
  int line = -1;     // -1: no line
  int eff_line = -1; // its line, or the line it falls through from (-1: unknown)
  int target = -1;   // a jump's target instruction
  bool handler = false;      // an exception handler starts here
  bool line_probe = false;   // a line probe comes before it
  bool skip = false;         // falling into it jumps over that probe
  bool leave_probe = false;  // a leave probe comes before it (RETURN_VALUE)
  bool enter_after = false;  // the prologue's RESUME: the enter probe follows it
  // The new layout, in code units.
  int prefixes = 0;
  int block = 0;  // skip jump, line probe, leave probe, prefixes, op, caches, enter probe
  int probe = 0;  // the line probe
  int body = 0;   // after the line probe
  int op_at = 0;  // the opcode unit
  int end = 0;
};

struct Entry {
  int start, end, target, depth;
  bool lasti;
};

int read_table_varint(const unsigned char*& p, const unsigned char* end, bool* ok) {
  if (p >= end) {
    *ok = false;
    return 0;
  }
  int b = *p++;
  int value = b & 63;
  while (b & 64) {
    if (p >= end) {
      *ok = false;
      return 0;
    }
    b = *p++;
    value = (value << 6) | (b & 63);
  }
  return value;
}

void write_table_varint(std::string& out, int value, bool first) {
  int shift = 24;
  while (shift > 0 && value < (1 << shift)) shift -= 6;
  unsigned char mark = first ? 0x80 : 0;
  for (; shift > 0; shift -= 6) {
    out.push_back(static_cast<char>(((value >> shift) & 63) | 64 | mark));
    mark = 0;
  }
  out.push_back(static_cast<char>((value & 63) | mark));
}

void write_location_varint(std::string& out, unsigned value) {
  while (value >= 64) {
    out.push_back(static_cast<char>((value & 63) | 64));
    value >>= 6;
  }
  out.push_back(static_cast<char>(value));
}

void write_location_svarint(std::string& out, int value) {
  write_location_varint(out, value < 0 ? (static_cast<unsigned>(-value) << 1) | 1 : static_cast<unsigned>(value) << 1);
}

// The line table (3.11's location format) of per-unit positions.
std::string location_table(const std::vector<Position>& units, int first_line) {
  std::string out;
  int line = first_line;
  for (size_t i = 0; i < units.size();) {
    size_t n = 1;
    while (n < 8 && i + n < units.size() && units[i + n] == units[i]) ++n;
    const Position& p = units[i];
    if (p.line < 0) {
      out.push_back(static_cast<char>(0x80 | (15 << 3) | (n - 1)));  // no location
    } else if (p.end_line < p.line || p.col < 0 || p.end_col < 0) {
      out.push_back(static_cast<char>(0x80 | (13 << 3) | (n - 1)));  // a line, no columns
      write_location_svarint(out, p.line - line);
      line = p.line;
    } else {
      out.push_back(static_cast<char>(0x80 | (14 << 3) | (n - 1)));  // long form
      write_location_svarint(out, p.line - line);
      write_location_varint(out, static_cast<unsigned>(p.end_line - p.line));
      write_location_varint(out, static_cast<unsigned>(p.col + 1));
      write_location_varint(out, static_cast<unsigned>(p.end_col + 1));
      line = p.line;
    }
    i += n;
  }
  return out;
}

int int_or_none(PyObject* v) { return v == Py_None ? -1 : static_cast<int>(PyLong_AsLong(v)); }

// co_positions(): one position per code unit.
bool read_positions(PyObject* code, size_t units, std::vector<Position>* out) {
  PyObject* it = PyObject_CallMethod(code, "co_positions", nullptr);
  PyObject* iter = it ? PyObject_GetIter(it) : nullptr;
  Py_XDECREF(it);
  if (!iter) return false;
  while (PyObject* t = PyIter_Next(iter)) {
    if (PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 4)
      out->push_back({int_or_none(PyTuple_GET_ITEM(t, 0)), int_or_none(PyTuple_GET_ITEM(t, 1)),
                      int_or_none(PyTuple_GET_ITEM(t, 2)), int_or_none(PyTuple_GET_ITEM(t, 3))});
    Py_DECREF(t);
  }
  Py_DECREF(iter);
  return !PyErr_Occurred() && out->size() == units;
}

class Rewriter {
 public:
  Rewriter(PyObject* code, const LineProbes& probes) : code_(code), probes_(probes) {}

  PyObject* run() {
    const OpcodeInfo& info = opcode_info();
    if (!info.ok || info.caches[BINARY_OP] != 1 || !parse(info) || !decide()) return nullptr;
    matrix_multiply_ = info.matrix_multiply;
    const int consts = static_cast<int>(PyTuple_GET_SIZE(consts_));
    // The new constants: the three probes, then the line numbers they pass.
    enter_const_ = consts;
    line_const_ = consts + 1;
    leave_const_ = consts + 2;
    for (const Instr& x : instrs_)
      if (x.line >= 0 && std::find(lines_.begin(), lines_.end(), x.line) == lines_.end()) lines_.push_back(x.line);
    if (std::find(lines_.begin(), lines_.end(), enter_line_) == lines_.end() && enter_line_ >= 0)
      lines_.push_back(enter_line_);
    lines_.push_back(0);  // leave's argument
    if (!layout(info)) return nullptr;
    return build(info);
  }

 private:
  bool parse(const OpcodeInfo& info) {
    const int flags = reinterpret_cast<PyCodeObject*>(code_)->co_flags;
    if (flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)) return false;
    PyObject* bytes = PyObject_GetAttrString(code_, "co_code");
    consts_ = PyObject_GetAttrString(code_, "co_consts");
    if (!bytes || !PyBytes_Check(bytes) || !consts_ || !PyTuple_Check(consts_)) {
      Py_XDECREF(bytes);
      return false;
    }
    code_bytes_.assign(PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
    Py_DECREF(bytes);
    const size_t units = code_bytes_.size() / 2;
    if (!read_positions(code_, units, &positions_)) return false;
    // Instructions, with their EXTENDED_ARG prefixes and inline caches.
    std::vector<int> instr_at_unit(units + 1, -1);
    long ext = 0;
    int start = 0;
    for (size_t u = 0; u < units;) {
      const int op = static_cast<unsigned char>(code_bytes_[2 * u]);
      const long arg = static_cast<unsigned char>(code_bytes_[2 * u + 1]);
      if (op == EXTENDED_ARG) {
        ext = (ext | arg) << 8;
        ++u;
        continue;
      }
      Instr x;
      x.start = start;
      x.at = static_cast<int>(u);
      x.op = op;
      x.arg = ext | arg;
      x.line = positions_[u].line;
      x.prefixes = x.at - x.start;
      if (suspends(op)) return false;
      instr_at_unit[start] = static_cast<int>(instrs_.size());
      instrs_.push_back(x);
      ext = 0;
      u += 1 + info.caches[op];
      start = static_cast<int>(u);
    }
    if (ext != 0 || static_cast<size_t>(start) != units) return false;
    instr_at_unit[units] = static_cast<int>(instrs_.size());  // the end
    for (Instr& x : instrs_) {
      if (!info.jump[x.op]) continue;
      const long t = info.backward[x.op] ? x.at + 1 - x.arg : x.at + 1 + x.arg;
      if (t < 0 || t >= static_cast<long>(units) || instr_at_unit[t] < 0) return false;
      x.target = instr_at_unit[t];
    }
    // The exception table.
    PyObject* table = PyObject_GetAttrString(code_, "co_exceptiontable");
    if (!table || !PyBytes_Check(table)) {
      Py_XDECREF(table);
      return false;
    }
    const unsigned char* p = reinterpret_cast<const unsigned char*>(PyBytes_AS_STRING(table));
    const unsigned char* end = p + PyBytes_GET_SIZE(table);
    bool ok = true;
    while (ok && p < end) {
      const int s = read_table_varint(p, end, &ok);
      const int len = read_table_varint(p, end, &ok);
      const int target = read_table_varint(p, end, &ok);
      const int dl = read_table_varint(p, end, &ok);
      if (!ok || s + len > static_cast<int>(units) || len <= 0 || target >= static_cast<int>(units) ||
          instr_at_unit[s] < 0 || instr_at_unit[s + len] < 0 || instr_at_unit[target] < 0)
        ok = false;
      else
        entries_.push_back({instr_at_unit[s], instr_at_unit[s + len], instr_at_unit[target], dl >> 1, (dl & 1) != 0});
    }
    Py_DECREF(table);
    if (!ok) return false;
    for (const Entry& e : entries_) instrs_[e.target].handler = true;
    return !instrs_.empty();
  }

  // Where the probes go (see the header).
  bool decide() {
    resume_ = -1;
    for (size_t i = 0; i < instrs_.size(); ++i)
      if (instrs_[i].op == RESUME && instrs_[i].arg == 0) {
        resume_ = static_cast<int>(i);
        break;
      }
    if (resume_ < 0 || resume_ + 1 >= static_cast<int>(instrs_.size())) return false;
    instrs_[resume_].enter_after = true;
    enter_line_ = instrs_[resume_ + 1].line;
    // The line each instruction counts as being on, for the edges out of it.
    for (size_t i = 0; i < instrs_.size(); ++i) {
      Instr& x = instrs_[i];
      x.eff_line = x.line;
      if (x.line < 0 && i > 0 && static_cast<int>(i) > resume_ + 1 && falls_through(instrs_[i - 1].op) &&
          !x.handler)
        x.eff_line = instrs_[i - 1].eff_line;
    }
    std::vector<bool> jumped_from_other_line(instrs_.size(), false);
    for (const Instr& j : instrs_)
      if (j.target >= 0 && j.eff_line != instrs_[j.target].line) jumped_from_other_line[j.target] = true;
    for (int i = resume_ + 1; i < static_cast<int>(instrs_.size()); ++i) {
      Instr& x = instrs_[i];
      const Instr& p = instrs_[i - 1];
      if (x.op == RETURN_VALUE) x.leave_probe = true;
      if (x.line < 0 || p.op == KW_NAMES || p.op == PRECALL) continue;  // (never between those and the call)
      const bool falls = falls_through(p.op);
      const bool fall_fires = falls && (i == resume_ + 1 ? false : p.eff_line != x.line);
      x.line_probe = fall_fires || jumped_from_other_line[i] || x.handler;
      x.skip = x.line_probe && falls && !fall_fires;
    }
    return true;
  }

  int probe_units(int const_index, int arg_const) const {
    return 5 + prefixes_for(const_index) + prefixes_for(arg_const);
  }
  int line_const_index(int line) const {
    return static_cast<int>(PyTuple_GET_SIZE(consts_)) + 3 +
           static_cast<int>(std::find(lines_.begin(), lines_.end(), line) - lines_.begin());
  }

  // Offsets in the new code; jumps get the EXTENDED_ARG prefixes their new
  // arguments need (never fewer than before, so this settles).
  bool layout(const OpcodeInfo& info) {
    for (int round = 0; round < 8; ++round) {
      int u = 0;
      for (Instr& x : instrs_) {
        x.block = u;
        if (x.skip) u += 1;
        x.probe = u;
        if (x.line_probe) u += probe_units(line_const_, line_const_index(x.line));
        x.body = u;
        if (x.leave_probe) u += probe_units(leave_const_, line_const_index(0));
        x.op_at = u + x.prefixes;
        u = x.op_at + 1 + info.caches[x.op];
        if (x.enter_after) u += probe_units(enter_const_, line_const_index(enter_line_ >= 0 ? enter_line_ : 0));
        x.end = u;
      }
      code_end_ = u;
      bool grew = false;
      for (Instr& x : instrs_) {
        if (x.target < 0) continue;
        const long arg = jump_arg(info, x);
        if (arg < 0) return false;  // a jump changed direction: cannot be
        if (prefixes_for(arg) > x.prefixes) {
          x.prefixes = prefixes_for(arg);
          grew = true;
        }
      }
      if (!grew) return true;
    }
    return false;
  }

  // Where a jump from j lands: into the target's line probe when it comes
  // from another line, else past it.
  int landing(const Instr& j) const {
    const Instr& t = instrs_[j.target];
    return t.line_probe && j.eff_line != t.line ? t.probe : t.body;
  }
  long jump_arg(const OpcodeInfo& info, const Instr& j) const {
    const int to = landing(j);
    return info.backward[j.op] ? j.op_at + 1 - to : to - (j.op_at + 1);
  }

  void emit(int op, long arg, const Position& pos) {
    for (int shift = 8 * prefixes_for(arg); shift > 0; shift -= 8) {
      out_.push_back(static_cast<char>(EXTENDED_ARG));
      out_.push_back(static_cast<char>((arg >> shift) & 0xff));
      units_.push_back(pos);
    }
    out_.push_back(static_cast<char>(op));
    out_.push_back(static_cast<char>(arg & 0xff));
    units_.push_back(pos);
  }
  void emit_caches(int n, const Position& pos) {
    for (int k = 0; k < n; ++k) emit(CACHE, 0, pos);
  }
  void emit_probe(int probe_const, int line, const Position& pos) {
    emit(LOAD_CONST, probe_const, pos);
    emit(LOAD_CONST, line_const_index(line), pos);
    emit(BINARY_OP, matrix_multiply_, pos);
    emit_caches(1, pos);
    emit(POP_TOP, 0, pos);
  }

  PyObject* build(const OpcodeInfo& info) {
    const Position none;
    for (size_t i = 0; i < instrs_.size(); ++i) {
      const Instr& x = instrs_[i];
      const Position own = positions_[x.at];
      const Position on_line{x.line, x.line, -1, -1};
      if (x.skip) emit(JUMP_FORWARD, x.body - x.probe, i > 0 ? positions_[instrs_[i - 1].at] : none);
      if (x.line_probe) emit_probe(line_const_, x.line, on_line);
      if (x.leave_probe) emit_probe(leave_const_, 0, on_line);
      const long arg = x.target >= 0 ? jump_arg(info, x) : x.arg;
      for (int k = prefixes_for(arg); k < x.prefixes; ++k) emit(EXTENDED_ARG, 0, own);  // kept, or grown: padding
      emit(x.op, arg, own);
      for (int k = 1; k <= info.caches[x.op]; ++k) {
        out_.push_back(0);
        out_.push_back(0);
        units_.push_back(positions_[x.at + k]);
      }
      if (x.enter_after)
        emit_probe(enter_const_, enter_line_ >= 0 ? enter_line_ : 0, Position{enter_line_, enter_line_, -1, -1});
      if (static_cast<int>(units_.size()) != x.end) return nullptr;  // the layout was wrong: leave the code alone
    }
    // The handler that ends the activation when an exception leaves it.
    const int stub = static_cast<int>(units_.size());
    emit_probe(leave_const_, 0, none);
    emit(RERAISE, 0, none);
    // Exception table: the old entries moved, then the gaps from the enter
    // probe on filled with the stub.
    std::vector<Entry> moved;
    for (const Entry& e : entries_) {
      const int s = instrs_[e.start].block;
      const int end = e.end < static_cast<int>(instrs_.size()) ? instrs_[e.end].block : code_end_;
      const Instr& h = instrs_[e.target];
      moved.push_back({s, end, h.line_probe ? h.probe : h.body, e.depth, e.lasti});
    }
    std::sort(moved.begin(), moved.end(), [](const Entry& a, const Entry& b) { return a.start < b.start; });
    std::vector<Entry> table;
    int covered = instrs_[resume_].op_at + 1;  // the enter probe: no exception can come before it reports
    for (const Entry& e : moved) {
      if (e.start > covered) table.push_back({covered, e.start, stub, 0, false});
      table.push_back(e);
      covered = std::max(covered, e.end);
    }
    if (covered < code_end_) table.push_back({covered, code_end_, stub, 0, false});
    std::string exceptions;
    for (const Entry& e : table) {
      if (e.end <= e.start) continue;
      write_table_varint(exceptions, e.start, true);
      write_table_varint(exceptions, e.end - e.start, false);
      write_table_varint(exceptions, e.target, false);
      write_table_varint(exceptions, (e.depth << 1) | (e.lasti ? 1 : 0), false);
    }
    const std::string locations =
        location_table(units_, reinterpret_cast<PyCodeObject*>(code_)->co_firstlineno);
    // The new constants and the copy.
    const Py_ssize_t n = PyTuple_GET_SIZE(consts_);
    PyObject* consts = PyTuple_New(n + 3 + static_cast<Py_ssize_t>(lines_.size()));
    if (!consts) return nullptr;
    for (Py_ssize_t k = 0; k < n; ++k) PyTuple_SET_ITEM(consts, k, Py_NewRef(PyTuple_GET_ITEM(consts_, k)));
    PyTuple_SET_ITEM(consts, n, Py_NewRef(probes_.enter));
    PyTuple_SET_ITEM(consts, n + 1, Py_NewRef(probes_.line));
    PyTuple_SET_ITEM(consts, n + 2, Py_NewRef(probes_.leave));
    for (size_t k = 0; k < lines_.size(); ++k)
      PyTuple_SET_ITEM(consts, n + 3 + static_cast<Py_ssize_t>(k), PyLong_FromLong(lines_[k]));
    PyObject* replace = PyObject_GetAttrString(code_, "replace");
    PyObject* kwargs = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:i}", "co_code", PyBytes_FromStringAndSize(out_.data(), out_.size()), "co_consts",
        consts, "co_linetable", PyBytes_FromStringAndSize(locations.data(), locations.size()),
        "co_exceptiontable", PyBytes_FromStringAndSize(exceptions.data(), exceptions.size()), "co_stacksize",
        std::max(reinterpret_cast<PyCodeObject*>(code_)->co_stacksize + 2, 3));
    PyObject* empty = PyTuple_New(0);
    PyObject* copy = replace && kwargs && empty ? PyObject_Call(replace, empty, kwargs) : nullptr;
    Py_XDECREF(empty);
    Py_XDECREF(kwargs);
    Py_XDECREF(replace);
    return copy;
  }

  PyObject* code_;
  const LineProbes& probes_;
  PyObject* consts_ = nullptr;  // borrowed from code_ via a new reference kept below
  std::string code_bytes_;
  std::vector<Position> positions_;
  std::vector<Instr> instrs_;
  std::vector<Entry> entries_;
  std::vector<int> lines_;
  int resume_ = -1, enter_line_ = -1;
  int enter_const_ = 0, line_const_ = 0, leave_const_ = 0;
  int code_end_ = 0;
  int matrix_multiply_ = 0;
  std::string out_;
  std::vector<Position> units_;

 public:
  ~Rewriter() { Py_XDECREF(consts_); }
};

}  // namespace

PyObject* insert_line_probes(PyObject* code, const LineProbes& probes) {
  if (!PyCode_Check(code)) return nullptr;
  Rewriter r(code, probes);
  PyObject* copy = r.run();
  if (!copy) PyErr_Clear();
  return copy;
}

}  // namespace yep

#endif  // 3.11
