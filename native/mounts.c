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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsutil.h"
#include "internal.h"
#include "resolve.h"

/* Our own copy of the mount_setattr(2) ABI: glibc 2.36's <sys/mount.h> and
 * <linux/mount.h> cannot both be included. */
struct isolate_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define ISOLATE_AT_RECURSIVE 0x8000
#define ISOLATE_MOUNT_ATTR_RDONLY 0x1ull

struct plan_state {
    struct isolate_root root; /* fd -1 until OPEN_ROOT */
    int sync_fd;              /* for NOTE messages */
    int32_t index;            /* the op being run */
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
        resolved = isolate_open_in_root(&st->root, op->target, no_symlinks);
    }
    if (resolved < 0)
        return resolved;
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
    struct statvfs fs;
    if (statvfs(path, &fs) < 0)
        return -errno;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    flags |= (fs.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (fs.f_flag & ST_NODEV ? MS_NODEV : 0)
        | (fs.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
    return check(mount(NULL, path, NULL, flags, NULL));
}

/* After a bind, the target path (re-resolved) names the new mount. */
static int readonly_after_bind(struct plan_state *st, const struct isolate_mount_op *op)
{
    char path[PATH_MAX];
    int fd;
    int rc = resolve_target(st, op, path, &fd);
    if (rc == 0)
        rc = make_readonly(path, 1, 0);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int op_bind(struct plan_state *st, const struct isolate_mount_op *op, const char *target)
{
    int rc = check(mount(op->source, target, NULL, MS_BIND | (op->flags & MS_REC), NULL));
    if (rc == 0 && (op->flags & MS_RDONLY))
        rc = readonly_after_bind(st, op);
    return rc;
}

static int make_device(const struct isolate_mount_op *op, int parent, const char *name, const char *target)
{
    if (mknodat(parent, name, op->mode, (dev_t)op->dev) == 0)
        return check(fchmodat(parent, name, op->mode & 07777, 0)); /* mknod honours the umask */
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

/* MKNOD and SYMLINK make a new name: resolve the parent, create the last component in it. */
static int op_create_entry(struct plan_state *st, const struct isolate_mount_op *op)
{
    if (!(op->options & ISOLATE_OP_IN_ROOT)) {
        if (op->kind == ISOLATE_MOUNT_SYMLINK)
            return check(symlink(op->source, op->target));
        return make_device(op, AT_FDCWD, op->target, op->target);
    }
    const char *slash = strrchr(op->target, '/');
    char parent_path[PATH_MAX];
    size_t len = (size_t)(slash - op->target);
    if (slash == NULL || len + 2 > sizeof parent_path)
        return -EINVAL;
    memcpy(parent_path, op->target, len);
    parent_path[len] = '\0';
    int parent = isolate_open_in_root(&st->root, len > 0 ? parent_path : "/", 0);
    if (parent < 0)
        return parent;
    int rc;
    if (op->kind == ISOLATE_MOUNT_SYMLINK) {
        rc = check(symlinkat(op->source, parent, slash + 1));
    } else {
        /* the bind fallback needs a path: the parent's fd path plus the name */
        char target[PATH_MAX];
        isolate_fd_path(target, parent);
        size_t tl = strlen(target);
        size_t nl = strlen(slash);
        if (tl + nl + 1 > sizeof target) {
            close(parent);
            return -ENAMETOOLONG;
        }
        memcpy(target + tl, slash, nl + 1);
        rc = make_device(op, parent, slash + 1, target);
    }
    close(parent);
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

static int op_readonly_path(struct plan_state *st, const struct isolate_mount_op *op, const char *target)
{
    int rc = check(mount(target, target, NULL, MS_BIND | MS_REC, NULL));
    return rc < 0 ? rc : readonly_after_bind(st, op);
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
    case ISOLATE_MOUNT_MKDIR:
        if (op->options & ISOLATE_OP_IN_ROOT)
            return isolate_create_in_root(&st->root, op->target, 0, op->mode);
        return isolate_mkdir_p(op->target, op->mode);
    case ISOLATE_MOUNT_MKNOD:
    case ISOLATE_MOUNT_SYMLINK:
        return op_create_entry(st, op);
    case ISOLATE_MOUNT_OPEN_ROOT:
        return op_open_root(st, op->target);
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
    case ISOLATE_MOUNT_BIND:
        rc = op_bind(st, op, target);
        break;
    case ISOLATE_MOUNT_FILESYSTEM:
        rc = check(mount(op->source, target, op->fstype, op->flags, op->data));
        break;
    case ISOLATE_MOUNT_READONLY:
        rc = make_readonly(target, (op->options & ISOLATE_OP_RECURSIVE) != 0, 1);
        break;
    case ISOLATE_MOUNT_MASK:
        rc = op_mask(target, fd);
        break;
    case ISOLATE_MOUNT_READONLY_PATH:
        rc = op_readonly_path(st, op, target);
        break;
    default:
        rc = -EINVAL;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int isolate_run_mount_ops(const struct isolate_mount_op *ops, uint32_t count, int sync_fd, int32_t *failed_index)
{
    struct plan_state st = { .root = { .fd = -1, .path = NULL }, .sync_fd = sync_fd };
    for (uint32_t i = 0; i < count; i++) {
        st.index = (int32_t)i;
        int rc = run_op(&st, &ops[i]);
        if (rc < 0) {
            *failed_index = (int32_t)i;
            if (st.root.fd >= 0)
                close(st.root.fd);
            return rc;
        }
    }
    if (st.root.fd >= 0)
        close(st.root.fd);
    return 0;
}
