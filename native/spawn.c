/* spawn.c - the parent's side of the shim: create the child, open its gate,
 * learn whether it reached execve(). Runs in the .NET process, so it may use
 * libc freely; the child it creates may not (see child.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* The child's setup code needs a few PATH_MAX buffers at most; 256 KiB leaves
 * ample room, and the guard page turns an overflow into a fault instead of
 * silent corruption of whatever lies below. */
#define CHILD_STACK_SIZE (256u * 1024u)

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

pid_t isolate_clone(int (*fn)(void *), void *arg, int flags, int *pidfd)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = CHILD_STACK_SIZE + page;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -ENOMEM;
    /* The stack grows down: the lowest page is the guard. */
    if (mprotect(stack, page, PROT_NONE) < 0) {
        munmap(stack, size);
        return -ENOMEM;
    }
    /* Block every signal across clone(): the child must not run the .NET
     * runtime's handlers (or forward.c's) before it has reset them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = pidfd != NULL ? clone(fn, stack + size, flags, arg, pidfd) : clone(fn, stack + size, flags, arg);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, size); /* the parent's copy; the child has its own */
    return pid < 0 ? -clone_errno : pid;
}

static int spawn_failed(struct isolate_spawn_result *result, uint32_t call, int err)
{
    result->failed_call = call;
    return -err;
}

/* The calling thread's own namespace of one CLONE_NEW* type, as /proc names it: for PID,
 * the one its children go into (setns changes nothing else). */
static const char *own_ns_path(uint32_t nstype)
{
    switch (nstype) {
    case CLONE_NEWNET: return "/proc/thread-self/ns/net";
    case CLONE_NEWIPC: return "/proc/thread-self/ns/ipc";
    case CLONE_NEWUTS: return "/proc/thread-self/ns/uts";
    case CLONE_NEWPID: return "/proc/thread-self/ns/pid_for_children";
    case CLONE_NEWCGROUP: return "/proc/thread-self/ns/cgroup";
    default: return NULL;
    }
}

int isolate_joined_by_parent(const struct isolate_spawn_config *config, uint32_t i)
{
    return !(config->flags & ISOLATE_SPAWN_EXEC_INTO) && own_ns_path(config->ns_joins[i].nstype) != NULL;
}

/* The namespaces joined by path, joined by this thread just before the clone (see
 * struct isolate_ns_join), each after saving the thread's own into saved[i] (else -1).
 * All are opened first, as runc does, so a path that only one of them makes
 * reachable cannot change what the next names. On failure: -errno, *failed the index,
 * and whatever was joined already is left for restore_parent_joins. */
static int join_in_parent(const struct isolate_spawn_config *config, int *target, int *saved, int32_t *failed)
{
    uint32_t n = config->ns_join_count;
    for (uint32_t i = 0; i < n; i++) {
        *failed = (int32_t)i;
        if (!isolate_joined_by_parent(config, i))
            continue;
        if ((target[i] = open(config->ns_joins[i].path, O_RDONLY | O_CLOEXEC)) < 0)
            return -errno;
        if ((saved[i] = open(own_ns_path(config->ns_joins[i].nstype), O_RDONLY | O_CLOEXEC)) < 0)
            return -errno;
    }
    for (uint32_t i = 0; i < n; i++) {
        *failed = (int32_t)i;
        if (target[i] >= 0 && setns(target[i], (int)config->ns_joins[i].nstype) < 0) {
            int err = errno;
            /* this one and those after it were not joined: nothing of theirs to return from
             * (a non-root caller could not: setns needs CAP_SYS_ADMIN in its own namespace) */
            for (uint32_t j = i; j < n; j++) {
                if (saved[j] >= 0)
                    close(saved[j]);
                saved[j] = -1;
            }
            return -err;
        }
    }
    *failed = -1;
    return 0;
}

/* Puts the thread back in its own namespaces. The thread is one of the .NET runtime's:
 * left in a container's namespace it would run Isolate's own work there, so a
 * failure to return (the thread's own namespaces cannot have gone away) ends the process. */
static void restore_parent_joins(const struct isolate_spawn_config *config, int *target, int *saved)
{
    for (uint32_t i = 0; i < config->ns_join_count; i++) {
        if (saved[i] >= 0 && setns(saved[i], (int)config->ns_joins[i].nstype) < 0)
            abort();
        if (saved[i] >= 0)
            close(saved[i]);
        if (target[i] >= 0)
            close(target[i]);
    }
}

/* Where the kernel shows this process's command line and environment from (fields 48-51
 * of /proc/self/stat): --init's PID 1 is a copy of Isolate, and blanks them, so that the
 * container's `ps` and /proc/1/cmdline show neither Isolate's arguments (host paths) nor
 * its environment. Read here, in the parent; the child inherits the values. */
struct isolate_args_area isolate_args_area;

static void find_args_area(void)
{
    char stat[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0)
        return;
    stat[n] = '\0';
    char *p = strrchr(stat, ')'); /* the command name may hold spaces: count after it */
    if (p == NULL)
        return;
    unsigned long long field[52] = { 0 };
    int index = 2; /* p points at the end of field 2 */
    while (*p && index < 51) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        index++;
        field[index] = strtoull(p, NULL, 10);
    }
    if (index < 51 || field[48] >= field[49] || field[50] >= field[51])
        return;
    isolate_args_area.arg_start = (uintptr_t)field[48];
    isolate_args_area.arg_end = (uintptr_t)field[49];
    isolate_args_area.env_start = (uintptr_t)field[50];
    isolate_args_area.env_end = (uintptr_t)field[51];
}

int isolate_shim_spawn(const struct isolate_spawn_config *config, struct isolate_spawn_result *result)
{
    if (result == NULL)
        return -EINVAL;
    result->pid = -1;
    result->sync_fd = -1;
    result->pidfd = -1;
    result->failed_call = 0;
    result->failed_detail = -1;
    if (config == NULL || config->abi_version != ISOLATE_SHIM_ABI_VERSION || config->argv == NULL
        || config->argv[0] == NULL || config->envp == NULL)
        return spawn_failed(result, ISOLATE_SPAWN_CALL_CONFIG, EINVAL);

    /* With SIGCHLD ignored (inherited from the caller) the kernel reaps the
     * container itself and waitpid can never learn its status. */
    struct sigaction chld;
    if (sigaction(SIGCHLD, NULL, &chld) == 0 && chld.sa_handler == SIG_IGN)
        signal(SIGCHLD, SIG_DFL);

    /* With stdin, stdout or stderr closed, the sync socket would take its number
     * and become the container's stdio; /dev/null holds the place instead. */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) < 0)
            return spawn_failed(result, ISOLATE_SPAWN_CALL_SOCKETPAIR, errno);
    }

    if ((config->flags & ISOLATE_SPAWN_INIT) && isolate_args_area.arg_end == 0)
        find_args_area();

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return spawn_failed(result, ISOLATE_SPAWN_CALL_SOCKETPAIR, errno);

    /* Without CLONE_VM the child gets a copy-on-write copy of this frame, so
     * pointing it at a local is safe. */
    struct isolate_child_args args = { .config = config, .sync_fd = fds[1], .parent_fd = fds[0] };

    /* A pidfd names this child for good: signals sent through it can never hit
     * a process that reused the PID. Kernels before 5.2 refuse the flag. */
    int pidfd = -1;
    int flags = (int)config->clone_flags | SIGCHLD;
    uint32_t joins = config->ns_join_count;
    int target[joins > 0 ? joins : 1], saved[joins > 0 ? joins : 1];
    for (uint32_t i = 0; i < joins; i++)
        target[i] = saved[i] = -1;
    int32_t failed_join = -1;
    int rc = join_in_parent(config, target, saved, &failed_join);
    pid_t pid = rc;
    if (rc == 0) {
        pid = isolate_clone(isolate_child_main, &args, flags | CLONE_PIDFD, &pidfd);
        if (pid == -EINVAL) {
            pidfd = -1;
            pid = isolate_clone(isolate_child_main, &args, flags, NULL);
        }
    }
    restore_parent_joins(config, target, saved);
    close(fds[1]);
    if (rc < 0) {
        close(fds[0]);
        result->failed_detail = failed_join;
        return spawn_failed(result, ISOLATE_SPAWN_CALL_JOIN_NS, -rc);
    }
    if (pid < 0) {
        close(fds[0]);
        return spawn_failed(result, pid == -ENOMEM ? ISOLATE_SPAWN_CALL_STACK : ISOLATE_SPAWN_CALL_CLONE, -pid);
    }
    /* (the kernel creates a pidfd close-on-exec) */
    result->pid = pid;
    result->sync_fd = fds[0];
    result->pidfd = pidfd;
    return 0;
}

/* sync 1; a tree fd travels with the GO message (SCM_RIGHTS). */
int isolate_shim_release(int sync_fd, int32_t tree_fd, int32_t slot)
{
    return isolate_shim_release_trees(sync_fd, tree_fd, slot, NULL, NULL, 0);
}

/* The TREE messages follow GO: the child takes them once it has closed what it
 * inherited, which would otherwise close them too. */
int isolate_shim_release_trees(int sync_fd, int32_t tree_fd, int32_t slot, const int32_t *trees, const int32_t *slots,
                               uint32_t count)
{
    struct isolate_msg go = { .type = ISOLATE_MSG_GO, .step = count, .detail = tree_fd >= 0 ? slot : -1 };
    int rc = isolate_msg_send(sync_fd, &go, tree_fd);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        struct isolate_msg tree = { .type = ISOLATE_MSG_TREE, .detail = slots[i] };
        rc = isolate_msg_send(sync_fd, &tree, trees[i]);
    }
    return rc;
}

/* sync 2 */
int isolate_shim_await_exec(int sync_fd, struct isolate_msg *failure, struct isolate_msg *notes,
                            uint32_t max_notes, uint32_t *note_count, int32_t *tty_fd)
{
    if (note_count != NULL)
        *note_count = 0;
    if (tty_fd != NULL)
        *tty_fd = -1;
    for (;;) {
        struct isolate_msg msg;
        int fd;
        ssize_t n = isolate_msg_recv(sync_fd, &msg, &fd);
        if (n == -ECONNRESET)
            return 0; /* the child died with the GO message unread: its wait status tells why */
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0; /* execve closed the child's end (or the child died) */
        if (msg.type == ISOLATE_MSG_TTY && n == (ssize_t)sizeof msg && fd >= 0 && tty_fd != NULL && *tty_fd < 0) {
            *tty_fd = fd;
            continue;
        }
        if (fd >= 0)
            close(fd); /* nothing else carries one */
        if (n != (ssize_t)sizeof msg)
            return -EPROTO;
        if (msg.type == ISOLATE_MSG_NOTE) {
            if (note_count != NULL && notes != NULL && *note_count < max_notes)
                notes[(*note_count)++] = msg;
            continue;
        }
        if (msg.type == ISOLATE_MSG_CREATED)
            return 2; /* detached: set up, and waiting for `start` */
        if (msg.type != ISOLATE_MSG_FAILED)
            return -EPROTO;
        if (failure != NULL)
            *failure = msg;
        return 1;
    }
}
