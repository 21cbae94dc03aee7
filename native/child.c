/* child.c - everything the container's PID 1 does between clone() and execve().
 *
 * Only system calls and pure functions (memcpy, strlen) from here on: this is one
 * thread copied out of a multithreaded .NET process, and any lock another thread
 * held (malloc, stdio, the GC) is held forever. Every failure goes through
 * isolate_child_fail(), which reports {step, errno, index} and exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsutil.h"
#include "internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

#define DEFAULT_SEARCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void isolate_child_fail(int sync_fd, uint32_t step, int err, int32_t index)
{
    struct isolate_msg msg = { .type = ISOLATE_MSG_FAILED, .step = step, .err = err, .index = index };
    ssize_t n;
    do {
        n = send(sync_fd, &msg, sizeof msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);

    int code = ISOLATE_EXIT_SETUP_FAILED;
    if (step == ISOLATE_STEP_EXEC)
        code = err == ENOENT ? ISOLATE_EXIT_NOT_FOUND : ISOLATE_EXIT_CANNOT_EXEC;
    _exit(code);
}

/* The .NET runtime's handlers (and its SIG_IGN for SIGPIPE) must not survive
 * into the container: ignored signals stay ignored across execve. */
static void reset_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* glibc's reserved signals fail with EINVAL: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* sync 1: nothing of the user's runs before the parent has placed us. */
static void wait_at_gate(int sync_fd)
{
    struct isolate_msg msg;
    ssize_t n;
    do {
        n = recv(sync_fd, &msg, sizeof msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof msg || msg.type != ISOLATE_MSG_GO)
        _exit(ISOLATE_EXIT_SETUP_FAILED); /* EOF: the parent is gone, and so are we */
}

static int bring_up_loopback(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
    int err = rc < 0 ? -errno : 0;
    close(sock);
    return err;
}

static int enter_workdir(const char *workdir)
{
    if (chdir(workdir) == 0)
        return 0;
    if (errno != ENOENT)
        return -errno;
    /* docker and runc create a missing working directory */
    int rc = isolate_mkdir_p(workdir, 0755);
    if (rc < 0)
        return rc;
    return chdir(workdir) < 0 ? -errno : 0;
}

/* Only stdio (and what the caller passes on purpose) may reach the container:
 * a leaked runtime fd plus a cwd of /proc/self/fd/N is a way out (CVE-2024-21626). */
static int close_inherited_fds(void)
{
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -errno;
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        return -errno;
    for (rlim_t fd = 3; fd < lim.rlim_cur; fd++)
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* execvpe() may allocate; this is the same PATH walk on the stack. */
__attribute__((noreturn)) static void exec_command(const struct isolate_spawn_config *config, int sync_fd)
{
    char *const *argv = (char *const *)config->argv;
    char *const *envp = (char *const *)config->envp;
    const char *file = argv[0];
    if (strchr(file, '/') != NULL) {
        execve(file, argv, envp);
        isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, errno, -1);
    }

    const char *dirs = config->search_path != NULL ? config->search_path : DEFAULT_SEARCH_PATH;
    size_t file_len = strlen(file);
    int denied = 0;
    char candidate[PATH_MAX];
    for (const char *dir = dirs;; dir++) {
        const char *end = strchrnul(dir, ':');
        size_t dir_len = (size_t)(end - dir);
        if (dir_len == 0) { /* an empty entry means the working directory */
            dir = ".";
            dir_len = 1;
        }
        if (dir_len + 1 + file_len + 1 <= sizeof candidate) {
            memcpy(candidate, dir, dir_len);
            candidate[dir_len] = '/';
            memcpy(candidate + dir_len + 1, file, file_len + 1);
            execve(candidate, argv, envp);
            switch (errno) {
            case EACCES:
                denied = 1;
                break;
            case ENOENT:
            case ENOTDIR:
            case ENAMETOOLONG:
            case ELOOP:
                break;
            default:
                isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, errno, -1);
            }
        }
        if (*end == '\0')
            break;
        dir = end;
    }
    isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, denied ? EACCES : ENOENT, -1);
}

int isolate_child_main(void *arg)
{
    const struct isolate_child_args *args = arg;
    const struct isolate_spawn_config *config = args->config;
    int fd = args->sync_fd;
    int rc;

    close(args->parent_fd);
    reset_signals();
    /* If Isolate dies, so does the container: nothing is left running in
     * orphaned namespaces. Set from the spawning (main) thread's child. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Nothing inside may ptrace or read the setup steps; execve resets it. */
    prctl(PR_SET_DUMPABLE, 0);

    wait_at_gate(fd); /* sync 1 */

    /* Its own session: no TIOCSTI into the caller's terminal (CVE-2017-5226). */
    if (setsid() < 0)
        isolate_child_fail(fd, ISOLATE_STEP_SETSID, errno, -1);
    if (config->hostname != NULL && sethostname(config->hostname, strlen(config->hostname)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_HOSTNAME, errno, -1);
    if ((config->flags & ISOLATE_SPAWN_LOOPBACK_UP) && (rc = bring_up_loopback()) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_LOOPBACK, -rc, -1);

    int32_t failed = -1;
    if ((rc = isolate_run_mount_ops(config->mount_ops, config->mount_op_count, &failed)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_MOUNT_OP, -rc, failed);

    if (config->workdir != NULL && (rc = enter_workdir(config->workdir)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_WORKDIR, -rc, -1);
    if ((rc = close_inherited_fds()) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_CLOSE_FDS, -rc, -1);

    exec_command(config, fd); /* sync 2: success closes fd */
}
