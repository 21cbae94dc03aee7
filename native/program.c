/* program.c - what the kernel needs, besides the file, to run a program.
 *
 * An OCI createContainer hook is a host program that runs inside the container, after
 * its root changed. Whatever the kernel opens BY PATH to run it - an ELF program's
 * loader (PT_INTERP), a "#!" script's interpreter, a binfmt_misc handler - is then
 * looked up in the container's root: the image's ld.so would run with the host's
 * program mapped, and could write it. Only a program that names nothing (a static ELF
 * program of this machine) runs there as the host's alone. For the parent, on an fd
 * opened in the runtime's own mount namespace. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isolate_shim.h"

#if defined(__x86_64__)
#define NATIVE_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define NATIVE_MACHINE EM_AARCH64
#elif defined(__riscv)
#define NATIVE_MACHINE EM_RISCV
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_DATA ELFDATA2LSB
#else
#define NATIVE_DATA ELFDATA2MSB
#endif

#if __SIZEOF_POINTER__ == 8
#define NATIVE_CLASS ELFCLASS64
#else
#define NATIVE_CLASS ELFCLASS32
#endif

/* The bytes at offset, as many as the file has: their count, or -errno. */
static ssize_t read_at(int fd, void *buffer, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, (char *)buffer + done, size - done, offset + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* An ELF file's program headers, read as the kernel reads them: one PT_INTERP makes it
 * dynamic; headers the kernel would refuse make it no program of this machine. */
static int elf_kind(int fd, const ElfW(Ehdr) *header)
{
    if (header->e_ident[EI_CLASS] != NATIVE_CLASS || header->e_ident[EI_DATA] != NATIVE_DATA
#ifdef NATIVE_MACHINE
        || header->e_machine != NATIVE_MACHINE
#endif
        || (header->e_type != ET_EXEC && header->e_type != ET_DYN)
        || header->e_phentsize != sizeof(ElfW(Phdr)) || header->e_phnum == 0
        || (size_t)header->e_phnum * sizeof(ElfW(Phdr)) > 65536)
        return ISOLATE_PROGRAM_OTHER;
    for (unsigned i = 0; i < header->e_phnum; i++) {
        ElfW(Phdr) entry;
        ssize_t n = read_at(fd, &entry, sizeof entry, (off_t)(header->e_phoff + i * sizeof entry));
        if (n < 0)
            return (int)n;
        if ((size_t)n != sizeof entry)
            return ISOLATE_PROGRAM_OTHER;
        if (entry.p_type == PT_INTERP)
            return ISOLATE_PROGRAM_DYNAMIC;
    }
    return ISOLATE_PROGRAM_STATIC;
}

int isolate_shim_program_kind(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES; /* as execve answers for anything but a regular file */
    ElfW(Ehdr) header;
    ssize_t n = read_at(fd, &header, sizeof header, 0);
    if (n < 0)
        return (int)n;
    if (n >= 2 && memcmp(&header, "#!", 2) == 0)
        return ISOLATE_PROGRAM_SCRIPT;
    if ((size_t)n == sizeof header && memcmp(header.e_ident, ELFMAG, SELFMAG) == 0)
        return elf_kind(fd, &header);
    return ISOLATE_PROGRAM_OTHER;
}
