/* relay.c - the parent's side of -t (runs in Isolate's own process, any libc call is
 * fine): the caller's terminal in raw mode and back, and the bytes between it and the
 * pty master the container sent, with SIGWINCH turned into the pty's window size. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "isolate_shim.h"

int isolate_shim_tty_size(int32_t fd, uint16_t *rows, uint16_t *cols)
{
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0)
        return -errno;
    *rows = size.ws_row;
    *cols = size.ws_col;
    return 0;
}

int isolate_shim_tty_raw(int32_t fd, void *saved, uint32_t saved_size)
{
    struct termios mode;
    if (saved_size < sizeof mode)
        return -EINVAL;
    if (tcgetattr(fd, &mode) < 0)
        return -errno;
    memcpy(saved, &mode, sizeof mode);
    cfmakeraw(&mode);
    return tcsetattr(fd, TCSADRAIN, &mode) < 0 ? -errno : 0;
}

int isolate_shim_tty_restore(int32_t fd, const void *saved)
{
    struct termios mode;
    memcpy(&mode, saved, sizeof mode);
    /* a background Isolate would be stopped by SIGTTOU here: the settings go back anyway */
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &ttou, &old);
    int rc = tcsetattr(fd, TCSADRAIN, &mode) < 0 ? -errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int winch_pipe[2] = { -1, -1 };

static void on_winch(int sig)
{
    (void)sig;
    int saved = errno;
    char byte = 0;
    if (write(winch_pipe[1], &byte, 1) < 0) {
        /* full: a resize is pending already */
    }
    errno = saved;
}

/* Blocking or not (a terminal left O_NONBLOCK by an earlier program), all of it. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd out = { .fd = fd, .events = POLLOUT };
            if (poll(&out, 1, -1) < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void copy_size(int from, int to)
{
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) == 0)
        ioctl(to, TIOCSWINSZ, &size);
}

int isolate_shim_tty_relay(int32_t master, int32_t out_fd, int32_t size_fd)
{
    if (size_fd >= 0 && winch_pipe[0] < 0) {
        if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
            return -errno;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_winch;
        action.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &action, NULL);
        copy_size(size_fd, master); /* a resize before the handler was there */
    }
    char buf[65536];
    for (;;) {
        struct pollfd fds[2] = {
            { .fd = master, .events = POLLIN },
            { .fd = size_fd >= 0 ? winch_pipe[0] : -1, .events = POLLIN },
        };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (fds[1].revents & POLLIN) {
            while (read(winch_pipe[0], buf, sizeof buf) > 0) {
            }
            copy_size(size_fd, master);
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                int rc = out_fd >= 0 ? write_all(out_fd, buf, (size_t)n) : 0;
                if (rc < 0) {
                    /* The caller stopped reading (`| head -1`): as a writer to a closed pipe
                     * would, the container gets SIGPIPE. Keep draining, so it never blocks. */
                    out_fd = -1;
                    if (rc == -EPIPE)
                        isolate_forward_deliver(SIGPIPE);
                }
            } else if (n == 0 || errno != EINTR) {
                return 0; /* EIO: every process holding the terminal is gone */
            }
        }
    }
}

int isolate_shim_tty_input(int32_t master, int32_t in_fd)
{
    /* A thread of its own: a container that reads no input must never keep its output
     * from being relayed (the pty's input queue fills, and this write blocks). */
    char buf[65536];
    for (;;) {
        ssize_t n = read(in_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd in = { .fd = in_fd, .events = POLLIN };
            poll(&in, 1, -1);
            continue;
        }
        if (n <= 0) {
            /* the caller's input ended: a terminal in canonical mode reads its EOF
             * character as end of input (in raw mode, Ctrl-D came through as a byte) */
            struct termios mode;
            if (tcgetattr(master, &mode) == 0 && (mode.c_lflag & ICANON))
                write_all(master, (const char *)&mode.c_cc[VEOF], 1);
            return n < 0 ? -errno : 0;
        }
        if (write_all(master, buf, (size_t)n) < 0)
            return 0; /* the container's terminal is gone */
    }
}

int isolate_shim_send_console(const char *socket_path, int32_t master)
{
    /* The OCI console socket (runc's --console-socket): connect, and hand over the pty
     * master with SCM_RIGHTS; the payload is a name, as runc sends one. */
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof address.sun_path)
        return -ENAMETOOLONG;
    strcpy(address.sun_path, socket_path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    if (connect(sock, (struct sockaddr *)&address, sizeof address) < 0) {
        int err = errno;
        close(sock);
        return -err;
    }
    static const char name[] = "/dev/ptmx";
    struct iovec iov = { .iov_base = (void *)name, .iov_len = sizeof name - 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &master, sizeof master);
    ssize_t n;
    do {
        n = sendmsg(sock, &header, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    close(sock);
    return -err;
}

int isolate_shim_daemonize(const char *path, const char *const *argv, const char *const *envp, int32_t out_fd)
{
    /* `run -d`: Isolate starts a copy of itself as the container's monitor, in a session of
     * its own (no terminal's signals reach it), stdin /dev/null, stdout and stderr the log.
     * A raw clone and at once execve: the child of a multithreaded process runs nothing else. */
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0)
        return -errno;
    long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0) {
        int err = errno;
        close(null_fd);
        return -err;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        setsid();
        dup2(null_fd, 0);
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        /* nothing else of the caller's: a monitor living for days must not hold a pipe or a
         * lock its caller had open (a flock held through an inherited fd is never released) */
        if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) {
            struct rlimit limit;
            unsigned last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (unsigned)limit.rlim_cur : 65536u;
            for (unsigned fd = 3; fd < last; fd++)
                close((int)fd); /* before 5.9 */
        }
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(uint64_t));
        execve(path, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(null_fd);
    return (int)pid;
}
