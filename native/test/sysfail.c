/* sysfail - a test helper, not part of Isolate: runs a command under a seccomp
 * filter that makes chosen system calls fail the way an older kernel would, so the
 * tests can drive the shim's fallbacks for real on a new kernel.
 *
 *   sysfail [--enosys NAME,...] [--no-clone-pidfd] [--no-userns] -- COMMAND [ARG...]
 *
 * --enosys: openat2, mount_setattr, close_range, open_tree, move_mount fail with ENOSYS
 *           (Linux < 5.6 / 5.12 / 5.9 / 5.2 / 5.2).
 * --no-clone-pidfd: clone with CLONE_PIDFD fails with EINVAL (Linux < 5.2).
 * --no-userns: clone with CLONE_NEWUSER fails with EPERM (a host that forbids user
 *              namespaces, as a seccomp filter or an AppArmor policy does). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CLONE_PIDFD_FLAG 0x00001000
#define CLONE_NEWUSER_FLAG 0x10000000

static int syscall_number(const char *name)
{
    if (strcmp(name, "openat2") == 0)
        return 437;
    if (strcmp(name, "mount_setattr") == 0)
        return 442;
    if (strcmp(name, "close_range") == 0)
        return 436;
    if (strcmp(name, "open_tree") == 0)
        return 428;
    if (strcmp(name, "move_mount") == 0)
        return 429;
    return -1;
}

int main(int argc, char **argv)
{
    struct sock_filter filter[64];
    size_t n = 0;
    int pidfd = 0, no_userns = 0;
    int i = 1;
    int enosys[8];
    size_t enosys_count = 0;

    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--no-clone-pidfd") == 0) {
            pidfd = 1;
        } else if (strcmp(argv[i], "--no-userns") == 0) {
            no_userns = 1;
        } else if (strcmp(argv[i], "--enosys") == 0 && i + 1 < argc) {
            for (char *name = strtok(argv[++i], ","); name != NULL && enosys_count < 8; name = strtok(NULL, ",")) {
                int nr = syscall_number(name);
                if (nr < 0) {
                    fprintf(stderr, "sysfail: unknown system call %s\n", name);
                    return 2;
                }
                enosys[enosys_count++] = nr;
            }
        } else {
            fprintf(stderr, "usage: sysfail [--enosys NAME,...] [--no-clone-pidfd] [--no-userns] -- COMMAND [ARG...]\n");
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "sysfail: no command\n");
        return 2;
    }

    /* x86_64 only: anything else is allowed through untouched */
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t k = 0; k < enosys_count; k++) {
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)enosys[k], 0, 1);
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    }
    if (pidfd) {
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_PIDFD_FLAG, 0, 1);
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL);
    }
    if (no_userns) {
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER_FLAG, 0, 1);
        filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    }
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

    struct sock_fprog prog = { .len = (unsigned short)n, .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("sysfail: seccomp");
        return 2;
    }
    execvp(argv[i + 1], argv + i + 1);
    perror("sysfail: exec");
    return 127;
}
