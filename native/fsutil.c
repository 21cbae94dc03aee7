/* fsutil.c - filesystem helpers for the child: system calls and stack buffers only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsutil.h"
#include "internal.h"
#include "isolate_shim.h"
#include "resolve.h"

static int mkdir_one(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int isolate_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir_one(buf, mode);
        *p = '/';
        if (rc < 0)
            return rc;
    }
    return mkdir_one(buf, mode);
}

/* What getdents64(2) returns, one record after another. */
struct fsutil_dirent {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static int is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* openat of a directory, never through a link; one its owner may not read (overlayfs's
 * work/work is mode 000, and a caller that is not root is refused it) is opened up to its
 * owner first, through a handle that did not follow a link either. */
static int open_dir_at(int fd, const char *name)
{
    int child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child >= 0 || errno != EACCES)
        return child;
    int handle = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (handle < 0)
        return -1;
    char path[ISOLATE_FD_PATH_MAX];
    isolate_fd_path(path, handle);
    int rc = chmod(path, 0700);
    close(handle);
    if (rc < 0) {
        errno = EACCES;
        return -1;
    }
    return openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

/* How deep empty_dir goes, holding a directory open at each level. A container may nest
 * directories without end, and its layer must still go: a directory deeper than this is
 * moved up into the top of the tree being removed, and emptied from there on a later pass. */
#define EMPTY_DIR_DEPTH 32

struct emptying {
    int top;                /* the tree's top directory */
    unsigned long next;     /* the number in the next hoisted directory's name */
    int hoisted;            /* a directory was moved up on this pass */
};

/* Moves fd's directory name into the top directory under a name no entry there has. Its
 * owner may move it only with write permission on it (its ".." changes): opened up first. */
static int hoist(struct emptying *e, int fd, const char *name)
{
    int dir = open_dir_at(fd, name);
    if (dir < 0)
        return -errno;
    (void)fchmod(dir, 0700);
    close(dir);
    char moved[40] = ".isolate-removing-";
    for (int tries = 0; tries < 1000; tries++) {
        isolate_decimal(moved + 18, e->next++);
        if (syscall(SYS_renameat2, fd, name, e->top, moved, RENAME_NOREPLACE) == 0) {
            e->hoisted = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Empties the directory open as fd, whatever bytes its names hold, never following a
 * link; a directory the caller may not write into (overlayfs's work/work is mode 000) is
 * opened up to its owner first. Holds at most EMPTY_DIR_DEPTH fds: deeper directories are
 * hoisted (e->hoisted says so, and the caller empties the top again). 0 or -errno. */
static int empty_dir(int fd, int depth, struct emptying *e)
{
    (void)fchmod(fd, 0700);
    char buf[4096] __attribute__((aligned(8)));
    int err = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n < 0)
            return -errno;
        if (n == 0)
            return err;
        int removed = 0;
        for (long off = 0; off < n;) {
            const struct fsutil_dirent *entry = (const struct fsutil_dirent *)(buf + off);
            off += entry->reclen;
            if (is_dot(entry->name))
                continue;
            if (unlinkat(fd, entry->name, 0) == 0) {
                removed++;
                continue;
            }
            if (errno != EISDIR && errno != EPERM) {
                err = -errno;
                continue;
            }
            if (depth + 1 >= EMPTY_DIR_DEPTH) {
                int rc = hoist(e, fd, entry->name);
                if (rc == 0)
                    removed++;
                else
                    err = rc;
                continue;
            }
            int child = open_dir_at(fd, entry->name);
            if (child < 0) {
                err = -errno;
                continue;
            }
            int rc = empty_dir(child, depth + 1, e);
            close(child);
            if (rc < 0)
                err = rc;
            else if (unlinkat(fd, entry->name, AT_REMOVEDIR) == 0)
                removed++;
            else
                err = -errno;
        }
        if (err < 0)
            return err;
        if (removed > 0 && lseek(fd, 0, SEEK_SET) < 0) /* read again from the start: removing shifts the stream */
            return -errno;
    }
}

int isolate_shim_remove_tree(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct emptying e = { .top = fd };
    int rc;
    do { /* again while directories were hoisted into the top */
        e.hoisted = 0;
        rc = empty_dir(fd, 0, &e);
    } while (rc == 0 && e.hoisted);
    close(fd);
    if (rc == 0 && rmdir(path) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

char *isolate_decimal(char *at, unsigned long value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0)
        *at++ = digits[--n];
    *at = '\0';
    return at;
}
