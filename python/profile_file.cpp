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

MappedString read_self_maps() {
  MappedString maps;
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return maps;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) maps.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return maps;
}

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

void write_atomically(const std::string& path, std::string_view bytes, const std::string& what) {
  try {
    write_output(path, bytes);
  } catch (const OutputError& e) {
    throw CaptureError("cannot write " + what + " " + std::string(e.what()).substr(13));
  }
}

}  // namespace yep
