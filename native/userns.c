/* userns.c - the parent's side of a user namespace: an id-mapped copy of the
 * container's root filesystem. Runs in the .NET process (host root, the initial
 * user namespace), where setting an id mapping on a mount is allowed; the child,
 * inside its new user namespace, could not. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "isolate_shim.h"
#include "mountapi.h"
#include "resolve.h"

int isolate_shim_idmapped_tree(const char *path, int32_t userns_fd)
{
    if (path == NULL || userns_fd < 0)
        return -EINVAL;
    /* Recursive: a rootfs with mounts of its own keeps them; each must support
     * id mapping, or the whole call fails and the caller goes without. */
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC | ISOLATE_AT_RECURSIVE);
    if (tree < 0)
        return -errno;
    struct isolate_mount_attr attr = { .attr_set = ISOLATE_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | ISOLATE_AT_RECURSIVE, &attr, sizeof attr) < 0) {
        int err = errno;
        close(tree);
        return -err;
    }
    return tree;
}

int isolate_shim_capture_tree(const char *path, int32_t recursive, int32_t readonly)
{
    if (path == NULL)
        return -EINVAL;
    /* the canonical source walked again following no symlink (resolve.c), and the tree
     * taken from that fd: a link swapped in since the check fails instead of redirecting */
    int source = isolate_open_host_path(path, 0, NULL, 0, NULL);
    if (source < 0)
        return source;
    int tree = (int)syscall(SYS_open_tree, source, "", ISOLATE_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH
                            | (recursive ? ISOLATE_AT_RECURSIVE : 0));
    int err = errno;
    close(source);
    if (tree < 0)
        return -err;
    struct isolate_mount_attr attr = { .attr_set = ISOLATE_MOUNT_ATTR_RDONLY };
    if (readonly && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | ISOLATE_AT_RECURSIVE, &attr, sizeof attr) < 0) {
        int err = errno;
        close(tree);
        return -err;
    }
    return tree;
}
