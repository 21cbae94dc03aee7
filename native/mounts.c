/* mounts.c - the mount plan's interpreter. The plan is data decided in C#
 * (src/Isolate.Core/Plan/MountPlanBuilder.cs); here each operation is one
 * case of one switch, run in the child's new mount namespace. Targets inside
 * the container's root are resolved there (resolve.c) and mounted through the
 * resulting fd, never by a path a crafted root could redirect. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h> /* the ST_ flag values statfs reports too */
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "internal.h"
#include "mountapi.h"
#include "resolve.h"


struct plan_state {
    struct isolate_root root; /* fd -1 until OPEN_ROOT */
    int sync_fd;              /* for NOTE messages */
    int32_t index;            /* the op being run */
    int created;              /* resolve_target made the op's target (it had no mode to keep) */
    /* CAPTURE slots: detached copies of host trees (open_tree), -1 where none was
     * taken (before Linux 5.2, BIND then binds by path); readonly_pending where the
     * read-only flag can only be set once the tree is attached (5.2 to 5.11). */
    int captures[ISOLATE_MAX_CAPTURES];
    unsigned char readonly_pending[ISOLATE_MAX_CAPTURES];
};

static int check(int rc)
{
    return rc < 0 ? -errno : 0;
}

/* The op's target as a path mount(2) can take: the host path itself, or for a
 * target inside the root, /proc/self/fd/N of the fd it resolved to (*fd, which
 * the caller closes). A missing target is created first when the op asks. */
static int resolve_target(struct plan_state *st, const struct isolate_mount_op *op, char path[PATH_MAX], int *fd)
{
    *fd = -1;
    st->created = 0;
    if (!(op->options & ISOLATE_OP_IN_ROOT)) {
        size_t len = strlen(op->target);
        if (len + 1 > PATH_MAX)
            return -ENAMETOOLONG;
        memcpy(path, op->target, len + 1);
        return 0;
    }
    if (st->root.fd < 0)
        return -EBADF; /* a plan without OPEN_ROOT: a bug in the plan builder */
    int no_symlinks = (op->options & ISOLATE_OP_NO_SYMLINKS) != 0;
    int resolved = isolate_open_in_root(&st->root, op->target, no_symlinks);
    if (resolved == -ENOENT && (op->options & (ISOLATE_OP_CREATE_DIR | ISOLATE_OP_CREATE_FILE))) {
        int rc = isolate_create_in_root(&st->root, op->target, (op->options & ISOLATE_OP_CREATE_FILE) != 0,
                                        op->mode != 0 ? op->mode : 0755);
        if (rc < 0)
            return rc;
        st->created = 1;
        resolved = isolate_open_in_root(&st->root, op->target, no_symlinks);
    }
    if (resolved < 0)
        return resolved;
    /* Only an op on "/" itself may act on the root: a link like /dev -> / would
     * otherwise stack a mount over the whole root. */
    if (strcmp(op->target, "/") != 0 && isolate_is_root(&st->root, resolved)) {
        close(resolved);
        return -EBUSY;
    }
    *fd = resolved;
    isolate_fd_path(path, resolved);
    return 0;
}

/* Read-only, for one mount or (recursive) a whole tree. mount_setattr covers a
 * tree in one call (5.12+); before it, a remount changes only the top mount,
 * which is refused where the tree matters (the host-root default). */
static int make_readonly(const char *path, int recursive, int tree_required)
{
    struct isolate_mount_attr attr = { .attr_set = ISOLATE_MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? ISOLATE_AT_RECURSIVE : 0, &attr, sizeof attr) == 0)
        return 0;
    if (errno != ENOSYS || (recursive && tree_required))
        return -errno;
    /* a bind remount must repeat the flags the mount is locked with */
    /* statfs, not statvfs: glibc's statvfs may read /proc/mounts with stdio (malloc,
     * locks), which this cloned child must never touch */
    struct statfs fs;
    if (statfs(path, &fs) < 0)
        return -errno;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    flags |= (fs.f_flags & ST_NOSUID ? MS_NOSUID : 0) | (fs.f_flags & ST_NODEV ? MS_NODEV : 0)
        | (fs.f_flags & ST_NOEXEC ? MS_NOEXEC : 0);
    return check(mount(NULL, path, NULL, flags, NULL));
}

/* A detached tree (open_tree) made read-only before anyone can see it: in one call
 * for the whole tree (5.12+); before that, only the top mount can be made read-only,
 * and only once attached, so the tree is taken again without its submounts - they
 * are left out rather than left writable. */
static int readonly_tree(int *tree, const char *source, int *pending)
{
    struct isolate_mount_attr attr = { .attr_set = ISOLATE_MOUNT_ATTR_RDONLY };
    *pending = 0;
    if (syscall(SYS_mount_setattr, *tree, "", AT_EMPTY_PATH | ISOLATE_AT_RECURSIVE, &attr, sizeof attr) == 0)
        return 0;
    if (errno != ENOSYS)
        return -errno;
    close(*tree);
    *tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC);
    if (*tree < 0)
        return -errno;
    *pending = 1;
    return 0;
}

/* Attaches a detached tree at the target fd: nothing is looked up by path. */
/* Attaches a detached tree on target_fd, or (-1) on the host path target. */
static int attach_tree(int tree, int pending, int target_fd, const char *target)
{
    long rc = target_fd >= 0
        ? syscall(SYS_move_mount, tree, "", target_fd, "", ISOLATE_MOVE_MOUNT_F_EMPTY_PATH | ISOLATE_MOVE_MOUNT_T_EMPTY_PATH)
        : syscall(SYS_move_mount, tree, "", AT_FDCWD, target, ISOLATE_MOVE_MOUNT_F_EMPTY_PATH);
    if (rc < 0)
        return -errno;
    char path[ISOLATE_FD_PATH_MAX]; /* the tree's fd names the attached mount's root */
    isolate_fd_path(path, tree);
    /* A clone of a shared mount (the parent takes trees in the host's namespace) is a
     * peer of the host's: made private at once, so that nothing mounted under it later
     * (the container's /dev, /proc, binds) propagates to the host. A propagation the
     * config asks for is applied after this. */
    if (mount(NULL, path, NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    if (!pending)
        return 0;
    return make_readonly(path, 0, 0);
}

/* Before Linux 5.2 (no open_tree): bind by path, then remount read-only. The target
 * fd names the directory under the new mount, so the mount is reached through the
 * parent and the name, and checked to be the source before it is changed. Not
 * recursive: submounts are left out rather than left writable. */
static int bind_readonly_by_path(const char *source, int target_fd, const char *target)
{
    struct stat src;
    if (stat(source, &src) < 0)
        return -errno;
    if (mount(source, target, NULL, MS_BIND, NULL) < 0)
        return -errno;
    char link[ISOLATE_FD_PATH_MAX], where[PATH_MAX];
    isolate_fd_path(link, target_fd);
    ssize_t n = readlink(link, where, sizeof where - 1);
    if (n <= 0)
        return n < 0 ? -errno : -EINVAL;
    where[n] = '\0';
    const char *name = strrchr(where, '/') + 1;
    int parent = openat(target_fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    int mnt = *name != '\0' ? openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
    int err = mnt < 0 ? (*name != '\0' ? errno : EINVAL) : 0;
    close(parent);
    if (mnt < 0)
        return -err;
    struct stat now;
    int rc = fstat(mnt, &now) < 0 ? -errno : (now.st_dev != src.st_dev || now.st_ino != src.st_ino) ? -EXDEV : 0;
    if (rc == 0) {
        char path[ISOLATE_FD_PATH_MAX];
        isolate_fd_path(path, mnt);
        rc = make_readonly(path, 0, 0);
    }
    close(mnt);
    return rc;
}

/* source (a host path, or /proc/self/fd/N) bound read-only onto the target fd. */
static int bind_readonly(const char *source, int target_fd, const char *target)
{
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC | ISOLATE_AT_RECURSIVE);
    if (tree < 0)
        return errno == ENOSYS ? bind_readonly_by_path(source, target_fd, target) : -errno;
    int pending;
    int rc = readonly_tree(&tree, source, &pending);
    if (rc == 0)
        rc = attach_tree(tree, pending, target_fd, target);
    if (tree >= 0)
        close(tree);
    return rc;
}

/* Volumes are captured before any staging mount exists, so none can cover them. */
static int op_capture(struct plan_state *st, const struct isolate_mount_op *op)
{
    if (op->slot < 0 || op->slot >= ISOLATE_MAX_CAPTURES)
        return -EINVAL;
    if (st->captures[op->slot] >= 0)
        return 0; /* the parent took it, with its rights (isolate_shim_capture_tree) */
    unsigned recursive = (op->flags & MS_REC) ? ISOLATE_AT_RECURSIVE : 0; /* rbind, or bind: the mount alone */
    /* the source is the canonical path the parent's walk gave (resolve.c): walked again
     * following no symlink at all, and the tree taken from that fd, so a link swapped in
     * since the check fails the run instead of redirecting the bind */
    int source = isolate_open_host_path(op->source, 0, NULL, 0, NULL);
    if (source < 0)
        return source;
    char source_path[ISOLATE_FD_PATH_MAX];
    isolate_fd_path(source_path, source);
    int tree = (int)syscall(SYS_open_tree, source, "", ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | recursive);
    if (tree < 0) {
        int err = errno;
        close(source);
        return err == ENOSYS ? 0 : -err; /* before 5.2: BIND binds by path */
    }
    int pending = 0;
    int rc = (op->flags & MS_RDONLY) ? readonly_tree(&tree, source_path, &pending) : 0;
    close(source);
    if (rc < 0) {
        if (tree >= 0)
            close(tree);
        return rc;
    }
    st->captures[op->slot] = tree;
    st->readonly_pending[op->slot] = (unsigned char)pending;
    return 0;
}

static int bind_source(const struct isolate_mount_op *op, const char *source, const char *target, int target_fd)
{
    if ((op->flags & MS_RDONLY) && target_fd >= 0)
        return bind_readonly(source, target_fd, target);
    return check(mount(source, target, NULL, MS_BIND | (op->flags & MS_REC), NULL));
}

static int op_bind(struct plan_state *st, const struct isolate_mount_op *op, const char *target, int target_fd)
{
    int slot = op->slot;
    if (slot >= 0 && slot < ISOLATE_MAX_CAPTURES && st->captures[slot] >= 0) {
        int rc = attach_tree(st->captures[slot], st->readonly_pending[slot], target_fd, target);
        close(st->captures[slot]);
        st->captures[slot] = -1;
        return rc;
    }
    if (slot < 0)
        return bind_source(op, op->source, target, target_fd);
    /* a volume before Linux 5.2 (no capture): bound from the walked fd, as op_capture does */
    int source = isolate_open_host_path(op->source, 0, NULL, 0, NULL);
    if (source < 0)
        return source;
    char source_path[ISOLATE_FD_PATH_MAX];
    isolate_fd_path(source_path, source);
    int rc = bind_source(op, source_path, target, target_fd);
    close(source);
    return rc;
}

static int make_device(const struct isolate_mount_op *op, int parent, const char *name, const char *target)
{
    if (mknodat(parent, name, op->mode, (dev_t)op->dev) == 0) {
        int rc = check(fchmodat(parent, name, op->mode & 07777, 0)); /* mknod honours the umask */
        if (rc == 0 && (op->options & ISOLATE_OP_CHOWN))
            rc = check(fchownat(parent, name, op->uid, op->gid, AT_SYMLINK_NOFOLLOW));
        return rc;
    }
    if ((errno != EPERM && errno != EACCES) || op->source == NULL)
        return -errno;
    /* Without CAP_MKNOD (in a user namespace, or with Isolate itself running in a
     * container that dropped it), bind the host's node instead. */
    int fd = openat(parent, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    return check(mount(op->source, target, NULL, MS_BIND, NULL));
}

/* The directory a new name in the root goes into, opened inside the root (an fd, or a
 * negative errno); *name is set to the last component of target. */
static int open_parent_in_root(struct plan_state *st, const char *target, const char **name)
{
    const char *slash = strrchr(target, '/');
    if (slash == NULL)
        return -EINVAL;
    char parent_path[PATH_MAX];
    size_t len = (size_t)(slash - target);
    if (len + 2 > sizeof parent_path)
        return -EINVAL;
    memcpy(parent_path, target, len);
    parent_path[len] = '\0';
    *name = slash + 1;
    return isolate_open_in_root(&st->root, len > 0 ? parent_path : "/", 0);
}

/* MKNOD and SYMLINK make a new name: resolve the parent, create the last component in it. */
static int op_create_entry(struct plan_state *st, const struct isolate_mount_op *op)
{
    if (!(op->options & ISOLATE_OP_IN_ROOT)) {
        if (op->kind == ISOLATE_MOUNT_SYMLINK)
            return check(symlink(op->source, op->target));
        return make_device(op, AT_FDCWD, op->target, op->target);
    }
    const char *name;
    int parent = open_parent_in_root(st, op->target, &name);
    if (parent < 0)
        return parent;
    int rc;
    if (op->kind == ISOLATE_MOUNT_SYMLINK) {
        if ((op->options & ISOLATE_OP_REPLACE) && unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
            rc = -errno;
            close(parent);
            return rc;
        }
        rc = check(symlinkat(op->source, parent, name));
    } else {
        /* the bind fallback needs a path: the parent's fd path plus the name */
        char target[PATH_MAX];
        isolate_fd_path(target, parent);
        size_t tl = strlen(target);
        size_t nl = strlen(name);
        if (tl + nl + 2 > sizeof target) {
            close(parent);
            return -ENAMETOOLONG;
        }
        target[tl] = '/';
        memcpy(target + tl + 1, name, nl + 1);
        rc = make_device(op, parent, name, target);
    }
    close(parent);
    if (rc == -EEXIST && (op->options & ISOLATE_OP_KEEP_EXISTING))
        return 0;
    return rc;
}

/* WRITE_FILE: a new file in the root (its parent must exist), replacing what is at the
 * name unless that is a directory; the name itself is never followed. */
static int op_write_file(struct plan_state *st, const struct isolate_mount_op *op)
{
    if (!(op->options & ISOLATE_OP_IN_ROOT) || op->data == NULL)
        return -EINVAL;
    const char *name;
    int parent = open_parent_in_root(st, op->target, &name);
    if (parent < 0)
        return parent;
    /* a link at the name is removed, not written through */
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
        int rc = -errno;
        close(parent);
        return rc;
    }
    int fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->mode);
    int rc = fd < 0 ? -errno : 0;
    close(parent);
    if (fd < 0)
        return rc;
    const char *data = op->data;
    uint64_t left = op->dev;
    while (left > 0) {
        ssize_t n = write(fd, data, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        data += n;
        left -= (uint64_t)n;
    }
    close(fd);
    return rc;
}

/* runc's way to hide a path: a directory under an empty read-only tmpfs, anything
 * else under /dev/null. */
static int op_mask(const char *target, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return check(mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555"));
    return check(mount("/dev/null", target, NULL, MS_BIND, NULL));
}

/* The target bound onto itself, read-only: through a detached copy, never re-resolved. */
static int op_readonly_path(const char *target, int fd)
{
    return bind_readonly(target, fd, target);
}

/* 1 when a comma-separated mount data string has key=... */
static int data_has(const char *data, const char *key)
{
    size_t len = strlen(key);
    for (const char *p = data; p != NULL && *p != '\0';) {
        if (strncmp(p, key, len) == 0 && p[len] == '=')
            return 1;
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return 0;
}

/* ---- COPY_UP (tmpcopyup): what a directory held, copied into the tmpfs mounted on it ----
 * An fd opened on the directory before the mount still reads the directory itself (the
 * lower one) after it; the new mount's root is found again by resolving the target in
 * the root, which crosses the new mount. The walk recurses with one getdents buffer per
 * level on the child's stack (256 KiB, spawn.c), so the depth is bounded; file contents
 * and link targets pass through one buffer shared by every level. Directories, regular
 * files and symlinks are copied with their modes and owners; sockets, fifos and device
 * nodes are skipped, hard links become separate files, times are not kept. */
#define COPY_UP_MAX_DEPTH 32 /* levels below the mount point; deeper fails with ELOOP */

struct dirent64_raw { /* what getdents64 writes; glibc's struct is not in every libc */
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static int copy_dir(int from, int to, unsigned depth, char buf[PATH_MAX]);

/* chown first: it clears the set-user-ID and set-group-ID bits, which the chmod puts back */
/* An owner the user namespace cannot map (shown as the overflow id) cannot be given:
 * the copy keeps the creator's, as crun does, rather than fail the mount. */
static int copy_owner(int dir, const char *name, const struct stat *from, int flags)
{
    if (fchownat(dir, name, from->st_uid, from->st_gid, flags) < 0 && errno != EINVAL && errno != EPERM)
        return -errno;
    return 0;
}

static int copy_owner_mode(int fd, const struct stat *from)
{
    int rc = copy_owner(fd, "", from, AT_EMPTY_PATH);
    return rc == 0 && fchmod(fd, from->st_mode & 07777) < 0 ? -errno : rc;
}

static int copy_data(int in, int out, char buf[PATH_MAX])
{
    for (;;) {
        ssize_t n = sendfile(out, in, NULL, 1u << 30);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            if (errno != EINVAL && errno != ENOSYS)
                return -errno;
            break; /* a filesystem sendfile cannot read: copy through the buffer */
        }
    }
    for (;;) {
        ssize_t n = read(in, buf, PATH_MAX);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return w < 0 ? -errno : -EIO;
            done += w;
        }
    }
}

static int copy_regular(int from, int to, const char *name, const struct stat *st, char buf[PATH_MAX])
{
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = out < 0 ? -errno : copy_data(in, out, buf);
    if (rc == 0)
        rc = copy_owner_mode(out, st);
    close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int copy_symlink(int from, int to, const char *name, const struct stat *st, char buf[PATH_MAX])
{
    ssize_t n = readlinkat(from, name, buf, PATH_MAX);
    if (n < 0)
        return -errno;
    if (n >= PATH_MAX)
        return -ENAMETOOLONG;
    buf[n] = '\0';
    if (symlinkat(buf, to, name) < 0)
        return -errno;
    return copy_owner(to, name, st, AT_SYMLINK_NOFOLLOW);
}

static int copy_subdir(int from, int to, const char *name, const struct stat *st, unsigned depth, char buf[PATH_MAX])
{
    if (depth >= COPY_UP_MAX_DEPTH)
        return -ELOOP;
    if (mkdirat(to, name, 0700) < 0)
        return -errno;
    int in = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = out < 0 ? -errno : copy_dir(in, out, depth + 1, buf);
    if (rc == 0)
        rc = copy_owner_mode(out, st);
    close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int copy_entry(int from, int to, const char *name, unsigned depth, char buf[PATH_MAX])
{
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
        return copy_subdir(from, to, name, &st, depth, buf);
    case S_IFREG:
        return copy_regular(from, to, name, &st, buf);
    case S_IFLNK:
        return copy_symlink(from, to, name, &st, buf);
    default:
        return 0; /* sockets, fifos, devices: skipped */
    }
}

static int copy_dir(int from, int to, unsigned depth, char buf[PATH_MAX])
{
    char dents[1024] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, from, dents, sizeof dents);
        if (n <= 0)
            return n < 0 ? -errno : 0;
        for (long at = 0; at < n;) {
            const struct dirent64_raw *d = (const struct dirent64_raw *)(dents + at);
            at += d->reclen;
            if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
                continue;
            int rc = copy_entry(from, to, d->name, depth, buf);
            if (rc < 0)
                return rc;
        }
    }
}

/* The mount, then the copy into it; a read-only mount is made read-only after the copy.
 * The tmpfs root takes the directory's mode (its owner stays root, as runc has it). */
static int mount_copy_up(struct plan_state *st, const struct isolate_mount_op *op, const char *target, int fd,
                         const char *data)
{
    if (fd < 0)
        return -EINVAL; /* copy-up needs a target in the root: a bug in the plan builder */
    int lower = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lower < 0)
        return -errno;
    struct stat dir, now;
    int upper = -1, found = -1;
    int rc = check(fstat(lower, &dir));
    if (rc == 0)
        rc = check(mount(op->source, target, op->fstype, op->flags & ~(uint32_t)MS_RDONLY, data));
    if (rc == 0) {
        found = isolate_open_in_root(&st->root, op->target, (op->options & ISOLATE_OP_NO_SYMLINKS) != 0);
        rc = found < 0 ? found : 0;
    }
    if (rc == 0) {
        upper = openat(found, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = upper < 0 ? -errno : check(fstat(upper, &now));
    }
    struct statfs fs;
    if (rc == 0 && (now.st_dev == dir.st_dev || fstatfs(upper, &fs) < 0 || fs.f_type != TMPFS_MAGIC))
        rc = -EXDEV; /* the target no longer leads to the new mount: the root of a tmpfs */
    if (rc == 0) {
        char buf[PATH_MAX];
        rc = copy_dir(lower, upper, 0, buf);
    }
    /* the tmpfs's root takes the directory's mode, and keeps its owner (root), as runc does */
    if (rc == 0 && fchmod(upper, dir.st_mode & 07777) < 0)
        rc = -errno;
    if (rc == 0 && (op->flags & MS_RDONLY)) {
        char path[ISOLATE_FD_PATH_MAX];
        isolate_fd_path(path, upper);
        rc = make_readonly(path, 0, 0);
    }
    close(lower);
    if (found >= 0)
        close(found);
    if (upper >= 0)
        close(upper);
    return rc;
}

/* A filesystem as configured. KEEP_MODE (runc's tmpfs): the root of the new mount takes
 * the mode its mount point had, given to the kernel as mode= so nothing is changed
 * through a path afterwards. COPY_UP: see mount_copy_up; a target made for the mount
 * had nothing to copy. */
static int op_filesystem(struct plan_state *st, const struct isolate_mount_op *op, const char *target, int fd)
{
    const char *data = op->data;
    char buf[4096];
    struct stat where;
    if ((op->options & ISOLATE_OP_KEEP_MODE) && !st->created && fd >= 0 && !data_has(data, "mode")
        && fstat(fd, &where) == 0) {
        size_t len = data != NULL ? strlen(data) : 0;
        if (len + 16 > sizeof buf)
            return -E2BIG;
        if (len > 0)
            memcpy(buf, data, len);
        char *p = buf + len;
        if (len > 0)
            *p++ = ',';
        memcpy(p, "mode=0", 6);
        p += 6;
        unsigned mode = where.st_mode & 07777;
        for (int shift = 9; shift >= 0; shift -= 3)
            *p++ = (char)('0' + ((mode >> shift) & 7));
        *p = '\0';
        data = buf;
    }
    if ((op->options & ISOLATE_OP_COPY_UP) && !st->created)
        return mount_copy_up(st, op, target, fd, data);
    return check(mount(op->source, target, op->fstype, op->flags, data));
}

/* A bind's flags can only be set by a remount of it. In a user namespace the kernel
 * locks the flags a bind came with (nosuid, ro, atime ...): a remount that would
 * drop one is refused (EPERM), so it is tried again keeping them. */
static int op_remount(const struct isolate_mount_op *op, const char *target)
{
    unsigned long flags = MS_BIND | MS_REMOUNT | op->flags;
    if (mount(NULL, target, NULL, flags, NULL) == 0)
        return 0;
    if (errno != EPERM)
        return -errno;
    struct statfs fs;
    if (statfs(target, &fs) < 0)
        return -errno;
    flags |= (fs.f_flags & ST_NOSUID ? MS_NOSUID : 0) | (fs.f_flags & ST_NODEV ? MS_NODEV : 0)
        | (fs.f_flags & ST_NOEXEC ? MS_NOEXEC : 0) | (fs.f_flags & ST_RDONLY ? MS_RDONLY : 0);
    if (fs.f_flags & (ST_NOATIME | ST_NODIRATIME | ST_RELATIME)) {
        flags &= ~(unsigned long)(MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME);
        flags |= (fs.f_flags & ST_NOATIME ? MS_NOATIME : 0) | (fs.f_flags & ST_NODIRATIME ? MS_NODIRATIME : 0)
            | (fs.f_flags & ST_RELATIME ? MS_RELATIME : 0);
    }
    return check(mount(NULL, target, NULL, flags, NULL));
}

static int op_open_root(struct plan_state *st, const char *target)
{
    if (st->root.fd >= 0)
        close(st->root.fd);
    st->root.fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
    st->root.path = target;
    return st->root.fd < 0 ? -errno : 0;
}

/* pivot_root(".", ".") stacks the old root on top of the new one at "/";
 * detaching it leaves no path back to the host's tree, and needs no directory
 * for the old root inside the (maybe read-only) new root.
 * An initramfs root cannot be pivoted away from (EINVAL): there, as switch_root
 * does, the new root is moved onto / and chroot'ed into; the old root stays
 * underneath, which is why this is only the fallback, reported as a NOTE. */
static int op_pivot_root(struct plan_state *st)
{
    if (fchdir(st->root.fd) < 0)
        return -errno;
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        if (umount2(".", MNT_DETACH) < 0)
            return -errno;
    } else {
        if (errno != EINVAL)
            return -errno;
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
            return -errno;
        isolate_child_note(st->sync_fd, ISOLATE_NOTE_NO_PIVOT, EINVAL, st->index);
    }
    close(st->root.fd);
    st->root.fd = -1;
    return check(chdir("/"));
}

static int run_op(struct plan_state *st, const struct isolate_mount_op *op)
{
    switch (op->kind) {
    case ISOLATE_MOUNT_MAKE_PRIVATE:
        return check(mount(NULL, op->target, NULL, MS_REC | MS_PRIVATE, NULL));
    case ISOLATE_MOUNT_MKDIR: /* a host path (staging); in the root, resolved below with CREATE_DIR */
        if (!(op->options & ISOLATE_OP_IN_ROOT))
            return isolate_mkdir_p(op->target, op->mode);
        break;
    case ISOLATE_MOUNT_MKNOD:
    case ISOLATE_MOUNT_SYMLINK:
        return op_create_entry(st, op);
    case ISOLATE_MOUNT_WRITE_FILE:
        return op_write_file(st, op);
    case ISOLATE_MOUNT_OPEN_ROOT:
        return op_open_root(st, op->target);
    case ISOLATE_MOUNT_CAPTURE:
        return op_capture(st, op);
    case ISOLATE_MOUNT_PIVOT_ROOT:
        return op_pivot_root(st);
    default:
        break;
    }

    /* The rest act on an existing (or created) target. */
    char target[PATH_MAX];
    int fd;
    int rc = resolve_target(st, op, target, &fd);
    if (rc == -ENOENT && (op->options & ISOLATE_OP_OPTIONAL))
        return 0; /* nothing there to mount on, hide or protect */
    if (rc < 0)
        return rc;
    switch (op->kind) {
    case ISOLATE_MOUNT_MKDIR:
        rc = 0; /* made (or found) by resolve_target */
        break;
    case ISOLATE_MOUNT_BIND:
        rc = op_bind(st, op, target, fd);
        break;
    case ISOLATE_MOUNT_FILESYSTEM:
        rc = op_filesystem(st, op, target, fd);
        break;
    case ISOLATE_MOUNT_REMOUNT:
        rc = op_remount(op, target);
        break;
    case ISOLATE_MOUNT_PROPAGATION:
        rc = check(mount(NULL, target, NULL, op->flags, NULL));
        break;
    case ISOLATE_MOUNT_READONLY:
        rc = make_readonly(target, (op->options & ISOLATE_OP_RECURSIVE) != 0, 1);
        break;
    case ISOLATE_MOUNT_MASK:
        rc = op_mask(target, fd);
        break;
    case ISOLATE_MOUNT_READONLY_PATH:
        rc = op_readonly_path(target, fd);
        break;
    default:
        rc = -EINVAL;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static void release(struct plan_state *st)
{
    if (st->root.fd >= 0)
        close(st->root.fd);
    for (int i = 0; i < ISOLATE_MAX_CAPTURES; i++) {
        if (st->captures[i] >= 0)
            close(st->captures[i]);
    }
}

int isolate_run_mount_ops(const struct isolate_mount_op *ops, uint32_t count, int sync_fd, int tree_fd,
                          int32_t tree_slot, const int *trees, int32_t *failed_index)
{
    struct plan_state st = { .root = { .fd = -1, .path = NULL }, .sync_fd = sync_fd };
    for (int i = 0; i < ISOLATE_MAX_CAPTURES; i++)
        st.captures[i] = trees != NULL ? trees[i] : -1;
    if (tree_fd >= 0 && tree_slot >= 0 && tree_slot < ISOLATE_MAX_CAPTURES)
        st.captures[tree_slot] = tree_fd;
    else if (tree_fd >= 0)
        close(tree_fd);
    for (uint32_t i = 0; i < count; i++) {
        st.index = (int32_t)i;
        int rc = run_op(&st, &ops[i]);
        if (rc < 0) {
            *failed_index = (int32_t)i;
            release(&st);
            return rc;
        }
    }
    release(&st);
    return 0;
}
