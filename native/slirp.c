/* slirp.c - user-mode networking for a rootless container's --network bridge: slirp4netns
 * started on the container's network namespace, and requests to its API socket (published
 * ports). A non-root user cannot make a bridge, veth pairs or NAT rules in the host's
 * namespace; slirp4netns gives the container a tap device whose traffic it carries through
 * ordinary sockets of the user's own.
 *
 * The caller (Isolate) keeps the write end of slirp4netns' --exit-fd pipe, close-on-exec:
 * when Isolate ends, however it ends, the pipe closes and slirp4netns exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* The vfork child on its way to exec: shares the caller's memory until then, so it only
 * makes system calls and writes one result word. */
struct slirp_exec {
    const char *program;
    char *const *argv;
    int keep[2];   /* the exit pipe's read end and the ready pipe's write end */
    int log_fd;    /* slirp4netns' stdout and stderr */
    int dir_fd;    /* its working directory, where its API socket goes */
    volatile int failed;
};

static int slirp_exec_child(void *arg)
{
    struct slirp_exec *exec = arg;
    static char *const no_environment[] = { NULL };
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(exec->log_fd, 1) < 0 || dup2(exec->log_fd, 2) < 0
        || fchdir(exec->dir_fd) < 0 || fcntl(exec->keep[0], F_SETFD, 0) < 0 || fcntl(exec->keep[1], F_SETFD, 0) < 0) {
        exec->failed = errno;
        _exit(125);
    }
    /* its own process group: a terminal's ^C goes to the container and Isolate, which end it
     * by closing the exit pipe */
    setpgid(0, 0);
    execve(exec->program, exec->argv, no_environment);
    exec->failed = errno;
    _exit(125);
}

static void decimal_option(char *out, const char *name, long value)
{
    size_t n = strlen(name);
    memcpy(out, name, n);
    isolate_decimal(out + n, (unsigned long)value);
}

int isolate_net_slirp(const char *program, int32_t pid, int32_t dir_fd, const char *api_socket, int32_t log_fd, int32_t timeout_ms,
                      int32_t *exit_fd, int32_t *slirp_pid)
{
    int exit_pipe[2], ready_pipe[2];
    if (pipe2(exit_pipe, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(ready_pipe, O_CLOEXEC) < 0) {
        int e = errno;
        close(exit_pipe[0]);
        close(exit_pipe[1]);
        return -e;
    }
    char exit_option[40], ready_option[40], userns[64], netns[64], socket_option[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
    decimal_option(exit_option, "--exit-fd=", exit_pipe[0]);
    decimal_option(ready_option, "--ready-fd=", ready_pipe[1]);
    decimal_option(userns, "--userns-path=/proc/", pid);
    memcpy(userns + strlen(userns), "/ns/user", sizeof "/ns/user");
    decimal_option(netns, "/proc/", pid);
    memcpy(netns + strlen(netns), "/ns/net", sizeof "/ns/net");
    size_t socket_len = strlen(api_socket);
    int rc = 0;
    if (socket_len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    memcpy(socket_option, "--api-socket=", sizeof "--api-socket=" - 1);
    memcpy(socket_option + sizeof "--api-socket=" - 1, api_socket, socket_len + 1);
    char *argv[] = {
        "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", exit_option, ready_option,
        socket_option, userns, "--netns-type=path", netns, "tap0", NULL,
    };
    struct slirp_exec exec = { .program = program, .argv = argv, .keep = { exit_pipe[0], ready_pipe[1] }, .log_fd = log_fd, .dir_fd = dir_fd };
    pid_t child = isolate_clone(slirp_exec_child, &exec, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    if (child < 0) {
        rc = child;
        goto out;
    }
    if (exec.failed != 0) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        rc = -exec.failed;
        goto out;
    }
    close(ready_pipe[1]);
    ready_pipe[1] = -1;
    /* ready: it writes "1" once the tap device is up and configured; EOF: it exited */
    struct pollfd ready = { .fd = ready_pipe[0], .events = POLLIN };
    int polled;
    while ((polled = poll(&ready, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    char byte = 0;
    ssize_t got = polled > 0 ? read(ready_pipe[0], &byte, 1) : 0;
    if (polled <= 0 || got != 1 || byte != '1') {
        rc = polled == 0 ? -ETIMEDOUT : -ECHILD;
        kill(child, SIGKILL);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        goto out;
    }
    *exit_fd = exit_pipe[1];
    exit_pipe[1] = -1;
    *slirp_pid = child;
out:
    close(exit_pipe[0]);
    if (exit_pipe[1] >= 0)
        close(exit_pipe[1]);
    close(ready_pipe[0]);
    if (ready_pipe[1] >= 0)
        close(ready_pipe[1]);
    return rc;
}

int isolate_net_slirp_request(const char *api_socket, const char *request, uint32_t request_len, char *reply, uint32_t reply_cap)
{
    struct sockaddr_un at = { .sun_family = AF_UNIX };
    size_t len = strlen(api_socket);
    if (len >= sizeof at.sun_path || reply_cap == 0)
        return -ENAMETOOLONG;
    memcpy(at.sun_path, api_socket, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&at, sizeof at) < 0) {
        rc = -errno;
        goto out;
    }
    for (uint32_t sent = 0; sent < request_len;) {
        ssize_t n = write(fd, request + sent, request_len - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        sent += (uint32_t)n;
    }
    shutdown(fd, SHUT_WR);
    uint32_t got = 0;
    for (;;) {
        ssize_t n = read(fd, reply + got, reply_cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0 || (got += (uint32_t)n) == reply_cap - 1)
            break;
    }
    reply[got] = '\0';
    rc = (int)got;
out:
    close(fd);
    return rc;
}
