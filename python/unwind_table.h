// One loaded object's unwind table: its .eh_frame call frame information
// (the DWARF CFI every x86-64 object carries for C++ exceptions and
// debuggers) compiled into rows that say, for each range of code, how to
// find the caller: where the canonical frame address (CFA, the caller's
// stack pointer) is, and where the return address and the caller's rbp
// were saved. Walking a stack with these rows needs no lock, no allocation
// and no thread-local storage, so it may run in a signal handler or a
// malloc hook (native_unwinder.h does the walking).
//
// Built from the object's mapped image in memory (PT_GNU_EH_FRAME's
// .eh_frame_hdr and the FDE table in it), never from its file. The rows
// live in mmap'ed memory: building them never calls malloc either.
//
// What is understood: every CFA instruction GCC, Clang and the assemblers
// emit for x86-64; CFA rules of register + offset, the PLT expression, and
// `*(rbp + N)` (stack realignment); the rbp rules offset(N), same value and
// expression `rbp + N`. A rule outside these makes its rows "unknown": the
// walk stops there rather than guess.
#pragma once

#include <cstddef>
#include <cstdint>

namespace yep {

struct UnwindRow {
  enum Cfa : uint8_t {
    kNone = 0,   // no unwind information for this code
    kReg,        // CFA = reg + cfa_offset (reg: DWARF number; 7 rsp, 6 rbp; others only in the leaf)
    kDerefRbp,   // CFA = *(rbp + cfa_offset)
    kPlt,        // CFA = rsp + cfa_offset + ((pc & 15) >= reg ? 8 : 0)  (PLT entries)
    kUnknown,    // a rule this table does not understand
  };
  enum Rbp : uint8_t {
    kRbpSame = 0,   // rbp unchanged
    kRbpAtCfa,      // saved at CFA + rbp_offset
    kRbpAtRbp,      // saved at rbp + rbp_offset
    kRbpUndefined,  // no caller rbp
  };
  enum Flags : uint8_t {
    kEndOfStack = 1,     // the return address is undefined: the outermost frame
    kFunctionStart = 2,  // the first row of a function (FDE)
  };
  uint32_t pc;  // first address (ELF virtual address) the row covers
  int32_t cfa_offset;
  Cfa cfa;
  uint8_t reg;
  Rbp rbp;
  uint8_t flags;  // kEndOfStack, kFunctionStart
  int16_t rbp_offset;
  int16_t ra_offset;  // the return address is saved at CFA + ra_offset
};
static_assert(sizeof(UnwindRow) == 16, "rows are 16 bytes");

// Rows sorted by pc, in mmap'ed memory.
struct UnwindRows {
  const UnwindRow* rows = nullptr;
  size_t count = 0;
  // The row that covers `vaddr`, nullptr if none (no FDE covers it).
  const UnwindRow* find(uintptr_t vaddr) const;
  // The [start, end) of the function (FDE) whose rows include `row`.
  void function_bounds(const UnwindRow* row, uintptr_t* start, uintptr_t* end) const;
};

// Compiles the CFI of the object loaded at `bias` whose .eh_frame_hdr is
// mapped at `eh_frame_hdr` (absolute address). False if it cannot be read
// (no table, unknown version); rows then stay empty.
bool build_unwind_rows(uintptr_t bias, uintptr_t eh_frame_hdr, UnwindRows* out);

}  // namespace yep
