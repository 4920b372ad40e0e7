#include "unwind_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace yep {

namespace {

// ---- memory: an array that grows with mremap, never with malloc ------------

class RowBuffer {
 public:
  ~RowBuffer() {
    if (data_) munmap(data_, capacity_ * sizeof(UnwindRow));
  }
  bool push(const UnwindRow& row) {
    if (size_ == capacity_ && !grow()) return false;
    data_[size_++] = row;
    return true;
  }
  UnwindRow* data() { return data_; }
  size_t size() const { return size_; }
  void resize(size_t n) { size_ = n; }
  // Hands the memory over (the table keeps it for the life of the process).
  UnwindRow* release() {
    UnwindRow* d = data_;
    data_ = nullptr;
    return d;
  }

 private:
  bool grow() {
    const size_t fresh = capacity_ ? capacity_ * 2 : 4096;
    void* p = data_ ? mremap(data_, capacity_ * sizeof(UnwindRow), fresh * sizeof(UnwindRow), MREMAP_MAYMOVE)
                    : mmap(nullptr, fresh * sizeof(UnwindRow), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<UnwindRow*>(p);
    capacity_ = fresh;
    return true;
  }
  UnwindRow* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// ---- reading the encoded values of .eh_frame ---------------------------------

constexpr uint8_t kOmit = 0xff;

struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool has(size_t n) {
    if (static_cast<size_t>(end - p) < n) ok = false;
    return ok;
  }
  template <typename T>
  T fixed() {
    T v{};
    if (!has(sizeof v)) return v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (!has(1)) return 0;
      const uint8_t b = *p++;
      if (shift < 64) v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  int64_t sleb() {
    int64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
      if (!has(1)) return 0;
      b = *p++;
      if (shift < 64) v |= static_cast<int64_t>(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= -(static_cast<int64_t>(1) << shift);
    return v;
  }
  // A pointer in DW_EH_PE encoding; `data_base` for datarel.
  uint64_t pointer(uint8_t encoding, uintptr_t data_base) {
    if (encoding == kOmit) return 0;
    const uintptr_t here = reinterpret_cast<uintptr_t>(p);
    uint64_t v = 0;
    switch (encoding & 0x0f) {
      case 0x00: v = fixed<uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<uint16_t>(); break;
      case 0x03: v = fixed<uint32_t>(); break;
      case 0x04: v = fixed<uint64_t>(); break;
      case 0x09: v = static_cast<uint64_t>(sleb()); break;
      case 0x0a: v = static_cast<uint64_t>(static_cast<int64_t>(fixed<int16_t>())); break;
      case 0x0b: v = static_cast<uint64_t>(static_cast<int64_t>(fixed<int32_t>())); break;
      case 0x0c: v = static_cast<uint64_t>(fixed<int64_t>()); break;
      default: ok = false; return 0;
    }
    switch (encoding & 0x70) {
      case 0x00: break;
      case 0x10: v += here; break;       // pcrel
      case 0x30: v += data_base; break;  // datarel
      default: ok = false; return 0;     // textrel, funcrel, aligned: not used on x86-64
    }
    if (encoding & 0x80) {  // indirect: the value is the address of the pointer
      if (!v) return 0;
      std::memcpy(&v, reinterpret_cast<const void*>(v), sizeof v);
    }
    return v;
  }
};

// ---- CIEs and FDEs ------------------------------------------------------------

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = -8;
  uint64_t ra_register = 16;
  uint8_t fde_encoding = 0;
  bool has_augmentation_data = false;
  const uint8_t* instructions = nullptr;
  const uint8_t* end = nullptr;
};

// The record (CIE or FDE) at p: its body [*body, *end); false if malformed.
bool record(const uint8_t* p, const uint8_t** body, const uint8_t** end) {
  uint32_t length;
  std::memcpy(&length, p, 4);
  if (length == 0 || length == 0xffffffffu) return false;  // terminator, or 64-bit DWARF (not in .eh_frame)
  *body = p + 4;
  *end = p + 4 + length;
  return true;
}

bool parse_cie(const uint8_t* p, Cie* cie) {
  const uint8_t *body, *end;
  if (!record(p, &body, &end)) return false;
  Cursor c{body, end};
  if (c.fixed<uint32_t>() != 0) return false;  // a CIE's id is 0 in .eh_frame
  const uint8_t version = c.fixed<uint8_t>();
  if (version != 1 && version != 3) return false;
  const char* augmentation = reinterpret_cast<const char*>(c.p);
  const size_t augmentation_length = strnlen(augmentation, static_cast<size_t>(end - c.p));
  c.p += augmentation_length + 1;
  if (augmentation[0] == 'e' && augmentation[1] == 'h') c.fixed<uint64_t>();  // old GCC's eh_ptr
  cie->code_align = c.uleb();
  cie->data_align = c.sleb();
  cie->ra_register = version == 1 ? c.fixed<uint8_t>() : c.uleb();
  if (augmentation[0] == 'z') {
    cie->has_augmentation_data = true;
    const uint64_t length = c.uleb();
    const uint8_t* data_end = c.p + length;
    for (const char* a = augmentation + 1; *a && c.ok; ++a) {
      if (*a == 'R') {
        cie->fde_encoding = c.fixed<uint8_t>();
      } else if (*a == 'P') {
        const uint8_t encoding = c.fixed<uint8_t>();
        c.pointer(encoding & 0x7f, 0);  // the personality routine: not needed
      } else if (*a == 'L') {
        c.fixed<uint8_t>();
      } else if (*a != 'S' && *a != 'B' && *a != 'G') {
        break;  // unknown: the length still lets us skip the data
      }
    }
    c.p = data_end;
  }
  cie->instructions = c.p;
  cie->end = end;
  return c.ok && c.p <= end;
}

// ---- running the CFA program ----------------------------------------------------

constexpr uint8_t kRsp = 7, kRbp = 6;

struct State {
  UnwindRow::Cfa cfa = UnwindRow::kReg;
  uint8_t reg = kRsp;
  int64_t cfa_offset = 8;
  UnwindRow::Rbp rbp = UnwindRow::kRbpSame;
  int64_t rbp_offset = 0;
  bool ra_known = true;  // saved at CFA + ra_offset
  bool ra_undefined = false;
  int64_t ra_offset = -8;
};

// Understands a DW_CFA_def_cfa_expression: the PLT rule and *(rbp + N).
void cfa_expression(State& s, const uint8_t* e, size_t n) {
  s.cfa = UnwindRow::kUnknown;
  if (n == 3 && e[0] == 0x76 && e[2] == 0x06 && (e[1] & 0x80) == 0) {  // DW_OP_breg6 N (one byte), DW_OP_deref
    s.cfa = UnwindRow::kDerefRbp;
    s.cfa_offset = static_cast<int64_t>(static_cast<int8_t>(e[1] << 1)) >> 1;  // 7-bit sleb128
    return;
  }
  // PLT: DW_OP_breg7 N; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litK; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
  if (n == 11 && e[0] == 0x77 && e[2] == 0x80 && e[3] == 0x00 && e[4] == 0x3f && e[5] == 0x1a && e[6] >= 0x30 &&
      e[6] <= 0x4f && e[7] == 0x2a && e[8] == 0x33 && e[9] == 0x24 && e[10] == 0x22) {
    s.cfa = UnwindRow::kPlt;
    s.cfa_offset = e[1];
    s.reg = static_cast<uint8_t>(e[6] - 0x30);
  }
}

void register_rule_offset(State& s, const Cie& cie, uint64_t reg, int64_t factored) {
  const int64_t offset = factored * cie.data_align;
  if (reg == kRbp) {
    s.rbp = UnwindRow::kRbpAtCfa;
    s.rbp_offset = offset;
  } else if (reg == cie.ra_register) {
    s.ra_known = true;
    s.ra_undefined = false;
    s.ra_offset = offset;
  }
}

// A register's rule that this table cannot follow (register, expression...).
void register_rule_other(State& s, const Cie& cie, uint64_t reg) {
  if (reg == kRbp) s.rbp = UnwindRow::kRbpUndefined;
  if (reg == cie.ra_register) s.ra_known = false;
}

class Program {
 public:
  Program(const Cie& cie, uint64_t start, RowBuffer& rows) : cie_(cie), loc_(start), rows_(rows) {}

  // Runs instructions; rows are emitted only when `emit` (the FDE part).
  bool run(const uint8_t* p, const uint8_t* end, bool emit, uint64_t limit) {
    Cursor c{p, end};
    emit_ = emit;
    while (c.ok && c.p < end) {
      const uint8_t op = *c.p++;
      const uint8_t high = op & 0xc0, low = op & 0x3f;
      if (high == 0x40) {
        advance(low * cie_.code_align);
      } else if (high == 0x80) {
        register_rule_offset(state_, cie_, low, static_cast<int64_t>(c.uleb()));
      } else if (high == 0xc0) {
        restore(low);
      } else {
        switch (op) {
          case 0x00: break;                                                        // nop
          case 0x01: loc_ = c.pointer(cie_.fde_encoding, 0); break;                 // set_loc
          case 0x02: advance(c.fixed<uint8_t>() * cie_.code_align); break;          // advance_loc1
          case 0x03: advance(c.fixed<uint16_t>() * cie_.code_align); break;         // advance_loc2
          case 0x04: advance(c.fixed<uint32_t>() * cie_.code_align); break;         // advance_loc4
          case 0x05: {                                                              // offset_extended
            const uint64_t reg = c.uleb();
            register_rule_offset(state_, cie_, reg, static_cast<int64_t>(c.uleb()));
            break;
          }
          case 0x06: restore(c.uleb()); break;  // restore_extended
          case 0x07: {                          // undefined
            const uint64_t reg = c.uleb();
            if (reg == cie_.ra_register) state_.ra_undefined = true;
            if (reg == kRbp) state_.rbp = UnwindRow::kRbpUndefined;
            break;
          }
          case 0x08: {  // same_value
            const uint64_t reg = c.uleb();
            if (reg == kRbp) state_.rbp = UnwindRow::kRbpSame;
            break;
          }
          case 0x09: {  // register
            const uint64_t reg = c.uleb();
            c.uleb();
            register_rule_other(state_, cie_, reg);
            break;
          }
          case 0x0a:  // remember_state
            if (depth_ < kStack) saved_[depth_] = state_;
            ++depth_;
            break;
          case 0x0b:  // restore_state
            if (depth_ > 0 && --depth_ < kStack) state_ = saved_[depth_];
            break;
          case 0x0c:  // def_cfa
            state_.cfa = UnwindRow::kReg;
            state_.reg = static_cast<uint8_t>(c.uleb());
            state_.cfa_offset = static_cast<int64_t>(c.uleb());
            break;
          case 0x0d:  // def_cfa_register
            state_.cfa = UnwindRow::kReg;
            state_.reg = static_cast<uint8_t>(c.uleb());
            break;
          case 0x0e: state_.cfa_offset = static_cast<int64_t>(c.uleb()); break;  // def_cfa_offset
          case 0x0f: {                                                          // def_cfa_expression
            const uint64_t n = c.uleb();
            if (!c.has(n)) break;
            cfa_expression(state_, c.p, n);
            c.p += n;
            break;
          }
          case 0x10:    // expression
          case 0x16: {  // val_expression
            const uint64_t reg = c.uleb();
            const uint64_t n = c.uleb();
            if (!c.has(n)) break;
            // rbp saved at rbp + N (stack realignment): DW_OP_breg6 N
            if (op == 0x10 && reg == kRbp && n >= 2 && c.p[0] == 0x76) {
              Cursor e{c.p + 1, c.p + n};
              state_.rbp = UnwindRow::kRbpAtRbp;
              state_.rbp_offset = e.sleb();
              if (e.p != c.p + n) state_.rbp = UnwindRow::kRbpUndefined;
            } else {
              register_rule_other(state_, cie_, reg);
            }
            c.p += n;
            break;
          }
          case 0x11: {  // offset_extended_sf
            const uint64_t reg = c.uleb();
            register_rule_offset(state_, cie_, reg, c.sleb());
            break;
          }
          case 0x12:  // def_cfa_sf
            state_.cfa = UnwindRow::kReg;
            state_.reg = static_cast<uint8_t>(c.uleb());
            state_.cfa_offset = c.sleb() * cie_.data_align;
            break;
          case 0x13: state_.cfa_offset = c.sleb() * cie_.data_align; break;  // def_cfa_offset_sf
          case 0x14:                                                         // val_offset
          case 0x15: {                                                       // val_offset_sf
            const uint64_t reg = c.uleb();
            if (op == 0x14) c.uleb(); else c.sleb();
            register_rule_other(state_, cie_, reg);
            break;
          }
          case 0x2e: c.uleb(); break;  // GNU_args_size
          case 0x2f: {                 // GNU_negative_offset_extended
            const uint64_t reg = c.uleb();
            register_rule_offset(state_, cie_, reg, -static_cast<int64_t>(c.uleb()));
            break;
          }
          default: return false;  // an opcode we cannot skip
        }
      }
      if (loc_ >= limit) break;
    }
    return c.ok;
  }

  const State& state() const { return state_; }
  void set_initial() { initial_ = state_; }
  // Emits the row in force from loc_ (once per address, the last wins).
  bool flush() { return emit_row(); }

 private:
  static constexpr int kStack = 16;

  void advance(uint64_t delta) {
    if (emit_ && delta) emit_row();
    loc_ += delta;
  }
  void restore(uint64_t reg) {
    if (reg == kRbp) {
      state_.rbp = initial_.rbp;
      state_.rbp_offset = initial_.rbp_offset;
    } else if (reg == cie_.ra_register) {
      state_.ra_known = initial_.ra_known;
      state_.ra_undefined = initial_.ra_undefined;
      state_.ra_offset = initial_.ra_offset;
    }
  }
  bool emit_row() {
    UnwindRow row{};
    row.pc = static_cast<uint32_t>(loc_);
    row.cfa = state_.cfa;
    row.reg = state_.reg;
    row.cfa_offset = static_cast<int32_t>(state_.cfa_offset);
    row.rbp = state_.rbp;
    row.rbp_offset = static_cast<int16_t>(state_.rbp_offset);
    row.ra_offset = static_cast<int16_t>(state_.ra_offset);
    row.flags = (state_.ra_undefined ? UnwindRow::kEndOfStack : 0) | (first_ ? UnwindRow::kFunctionStart : 0);
    first_ = false;
    if (!state_.ra_known || state_.cfa_offset != row.cfa_offset || state_.rbp_offset != row.rbp_offset ||
        state_.ra_offset != row.ra_offset || (state_.cfa == UnwindRow::kReg && state_.reg > 16))
      row.cfa = UnwindRow::kUnknown;
    const size_t n = rows_.size();
    if (n > 0 && rows_.data()[n - 1].pc == row.pc) {
      UnwindRow& last = rows_.data()[n - 1];
      if (last.cfa != UnwindRow::kNone) row.flags |= last.flags & UnwindRow::kFunctionStart;
      last = row;
      return true;
    }
    return rows_.push(row);
  }

  const Cie& cie_;
  uint64_t loc_;
  RowBuffer& rows_;
  State state_, initial_;
  State saved_[kStack];
  int depth_ = 0;
  bool emit_ = false;
  bool first_ = true;
};

}  // namespace

const UnwindRow* UnwindRows::find(uintptr_t vaddr) const {
  if (!count || vaddr > UINT32_MAX) return nullptr;
  const uint32_t pc = static_cast<uint32_t>(vaddr);
  size_t lo = 0, hi = count;  // the last row with rows[i].pc <= pc
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (rows[mid].pc <= pc) lo = mid + 1; else hi = mid;
  }
  if (lo == 0) return nullptr;
  const UnwindRow* row = &rows[lo - 1];
  return row->cfa == UnwindRow::kNone ? nullptr : row;
}

void UnwindRows::function_bounds(const UnwindRow* row, uintptr_t* start, uintptr_t* end) const {
  const UnwindRow* first = row;
  while (first > rows && !(first->flags & UnwindRow::kFunctionStart)) --first;
  const UnwindRow* last = row + 1;
  while (last < rows + count && !(last->flags & UnwindRow::kFunctionStart) && last->cfa != UnwindRow::kNone) ++last;
  *start = first->pc;
  *end = last < rows + count ? last->pc : row->pc + 1;
}

bool build_unwind_rows(uintptr_t bias, uintptr_t eh_frame_hdr, UnwindRows* out) {
  *out = UnwindRows{};
  const uint8_t* hdr = reinterpret_cast<const uint8_t*>(eh_frame_hdr);
  if (hdr[0] != 1) return false;
  const uint8_t frame_ptr_encoding = hdr[1], count_encoding = hdr[2], table_encoding = hdr[3];
  // Only the sorted FDE table is used: datarel sdata4 pairs (what every linker writes).
  if (count_encoding == kOmit || table_encoding != 0x3b) return false;
  Cursor c{hdr + 4, hdr + 64};
  c.pointer(frame_ptr_encoding, eh_frame_hdr);
  const uint64_t fde_count = c.pointer(count_encoding, eh_frame_hdr);
  if (!c.ok || fde_count > (1u << 24)) return false;
  const int32_t* table = reinterpret_cast<const int32_t*>(c.p);

  RowBuffer rows;
  const uint8_t* last_cie_at = nullptr;
  Cie cie;
  bool cie_ok = false;
  for (uint64_t i = 0; i < fde_count; ++i) {
    const uint8_t* fde = hdr + table[2 * i + 1];
    const uint8_t *body, *end;
    if (!record(fde, &body, &end)) continue;
    Cursor f{body, end};
    const uint32_t cie_pointer = f.fixed<uint32_t>();
    if (cie_pointer == 0) continue;  // a CIE, not an FDE
    const uint8_t* cie_at = body - cie_pointer;
    if (cie_at != last_cie_at) {
      last_cie_at = cie_at;
      cie = Cie{};
      cie_ok = parse_cie(cie_at, &cie);
    }
    if (!cie_ok) continue;
    const uint64_t start = f.pointer(cie.fde_encoding, 0);
    const uint64_t range = f.pointer(cie.fde_encoding & 0x0f, 0);
    if (cie.has_augmentation_data) f.p += f.uleb();
    if (!f.ok || f.p > end || range == 0) continue;
    const uint64_t vstart = start - bias, vend = vstart + range;
    if (vend > UINT32_MAX) continue;
    Program program(cie, vstart, rows);
    if (!program.run(cie.instructions, cie.end, false, UINT64_MAX)) continue;
    program.set_initial();
    const size_t first_row = rows.size();
    if (!program.run(f.p, end, true, vend) || !program.flush()) {
      rows.resize(first_row);
      continue;
    }
    UnwindRow stop{};
    stop.pc = static_cast<uint32_t>(vend);
    stop.cfa = UnwindRow::kNone;
    if (!rows.push(stop)) return false;
  }
  // FDEs come sorted by start; an FDE's end row and the next one's first
  // row can share an address: the real row wins. (std::sort: in place, no
  // allocation; rows may be built inside a signal handler.)
  UnwindRow* r = rows.data();
  const size_t n = rows.size();
  std::sort(r, r + n, [](const UnwindRow& a, const UnwindRow& b) {
    return a.pc != b.pc ? a.pc < b.pc : (a.cfa == UnwindRow::kNone && b.cfa != UnwindRow::kNone);
  });
  size_t kept = 0;
  for (size_t k = 0; k < n; ++k) {
    if (kept > 0 && r[kept - 1].pc == r[k].pc) {
      if (r[k].cfa != UnwindRow::kNone) r[kept - 1] = r[k];
      continue;
    }
    r[kept++] = r[k];
  }
  rows.resize(kept);
  out->count = kept;
  out->rows = rows.release();
  return true;
}

}  // namespace yep
