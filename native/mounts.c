/* mounts.c - the mount plan's interpreter. The plan is data decided in C#
 * (src/Isolate.Core/Plan/MountPlanBuilder.cs); here each operation is one
 * case of one switch, run in the child's new mount namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsutil.h"
#include "internal.h"

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

static int check(int rc)
{
    return rc < 0 ? -errno : 0;
}

/* A read-only bind remount applies to one mount only; mount_setattr with
 * AT_RECURSIVE covers the whole tree in one call (Linux 5.12+). */
static int make_tree_readonly(const char *target)
{
    struct isolate_mount_attr attr = { .attr_set = ISOLATE_MOUNT_ATTR_RDONLY };
    return check((int)syscall(SYS_mount_setattr, AT_FDCWD, target, ISOLATE_AT_RECURSIVE, &attr, sizeof attr));
}

static int make_device(const struct isolate_mount_op *op)
{
    if (mknod(op->target, op->mode, (dev_t)op->dev) == 0)
        return check(chmod(op->target, op->mode & 07777)); /* mknod honours the umask */
    if ((errno != EPERM && errno != EACCES) || op->source == NULL)
        return -errno;
    /* Without CAP_MKNOD (in a user namespace, or with Isolate itself running in a
     * container that dropped it), bind the host's node instead. */
    int fd = open(op->target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    return check(mount(op->source, op->target, NULL, MS_BIND, NULL));
}

/* pivot_root(".", ".") stacks the old root on top of the new one at "/";
 * detaching it leaves no path back to the host's tree, and needs no
 * directory for the old root inside the (maybe read-only) new root. */
static int pivot_into(const char *new_root)
{
    if (chdir(new_root) < 0)
        return -errno;
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return -errno;
    if (umount2(".", MNT_DETACH) < 0)
        return -errno;
    return check(chdir("/"));
}

static int run_op(const struct isolate_mount_op *op)
{
    switch (op->kind) {
    case ISOLATE_MOUNT_MAKE_PRIVATE:
        return check(mount(NULL, op->target, NULL, MS_REC | MS_PRIVATE, NULL));
    case ISOLATE_MOUNT_BIND:
        return check(mount(op->source, op->target, NULL, MS_BIND | (op->flags & MS_REC), NULL));
    case ISOLATE_MOUNT_FILESYSTEM:
        return check(mount(op->source, op->target, op->fstype, op->flags, op->data));
    case ISOLATE_MOUNT_READONLY_TREE:
        return make_tree_readonly(op->target);
    case ISOLATE_MOUNT_MKDIR:
        return isolate_mkdir_p(op->target, op->mode);
    case ISOLATE_MOUNT_MKNOD:
        return make_device(op);
    case ISOLATE_MOUNT_SYMLINK:
        return check(symlink(op->source, op->target));
    case ISOLATE_MOUNT_PIVOT_ROOT:
        return pivot_into(op->target);
    default:
        return -EINVAL;
    }
}

int isolate_run_mount_ops(const struct isolate_mount_op *ops, uint32_t count, int32_t *failed_index)
{
    for (uint32_t i = 0; i < count; i++) {
        int rc = run_op(&ops[i]);
        if (rc < 0) {
            *failed_index = (int32_t)i;
            return rc;
        }
    }
    return 0;
}
