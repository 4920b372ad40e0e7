// The Python code objects seen in samples, copied out of the interpreter.
//
// A sample names a code object by its index here. The first time a signal
// handler (or malloc hook) meets a code object it copies what a report needs
// (file name, qualified name, first line, line table) into this table, so
// nothing has to keep the code object alive or read it again later: it may
// be freed a microsecond after the sample (a module's body after import).
// Entries are keyed by the code object's address and by the addresses of
// its name, file name and line table, so an address reused by a new code
// object gets a new entry.
//
// Lock-free and allocation-free: fixed arrays in mmap'ed memory, slots
// claimed with compare-and-swap. A lookup that races with another thread
// filling the same entry gets kNoCode rather than waiting.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace yep {

constexpr uint32_t kNoCode = 0xffffffffu;

// What identifies a code object while it is alive.
struct CodeKey {
  uintptr_t code = 0, name = 0, filename = 0, linetable = 0;
  int firstlineno = 0;
  bool operator==(const CodeKey& o) const {
    return code == o.code && name == o.name && filename == o.filename && linetable == o.linetable &&
           firstlineno == o.firstlineno;
  }
};

// Read side, outside signal handlers.
struct CodeInfo {
  uintptr_t address = 0;  // of the code object when it was seen
  std::string filename, qualname;
  int firstlineno = 0;
  const unsigned char* linetable = nullptr;  // into the table's arena
  size_t linetable_size = 0;
};

class CodeTable {
 public:
  static constexpr size_t kCapacity = 1 << 17;  // code objects
  static constexpr size_t kArenaBytes = 64 << 20;

  // Maps the memory (once); false if mmap fails.
  bool init();
  // Forgets every entry (no handler may run meanwhile).
  void clear();

  // The index of `key` if present and complete, else kNoCode.
  uint32_t find(const CodeKey& key) const;

  // Claims a new entry for `key`; kNoCode if the table is full or another
  // thread is filling an entry with the same key right now. The caller fills
  // it with arena() and set_*(), then publish()es it.
  uint32_t claim(const CodeKey& key);
  // Reserves n bytes of the arena; nullptr when full.
  unsigned char* arena(size_t n);
  void set_strings(uint32_t index, const unsigned char* filename, size_t filename_size, const unsigned char* qualname,
                   size_t qualname_size, const unsigned char* linetable, size_t linetable_size);
  void publish(uint32_t index);

  CodeInfo info(uint32_t index) const;
  // Allocation-free parts of info(), for malloc hooks; 0 / "" if not ready.
  uintptr_t address(uint32_t index) const;
  std::string_view filename(uint32_t index) const;
  // The copied line table and first line; false if not ready.
  bool line_table(uint32_t index, const unsigned char** table, size_t* size, int* firstlineno) const;
  size_t size() const { return used_.load(); }

 private:
  struct Entry {
    std::atomic<int> state;  // 0 empty, 1 being filled, 2 ready
    CodeKey key;
    const unsigned char *filename, *qualname, *linetable;
    uint32_t filename_size, qualname_size, linetable_size;
  };
  Entry* entries_ = nullptr;
  uint32_t* slots_ = nullptr;  // hash of code address -> entry index + 1
  unsigned char* arena_ = nullptr;
  std::atomic<size_t> used_{0}, arena_used_{0};
};

CodeTable& code_table();

}  // namespace yep
