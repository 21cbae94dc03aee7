/* internal.h - declarations shared by the shim's own files; not part of the ABI. */
#ifndef ISOLATE_INTERNAL_H
#define ISOLATE_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "isolate_shim.h"

/* What clone() hands the child: its copy of the config and its end of the socket. */
struct isolate_child_args {
    const struct isolate_spawn_config *config;
    int sync_fd;   /* the child's end */
    int parent_fd; /* the parent's end, closed first thing in the child */
};

int isolate_child_main(void *arg);

/* 1 when ns_joins[i] is joined by isolate_shim_spawn on the parent's thread (see struct
 * isolate_ns_join); the child joins the rest (exec's, and a mount namespace). */
int isolate_joined_by_parent(const struct isolate_spawn_config *config, uint32_t i);

/* spawn.c: this process's argv and environ strings as the kernel shows them (0: unknown). */
struct isolate_args_area {
    uintptr_t arg_start, arg_end, env_start, env_end;
};
extern struct isolate_args_area isolate_args_area;

/* msg.c: one message on the sync socket with an optional fd (pass_fd -1: none).
 * send returns 0 or -errno; recv returns the bytes read or -errno, and the fd that
 * came with the message (close-on-exec) in *received_fd, else -1. */
int isolate_msg_send(int sock, const struct isolate_msg *msg, int pass_fd);
ssize_t isolate_msg_recv(int sock, struct isolate_msg *msg, int *received_fd);

/* clone() on a fresh mmap'd stack with a guard page, all signals blocked across it.
 * Returns the pid or -errno. */
pid_t isolate_clone(int (*fn)(void *), void *arg, int flags, int *pidfd);

/* Writes value in decimal at at, NUL-terminated (at most 21 bytes); returns the NUL's place.
 * What the shim uses instead of snprintf, which a cloned child may not call. */
char *isolate_decimal(char *at, unsigned long value);

/* Runs the mount plan; on failure returns -errno and sets *failed_index. tree_fd (or
 * -1) is a detached tree the parent sent, put into capture slot tree_slot; trees
 * (ISOLATE_MAX_CAPTURES entries, -1 where none) are the bind sources the parent took,
 * by slot: their CAPTURE ops are done already. The plan closes them all. */
int isolate_run_mount_ops(const struct isolate_mount_op *ops, uint32_t count, int sync_fd, int tree_fd,
                          int32_t tree_slot, const int *trees, int32_t *failed_index);

/* pty.c: -t; makes a pty of the container's devpts its stdio and controlling terminal,
 * sends the master to the parent. -errno with *detail (isolate_tty_detail) on failure. */
int isolate_child_pty(const struct isolate_spawn_config *config, int sync_fd, int32_t *detail);

/* init.c: --init; PID 1 forks the command (exec, which never returns) and stays as its
 * init. Never returns. */
__attribute__((noreturn)) void isolate_child_init(const struct isolate_spawn_config *config, int sync_fd,
                                                  __attribute__((noreturn)) void (*exec)(const struct isolate_spawn_config *, int));

/* security.c: bounding set, user, capabilities, no_new_privs, seccomp; fails the child
 * on error (error.h). outlives_parent: no PDEATHSIG to re-arm (detached, exec --detach). */
void isolate_apply_security(const struct isolate_process_security *sec, int sync_fd, int outlives_parent);

/* security.c, the same steps in two halves for a detached child (runc's order): everything
 * but a no_new_privs seccomp filter before CREATED, so that `create` reports what fails;
 * the filter after `start`, last before execve. */
void isolate_apply_credentials(const struct isolate_process_security *sec, int sync_fd, int outlives_parent);
void isolate_apply_late_seccomp(const struct isolate_process_security *sec, int sync_fd);

/* security.c, after a credential change: PDEATHSIG (unless outlives_parent) and
 * non-dumpable again; exits if the parent is gone already. */
void isolate_child_rearm(int sync_fd, int outlives_parent);

/* forward.c: 1 when the parent forwards signal sig to the child. The child reads
 * its copy of the parent's table to catch the same signals until execve. */
int isolate_signal_is_forwarded(int sig);
/* forward.c, parent side: sends sig to the container under the rules for forwarded
 * signals (a PID 1 that would drop a deadly one is killed in its stead). */
void isolate_forward_deliver(int sig);

#endif
