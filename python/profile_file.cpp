#include "profile_file.h"
#include "output_file.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cpu_profiler.h"  // CaptureError

namespace yep {

MappedString read_own_file(const std::string& path) {
  MappedString text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

MappedString read_self_maps() { return read_own_file("/proc/self/maps"); }

MappedString read_self_build_ids() {
  MappedString lines;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        const ElfW(Phdr)* first_load = nullptr;
        std::string id;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && (!first_load || ph.p_vaddr < first_load->p_vaddr)) first_load = &ph;
          if (ph.p_type != PT_NOTE || !id.empty()) continue;
          // Notes: namesz, descsz, type, then the name and the descriptor,
          // each padded to 4 bytes (ELF64 notes as Linux writes them).
          const char* note = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = note + ph.p_memsz;
          while (note + sizeof(ElfW(Nhdr)) <= end) {
            const auto* h = reinterpret_cast<const ElfW(Nhdr)*>(note);
            const char* name = note + sizeof *h;
            const char* desc = name + ((h->n_namesz + 3) & ~3u);
            const char* next = desc + ((h->n_descsz + 3) & ~3u);
            if (next > end || next <= note) break;
            if (h->n_type == NT_GNU_BUILD_ID && h->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
              static const char digits[] = "0123456789abcdef";
              for (uint32_t k = 0; k < h->n_descsz; ++k) {
                const auto byte = static_cast<unsigned char>(desc[k]);
                id += digits[byte >> 4];
                id += digits[byte & 15];
              }
              break;
            }
            note = next;
          }
        }
        if (first_load && !id.empty()) {
          char address[32];
          std::snprintf(address, sizeof address, "%llx",
                        static_cast<unsigned long long>(info->dlpi_addr + first_load->p_vaddr));
          *static_cast<MappedString*>(data) += "# yep-build-id:\t" + std::string(address) + "\t" + id + "\n";
        }
        return 0;
      },
      &lines);
  return lines;
}

void check_writable(const std::string& path) {
  try {
    check_output(path);
  } catch (const OutputError& e) {
    throw CaptureError("cannot write the profile to " + std::string(e.what()).substr(13) + "; choose a writable path");
  }
}

namespace {

// Runs f, its OutputError reworded as the capture side says it.
template <typename F>
auto reworded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const OutputError& e) {
    throw CaptureError("cannot write " + what + " " + std::string(e.what()).substr(13));
  }
}

}  // namespace

void write_atomically(const std::string& path, std::string_view bytes, const std::string& what) {
  reworded(what, [&] { write_output(path, bytes); });
}

ProfileFileWriter::ProfileFileWriter(const std::string& path, const std::string& what)
    : what_(what), file_(reworded(what, [&] { return std::make_unique<OutputFile>(path); })) {
  text_.reserve(size_t{1} << 20);
}

ProfileFileWriter::~ProfileFileWriter() = default;

void ProfileFileWriter::flush() {
  reworded(what_, [&] { file_->write(text_); });
  text_.clear();  // keeps its mapped capacity
}

void ProfileFileWriter::flush_if_full() {
  if (text_.size() >= (size_t{1} << 20)) flush();
}

void ProfileFileWriter::commit() {
  flush();
  reworded(what_, [&] { file_->commit(); });
}

int ProfileFileWriter::commit_keeping_open() {
  flush();
  return reworded(what_, [&] { return file_->commit_keeping_open(); });
}

void append_to(int fd, std::string_view bytes, const std::string& what) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw CaptureError("cannot write " + what + ": " + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
}

}  // namespace yep
