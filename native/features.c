/* features.c - what this kernel offers, asked the kernel itself (not its version:
 * distributions backport). Each probe is a call that fails at once with ENOSYS
 * where the system call does not exist, and with another error where it does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isolate_shim.h"
#include "mountapi.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static int exists(long rc)
{
    return rc >= 0 || errno != ENOSYS;
}

uint32_t isolate_shim_features(void)
{
    uint32_t features = 0;
    /* all with invalid arguments: nothing is opened or changed */
    if (exists(syscall(SYS_openat2, -1, "", NULL, 0)))
        features |= ISOLATE_FEATURE_OPENAT2;
    if (exists(syscall(SYS_open_tree, -1, "", ~0u)))
        features |= ISOLATE_FEATURE_OPEN_TREE;
    if (exists(syscall(SYS_mount_setattr, -1, "", ~0u, NULL, 0)))
        features |= ISOLATE_FEATURE_MOUNT_SETATTR;
    if (exists(syscall(SYS_close_range, ~0u, 0u, ~0u)))
        features |= ISOLATE_FEATURE_CLOSE_RANGE;
    return features;
}
