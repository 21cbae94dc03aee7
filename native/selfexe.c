/* selfexe.c - the Isolate process that makes a container runs from a binary
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
 *   with mount rights (root): the binary itself through a read-only bind mount that is
 *             detached (open_tree + mount_setattr): no namespace holds it, so nobody can
 *             remount it, and a reopen through the /proc magic link keeps its read-only
 *             flag and fails with EROFS. No copy is made and no mount is left behind:
 *             it lives exactly as long as the processes that run from it.
 *   otherwise: a sealed memfd (F_SEAL_WRITE and friends), a copy per start.
 *
 * Runs before anything else of the verb, on the calling thread, and returns only when
 * it cannot re-exec (or when it need not: the binary is already on a read-only mount). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h> /* the ST_ flag values statfs reports too */
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "isolate_shim.h"
#include "mountapi.h"

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif

extern char **environ;

static int on_read_only_mount(int fd)
{
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 && (fs.f_flags & ST_RDONLY);
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

/* A read-only bind of the binary that no mount namespace holds: open_tree clones the
 * file's mount detached, mount_setattr makes it read-only while it is ours alone, and
 * the exec'd process keeps it alive through its exe. When this fd closes at exec the
 * detached mount is dissolved; nobody can reach it to remount it, and a reopen of
 * /proc/PID/exe for writing meets its read-only flag (EROFS). Nothing is copied and
 * nothing is left mounted anywhere. Linux 5.12; needs CAP_SYS_ADMIN over our mount
 * namespace, as root has. */
static int detached_read_only_bind(void)
{
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC);
    if (tree < 0)
        return -errno;
    struct isolate_mount_attr attr = {
        .attr_set = ISOLATE_MOUNT_ATTR_RDONLY | ISOLATE_MOUNT_ATTR_NOSUID | ISOLATE_MOUNT_ATTR_NODEV,
    };
    errno = 0;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 || !on_read_only_mount(tree)) {
        int err = errno != 0 ? -errno : -EPERM;
        close(tree);
        return err;
    }
    return tree;
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

/* Memory straight from the kernel: this library links no allocator (ShimSymbolTests). */
static void *pages(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* argv again, from the kernel's copy: .NET has not changed it, and it is the bytes given.
 * The memory is never given back: the next step is execveat, or an error that ends the verb. */
static char **own_arguments(void)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t size = 0, capacity = 1 << 16;
    char *text = pages(capacity);
    for (ssize_t n; text != NULL; size += (size_t)n) {
        if (size == capacity - 1) {
            void *bigger = mremap(text, capacity, capacity * 2, MREMAP_MAYMOVE);
            if (bigger == MAP_FAILED) {
                text = NULL;
                break;
            }
            text = bigger;
            capacity *= 2;
        }
        n = read(fd, text + size, capacity - 1 - size);
        if (n < 0 && errno == EINTR)
            n = 0;
        else if (n <= 0)
            break;
    }
    close(fd);
    if (text == NULL || size == 0)
        return NULL;
    text[size] = '\0'; /* pages are zeroed; the last argument ends with its own NUL anyway */
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        count += text[i] == '\0';
    if (text[size - 1] != '\0')
        count++;
    char **argv = pages((count + 1) * sizeof *argv);
    if (argv == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < size && k < count; i += strlen(text + i) + 1)
        argv[k++] = text + i;
    return argv;
}

/* An exec through an fd names the process after the fd's number ("3") in ps and
 * /proc/PID/comm; it keeps the name it was started under, argv[0]'s last component. */
static void keep_own_name(void)
{
    char first[256];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, first, sizeof first - 1);
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
    int copy = detached_read_only_bind();
    if (copy < 0) {
        struct stat st;
        copy = fstat(self, &st) < 0 ? -errno : memfd_copy(self, st.st_size);
    }
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

/* Whether this process's verb enters a container (Program.cs: Verb.EntersContainer; start
 * decides later, and only for its startContainer hooks): run (either form), exec, create,
 * after runc's global options as GlobalOptions.Extract takes them. Reads only the first
 * page of the command line: a verb comes within it. */
static int verb_enters_container(void)
{
    char text[4096];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    while ((n = read(fd, text, sizeof text - 1)) < 0 && errno == EINTR) {
    }
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    const char *end = text + n;
    const char *arg = text + strlen(text) + 1; /* past argv[0] */
    while (arg < end && strncmp(arg, "--", 2) == 0 && strcmp(arg, "--") != 0) {
        int takes_value = strchr(arg, '=') == NULL
            && (strcmp(arg, "--root") == 0 || strcmp(arg, "--storage") == 0 || strcmp(arg, "--cdi-spec-dir") == 0 || strcmp(arg, "--nvidia-driver-root") == 0 || strcmp(arg, "--log") == 0 || strcmp(arg, "--log-format") == 0
                || strcmp(arg, "--rootless") == 0 || strcmp(arg, "--criu") == 0);
        arg += strlen(arg) + 1;
        if (takes_value && arg < end)
            arg += strlen(arg) + 1;
    }
    if (arg >= end)
        return 0;
    return strcmp(arg, "run") == 0 || strcmp(arg, "exec") == 0 || strcmp(arg, "create") == 0;
}

static int64_t started_at;

int64_t isolate_shim_started_at(void)
{
    return started_at;
}

int isolate_shim_run_sealed_early(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) == 0)
        started_at = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    return verb_enters_container() ? isolate_shim_run_sealed() : 0;
}

/* The same sealed copy for a host program run inside a container (an OCI createContainer
 * hook): its /proc/PID/exe, reopened from the container, is the copy, not the host's file. */
int isolate_shim_sealed_copy(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    return memfd_copy(fd, st.st_size);
}
