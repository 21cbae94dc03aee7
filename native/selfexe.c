/* selfexe.c - the Isolate process that makes a container runs from a copy of the binary
 * that nothing can open for writing (CVE-2019-5736).
 *
 * Every process that enters a container is a clone of Isolate, so its /proc/PID/exe is
 * Isolate's binary; a command such as a "#!/proc/self/exe" script makes the kernel run
 * that binary inside the container, where the container's root can keep an fd on
 * /proc/PID/exe and write the host's file once Isolate exits. Comparing the command
 * with our binary before execve is a race (the container swaps the path between the
 * check and the exec), so instead the binary that enters is one the kernel refuses to
 * open for writing, whoever asks:
 *
 *   root:     one copy per binary, /run/isolate.exe/exe-DEV-INO-SIZE-MTIME, bind-mounted
 *             read-only onto itself in Isolate's mount namespace. A reopen through the
 *             /proc magic link keeps that read-only vfsmount, so opening it for writing
 *             fails with EROFS; the container cannot remount a mount of the host's
 *             namespace. Made once (under a lock) and then only opened: a start costs
 *             one open, one fstatvfs and one more exec.
 *   otherwise (no mount rights): a sealed memfd (F_SEAL_WRITE and friends), a copy per start.
 *
 * Runs before anything else of the verb, on the calling thread, and returns only when
 * it cannot re-exec (or when it need not: the binary is already on a read-only mount). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isolate_shim.h"

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

extern char **environ;

#define SEALED_DIR "/run/isolate.exe"

static int on_read_only_mount(int fd)
{
    struct statvfs vfs;
    return fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

/* The binary we run from is already one nothing can write: a read-only mount, or a
 * memfd sealed against writing. */
static int sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);
    return on_read_only_mount(fd) || (seals >= 0 && (seals & F_SEAL_WRITE));
}

static int copy_all(int from, int to, off_t size)
{
    off_t offset = 0;
    while (offset < size) {
        ssize_t n = sendfile(to, from, &offset, (size_t)(size - offset));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
    }
    return 0;
}

/* The sealed copy of a file at path is usable when it is on a read-only mount and whole. */
static int open_sealed(const char *path, off_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size && on_read_only_mount(fd))
        return fd;
    close(fd);
    return -ESTALE;
}

/* Copies of other binaries (an older Isolate, a test's copy) are let go: a process
 * running one keeps its own reference, and a later start of that binary makes it again. */
static void drop_other_copies(const char *keep)
{
    DIR *dir = opendir(SEALED_DIR);
    if (dir == NULL)
        return;
    struct dirent *entry;
    char path[sizeof SEALED_DIR + sizeof entry->d_name + 1];
    while ((entry = readdir(dir)) != NULL) {
        if (strncmp(entry->d_name, "exe-", 4) != 0)
            continue;
        snprintf(path, sizeof path, SEALED_DIR "/%s", entry->d_name);
        if (strcmp(path, keep) == 0)
            continue;
        umount2(path, MNT_DETACH);
        unlink(path);
    }
    closedir(dir);
}

/* Makes path a read-only copy of self: written whole, then bound onto itself read-only. */
static int make_sealed(int self, const char *path, off_t size)
{
    umount2(path, MNT_DETACH); /* a copy left half made by a crash */
    unlink(path);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0500);
    if (out < 0)
        return -errno;
    int rc = copy_all(self, out, size);
    close(out);
    if (rc == 0 && mount(path, path, NULL, MS_BIND, NULL) < 0)
        rc = -errno;
    if (rc == 0 && mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
        rc = -errno;
        umount2(path, MNT_DETACH);
    }
    if (rc < 0)
        unlink(path);
    return rc;
}

static int shared_copy(int self, const struct stat *st)
{
    char path[256];
    snprintf(path, sizeof path, SEALED_DIR "/exe-%llx-%llx-%llx-%llx.%09ld",
             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size, (unsigned long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    int fd = open_sealed(path, st->st_size);
    if (fd >= 0)
        return fd;
    if (mkdir(SEALED_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    int lock = open(SEALED_DIR "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0)
        return -errno;
    if (flock(lock, LOCK_EX) < 0) {
        int err = -errno;
        close(lock);
        return err;
    }
    fd = open_sealed(path, st->st_size); /* another start may have made it meanwhile */
    if (fd < 0) {
        drop_other_copies(path);
        int rc = make_sealed(self, path, st->st_size);
        fd = rc < 0 ? rc : open_sealed(path, st->st_size);
    }
    close(lock); /* releases the lock */
    return fd;
}

static int memfd_copy(int self, off_t size)
{
    int fd = (int)syscall(SYS_memfd_create, "isolate", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int rc = copy_all(self, fd, size);
    if (rc == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* argv again, from the kernel's copy: .NET has not changed it, and it is the bytes given. */
static char **own_arguments(void)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity + 1);
    for (ssize_t n; text != NULL; size += (size_t)n) {
        if (size == capacity) {
            char *bigger = realloc(text, capacity * 2 + 1);
            if (bigger == NULL) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            capacity *= 2;
        }
        n = read(fd, text + size, capacity - size);
        if (n < 0 && errno == EINTR)
            n = 0;
        else if (n <= 0)
            break;
    }
    close(fd);
    if (text == NULL || size == 0) {
        free(text);
        return NULL;
    }
    text[size] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        count += text[i] == '\0';
    if (text[size - 1] != '\0')
        count++;
    char **argv = calloc(count + 1, sizeof *argv);
    if (argv == NULL) {
        free(text);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < size && k < count; i += strlen(text + i) + 1)
        argv[k++] = text + i;
    return argv;
}

/* The copy's file name would be this process's name in ps and /proc/PID/comm (as the
 * kernel names a process after the file it executes); it keeps the name it was started
 * under, argv[0]'s last component, as it had before the re-exec. */
static void keep_own_name(void)
{
    char exe[sizeof SEALED_DIR + 8];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return;
    exe[n] = '\0';
    if (strncmp(exe, SEALED_DIR "/", sizeof SEALED_DIR) != 0 && strncmp(exe, "/memfd:", 7) != 0)
        return;
    char first[256];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, first, sizeof first - 1);
    close(fd);
    if (n <= 0)
        return;
    first[n] = '\0';
    const char *slash = strrchr(first, '/');
    const char *name = slash != NULL ? slash + 1 : first;
    if (*name != '\0')
        prctl(PR_SET_NAME, name, 0, 0, 0);
}

int isolate_shim_run_sealed(void)
{
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    if (sealed(self)) {
        /* already the copy, or installed on a read-only file system */
        close(self);
        keep_own_name();
        return 0;
    }
    struct stat st;
    if (fstat(self, &st) < 0) {
        int err = -errno;
        close(self);
        return err;
    }
    int copy = shared_copy(self, &st);
    if (copy < 0)
        copy = memfd_copy(self, st.st_size);
    close(self);
    if (copy < 0)
        return copy;
    char **argv = own_arguments();
    if (argv == NULL) {
        close(copy);
        return -ENOMEM;
    }
    syscall(SYS_execveat, copy, "", argv, environ, AT_EMPTY_PATH);
    int err = -errno;
    close(copy);
    return err;
}
