// python_line (python_frames.h): the location table of code objects
// (co_linetable, Objects/locations.md), the same format from CPython 3.11
// on: entries of one header byte 1cccclll (code c, length l+1 code units)
// and code-dependent varint data. Allocation-free.
#include "../python_frames.h"

namespace yep {

namespace {

int read_varint(const unsigned char*& p, const unsigned char* end) {
  if (p >= end) return 0;
  unsigned read = *p++;
  unsigned value = read & 63, shift = 0;
  while ((read & 64) && p < end && shift < 24) {
    read = *p++;
    shift += 6;
    value |= (read & 63) << shift;
  }
  return static_cast<int>(value);
}

int read_signed_varint(const unsigned char*& p, const unsigned char* end) {
  const unsigned value = static_cast<unsigned>(read_varint(p, end));
  return (value & 1) ? -static_cast<int>(value >> 1) : static_cast<int>(value >> 1);
}

}  // namespace

int python_line(const CodeInfo& code, int lasti) {
  return python_line(code.linetable, code.linetable_size, code.firstlineno, lasti);
}

int python_line(const unsigned char* linetable, size_t size, int firstlineno, int lasti) {
  if (lasti < 0 || !linetable) return firstlineno;
  const unsigned char* p = linetable;
  const unsigned char* end = p + size;
  int line = firstlineno, addr = 0;
  while (p < end) {
    const unsigned char first = *p++;
    const int kind = (first >> 3) & 15, length = (first & 7) + 1;
    int delta = 0;
    if (kind == 14) {  // long form: line delta, end line, columns
      delta = read_signed_varint(p, end);
      read_varint(p, end);
      read_varint(p, end);
      read_varint(p, end);
    } else if (kind == 13) {  // no columns
      delta = read_signed_varint(p, end);
    } else if (kind >= 10 && kind <= 12) {  // one-line forms
      delta = kind - 10;
      p += 2;
    } else if (kind < 10) {  // short form
      p += 1;
    }
    line += delta;
    // "no location" (kind 15): the line it follows. Line 0 (a module's
    // RESUME in 3.12) names no source line: the code's first line does.
    if (lasti < addr + length) return line >= 1 ? line : firstlineno;
    addr += length;
  }
  return 0;
}

}  // namespace yep
