/* spawn.c - the parent's side of the shim: create the child, open its gate,
 * learn whether it reached execve(). Runs in the .NET process, so it may use
 * libc freely; the child it creates may not (see child.c). */
#define _GNU_SOURCE
#include <errno.h>
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

static int retry_eintr_write(int fd, const void *buf, size_t len)
{
    ssize_t n;
    do {
        n = send(fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == (ssize_t)len ? 0 : -EIO;
}

int isolate_shim_spawn(const struct isolate_spawn_config *config, struct isolate_spawn_result *result)
{
    if (config == NULL || result == NULL || config->abi_version != ISOLATE_SHIM_ABI_VERSION)
        return -EINVAL;
    if (config->argv == NULL || config->argv[0] == NULL || config->envp == NULL)
        return -EINVAL;

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = CHILD_STACK_SIZE + page;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    /* The stack grows down: the lowest page is the guard. */
    if (mprotect(stack, page, PROT_NONE) < 0) {
        int err = errno;
        munmap(stack, size);
        close(fds[0]);
        close(fds[1]);
        return -err;
    }

    /* Without CLONE_VM the child gets a copy-on-write copy of this frame, so
     * pointing it at a local is safe. */
    struct isolate_child_args args = { .config = config, .sync_fd = fds[1], .parent_fd = fds[0] };

    /* Block every signal across clone(): the child must not run the .NET
     * runtime's handlers before it has reset them to SIG_DFL. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(isolate_child_main, stack + size, (int)config->clone_flags | SIGCHLD, &args);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    munmap(stack, size); /* the parent's copy; the child has its own */
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -clone_errno;
    }
    result->pid = pid;
    result->sync_fd = fds[0];
    return 0;
}

/* sync 1 */
int isolate_shim_release(int sync_fd)
{
    struct isolate_msg go = { .type = ISOLATE_MSG_GO, .index = -1 };
    return retry_eintr_write(sync_fd, &go, sizeof go);
}

/* sync 2 */
int isolate_shim_await_exec(int sync_fd, struct isolate_msg *failure)
{
    struct isolate_msg msg;
    ssize_t n;
    do {
        n = recv(sync_fd, &msg, sizeof msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0; /* execve closed the child's end */
    if (n != (ssize_t)sizeof msg || msg.type != ISOLATE_MSG_FAILED)
        return -EPROTO;
    if (failure != NULL)
        *failure = msg;
    return 1;
}
