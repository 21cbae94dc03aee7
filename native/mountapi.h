/* mountapi.h - our own copy of the new mount API's ABI (open_tree, move_mount,
 * mount_setattr): glibc 2.36's <sys/mount.h> and <linux/mount.h> cannot both be
 * included, and older headers lack them. */
#ifndef ISOLATE_MOUNTAPI_H
#define ISOLATE_MOUNTAPI_H

#include <stdint.h>
#include <sys/syscall.h>

struct isolate_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#define ISOLATE_AT_RECURSIVE 0x8000
#define ISOLATE_MOUNT_ATTR_RDONLY 0x1ull
#define ISOLATE_MOUNT_ATTR_NOSUID 0x2ull
#define ISOLATE_MOUNT_ATTR_NODEV 0x4ull
#define ISOLATE_MOUNT_ATTR_IDMAP 0x00100000ull
#define ISOLATE_OPEN_TREE_CLONE 1
#define ISOLATE_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define ISOLATE_MOVE_MOUNT_T_EMPTY_PATH 0x00000040

#endif
