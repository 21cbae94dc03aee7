/* resolve.c - finding a path inside the container's root, safely.
 *
 * A crafted root filesystem can hold symlinks such as /data -> /etc or
 * /dev -> /srv/host-dir. Resolved naively before pivot_root, a mount destination
 * would follow them onto the host (CVE-2021-30465, CVE-2026-47766). Here every
 * destination is resolved as if the root were "/" - the way the kernel resolves it
 * for the container after pivot_root - and the result is an O_PATH fd the mount
 * then goes through, so nothing can be swapped in between. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "resolve.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
/* The openat2(2) ABI, copied so as not to depend on <linux/openat2.h>. */
struct isolate_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define ISOLATE_RESOLVE_NO_MAGICLINKS 0x02
#define ISOLATE_RESOLVE_NO_SYMLINKS 0x04
#define ISOLATE_RESOLVE_IN_ROOT 0x10

#define MAX_SYMLINK_HOPS 40
#define PROC_SUPER_MAGIC_VALUE 0x9fa0

void isolate_fd_path(char buf[ISOLATE_FD_PATH_MAX], int fd)
{
    memcpy(buf, "/proc/self/fd/", 14);
    isolate_decimal(buf + 14, (unsigned long)fd);
}

/* Asks the kernel where fd landed: it must be the root or below it. Guards the
 * walk below against a directory being moved out of the root while it runs. */
static int check_inside(const struct isolate_root *root, int fd)
{
    char link[ISOLATE_FD_PATH_MAX], landed[PATH_MAX];
    isolate_fd_path(link, fd);
    ssize_t n = readlink(link, landed, sizeof landed - 1);
    if (n < 0)
        return -errno;
    landed[n] = '\0';
    size_t root_len = strlen(root->path);
    if (strncmp(landed, root->path, root_len) == 0 && (landed[root_len] == '/' || landed[root_len] == '\0'))
        return 0;
    return -EXDEV;
}

static int on_procfs(int fd)
{
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC_VALUE;
}

static int same_inode(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Before Linux 5.6 (no openat2): RESOLVE_IN_ROOT done by hand. One component at a
 * time with O_NOFOLLOW; a symlink is read and spliced in (an absolute one restarts
 * at the root), ".." stops at the root. Then the kernel confirms where it landed. */
/* The component of buf that ends at rest is a symlink to target (n bytes): buf becomes the
 * target followed by the rest of the path, as the kernel goes on with a link's target. */
static int splice_link(char buf[PATH_MAX], const char *rest, const char *target, size_t n)
{
    size_t rest_len = strlen(rest);
    if (n + rest_len + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memmove(buf + n, rest, rest_len + 1); /* rest lies inside buf */
    memcpy(buf, target, n);
    return 0;
}

static int walk_in_root(const struct isolate_root *root, const char *path, int no_symlinks)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);

    int dir = fcntl(root->fd, F_DUPFD_CLOEXEC, 0);
    if (dir < 0)
        return -errno;
    int hops = 0;
    char *p = buf;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        char *end = strchrnul(p, '/');
        char saved = *end;
        *end = '\0';
        int next;
        if (strcmp(p, ".") == 0) {
            *end = saved;
            p = end;
            continue;
        }
        if (strcmp(p, "..") == 0 && same_inode(dir, root->fd)) {
            *end = saved; /* ".." of the root is the root */
            p = end;
            continue;
        }
        next = openat(dir, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        *end = saved;
        if (next < 0) {
            int err = errno;
            close(dir);
            return -err;
        }
        struct stat st;
        if (fstat(next, &st) < 0) {
            int err = errno;
            close(next);
            close(dir);
            return -err;
        }
        if (S_ISLNK(st.st_mode) && on_procfs(next)) {
            close(next); /* /proc/self/cwd, /proc/1/root...: openat2 refuses magic links, and so do we */
            close(dir);
            return -ELOOP;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = no_symlinks ? -1 : readlinkat(next, "", target, sizeof target - 1);
            close(next);
            if (no_symlinks || ++hops > MAX_SYMLINK_HOPS || n < 0) {
                close(dir);
                return no_symlinks || n >= 0 ? -ELOOP : -errno;
            }
            target[n] = '\0';
            int spliced = splice_link(buf, end, target, (size_t)n);
            if (spliced < 0) {
                close(dir);
                return spliced;
            }
            p = buf;
            if (target[0] == '/') { /* absolute: from the root again */
                close(dir);
                if ((dir = fcntl(root->fd, F_DUPFD_CLOEXEC, 0)) < 0)
                    return -errno;
            }
            continue;
        }
        close(dir);
        dir = next;
        p = end;
    }
    int rc = check_inside(root, dir);
    if (rc < 0) {
        close(dir);
        return rc;
    }
    return dir;
}

int isolate_is_root(const struct isolate_root *root, int fd)
{
    return same_inode(fd, root->fd);
}

int isolate_open_in_root(const struct isolate_root *root, const char *path, int no_symlinks)
{
    struct isolate_open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = ISOLATE_RESOLVE_IN_ROOT | ISOLATE_RESOLVE_NO_MAGICLINKS
            | (no_symlinks ? ISOLATE_RESOLVE_NO_SYMLINKS : 0),
    };
    int fd = (int)syscall(SYS_openat2, root->fd, path, &how, sizeof how);
    if (fd >= 0)
        return fd;
    if (errno != ENOSYS)
        return -errno;
    return walk_in_root(root, path, no_symlinks);
}

/* Joins dir and name into out (name absolute: name alone). */
static int join(char out[PATH_MAX], const char *dir, size_t dir_len, const char *name)
{
    size_t name_len = strlen(name);
    if (name[0] == '/')
        dir_len = 0;
    if (dir_len + 1 + name_len + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memmove(out + dir_len + 1, name, name_len + 1);
    if (dir != out)
        memmove(out, dir, dir_len);
    out[dir_len] = '/';
    return 0;
}

/* Creates the last component of prefix (a directory, or for the final component
 * of a file destination an empty file) in its parent, resolved inside the root.
 * Returns 0, or -EEXIST when something that does not resolve is there already
 * (a dangling symlink), or another -errno. */
static int create_component(const struct isolate_root *root, char *prefix, int as_file, mode_t mode)
{
    char *slash = strrchr(prefix, '/');
    *slash = '\0';
    int parent = isolate_open_in_root(root, prefix[0] != '\0' ? prefix : "/", 0);
    *slash = '/';
    if (parent < 0)
        return parent;
    int rc;
    if (as_file) {
        int fd = openat(parent, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        rc = fd < 0 ? -errno : 0;
        if (fd >= 0)
            close(fd);
    } else {
        rc = mkdirat(parent, slash + 1, mode) < 0 ? -errno : 0;
    }
    close(parent);
    return rc;
}

/* A dangling symlink stands where a component is missing: replace that prefix of
 * path by the link's target, resolved the way the kernel will inside the root. */
static int follow_dangling(const struct isolate_root *root, char path[PATH_MAX], size_t prefix_len)
{
    char *slash = path + prefix_len - 1; /* the '/' before the link's own name */
    while (slash > path && *slash != '/')
        slash--;
    *slash = '\0';
    int parent = isolate_open_in_root(root, path[0] != '\0' ? path : "/", 0);
    *slash = '/';
    if (parent < 0)
        return parent;
    char target[PATH_MAX];
    char saved = path[prefix_len];
    path[prefix_len] = '\0';
    ssize_t n = readlinkat(parent, slash + 1, target, sizeof target - 1);
    path[prefix_len] = saved;
    close(parent);
    if (n < 0)
        return errno == EINVAL ? -EEXIST : -errno; /* not a symlink: something else is in the way */
    target[n] = '\0';

    char rest[PATH_MAX];
    size_t rest_len = strlen(path + prefix_len);
    memcpy(rest, path + prefix_len, rest_len + 1);
    int rc = join(path, path, (size_t)(slash - path), target);
    if (rc < 0)
        return rc;
    size_t len = strlen(path);
    if (len + rest_len + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(path + len, rest, rest_len + 1);
    return 0;
}

int isolate_create_in_root(const struct isolate_root *root, const char *path, int as_file, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);

    for (int hops = 0;; hops++) {
        if (hops > MAX_SYMLINK_HOPS)
            return -ELOOP;
        int restart = 0;
        len = strlen(buf);
        for (size_t end = 1; end <= len && !restart; end++) {
            if (end < len && buf[end] != '/')
                continue;
            if (buf[end - 1] == '/')
                continue; /* "//" or a trailing slash */
            char saved = buf[end];
            buf[end] = '\0';
            int fd = isolate_open_in_root(root, buf, 0);
            int rc = fd;
            if (fd >= 0)
                close(fd);
            else if (fd == -ENOENT) {
                int file = as_file && saved == '\0';
                /* parents of a file are directories: 0755, not the file's mode */
                rc = create_component(root, buf, file, file || !as_file ? mode : 0755);
            }
            buf[end] = saved;
            if (rc == -EEXIST) {
                if ((rc = follow_dangling(root, buf, end)) < 0)
                    return rc;
                restart = 1;
            } else if (rc < 0) {
                return rc;
            }
        }
        if (!restart)
            return 0;
    }
}

/* For the parent: reads a file of the container's, resolved in the root the way the
 * container would resolve it (so /etc/passwd -> /host/etc/shadow stays inside), and
 * only a regular file (a FIFO or a device in a crafted image is not opened). */
int isolate_shim_open_in_root(const char *root_path, const char *path)
{
    int root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return -errno;
    struct isolate_root root = { .fd = root_fd, .path = root_path };
    int fd = isolate_open_in_root(&root, path, 0);
    close(root_fd);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    char link[ISOLATE_FD_PATH_MAX];
    isolate_fd_path(link, fd);
    int readable = open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int err = errno;
    close(fd);
    return readable < 0 ? -err : readable;
}

/* Where the walk stopped, for the message: the directory's real path plus the name. */
static void describe_link(int dir, const char *name, char *link, size_t link_len)
{
    if (link == NULL || link_len == 0)
        return;
    char fd_path[ISOLATE_FD_PATH_MAX];
    isolate_fd_path(fd_path, dir);
    ssize_t n = readlink(fd_path, link, link_len - 1);
    if (n < 0)
        n = 0;
    if (n == 1 && link[0] == '/')
        n = 0; /* "/" + "/name" would read "//name" */
    size_t name_len = strlen(name);
    if ((size_t)n + 1 + name_len + 1 > link_len) {
        link[0] = '\0';
        return;
    }
    link[n] = '/';
    memcpy(link + n + 1, name, name_len + 1);
}

int isolate_open_host_path(const char *path, int follow_root_links, char *link, size_t link_len, uint32_t *link_uid)
{
    if (link != NULL && link_len > 0)
        link[0] = '\0';
    struct isolate_open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = ISOLATE_RESOLVE_NO_SYMLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd >= 0)
        return fd;
    if (errno != ENOSYS && errno != ELOOP)
        return -errno;

    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    int dir = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    int hops = 0;
    char *p = buf;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            return dir;
        char *end = strchrnul(p, '/');
        char saved = *end;
        *end = '\0';
        int next = strcmp(p, ".") == 0 ? fcntl(dir, F_DUPFD_CLOEXEC, 0) : openat(dir, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (next < 0 || fstat(next, &st) < 0) {
            int err = errno;
            if (next >= 0)
                close(next);
            close(dir);
            return -err;
        }
        if (!S_ISLNK(st.st_mode)) {
            *end = saved;
            close(dir);
            dir = next;
            p = end;
            continue;
        }
        if (!follow_root_links || st.st_uid != 0) {
            describe_link(dir, p, link, link_len);
            if (link_uid != NULL)
                *link_uid = (uint32_t)st.st_uid;
            close(next);
            close(dir);
            return -ELOOP;
        }
        *end = saved;
        char target[PATH_MAX];
        ssize_t n = readlinkat(next, "", target, sizeof target - 1);
        int err = errno;
        close(next);
        if (n < 0 || ++hops > MAX_SYMLINK_HOPS) {
            close(dir);
            return n < 0 ? -err : -ELOOP;
        }
        target[n] = '\0';
        int spliced = splice_link(buf, end, target, (size_t)n);
        if (spliced < 0) {
            close(dir);
            return spliced;
        }
        p = buf;
        if (target[0] == '/') { /* absolute: from / again */
            close(dir);
            if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -errno;
        }
    }
}

/* For the parent: isolate_open_host_path, exported. */
int isolate_shim_open_host_path(const char *path, char *link, uint32_t link_len, uint32_t *link_uid)
{
    if (path == NULL)
        return -EINVAL;
    return isolate_open_host_path(path, 1, link, link_len, link_uid);
}
