/* init.c - --init: PID 1 stays the shim and runs the command as PID 2, the way tini
 * and docker's --init do. It reaps every process the kernel re-parents to it (so no
 * zombie piles up under a command that never waits), passes on every signal it gets
 * to the command, and exits with the command's status (128+N if a signal N ended it).
 * It blocks every signal and takes them with sigwaitinfo(), so Isolate's forwarder
 * sees a PID 1 that waits for them, and no handler runs in this copy of the .NET
 * process. It runs after the security steps: init is as confined as the command.
 * Only system calls: the process is still the clone of a multithreaded parent. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* /proc/1/cmdline would show Isolate's own arguments (host paths among them): the
 * kernel reads them from this copy's memory, so they are overwritten with "isolate-init".
 * No libc string calls: plain loops. */
static void blank_args(void)
{
    static const char name[] = "isolate-init";
    char *arg = (char *)isolate_args_area.arg_start;
    size_t arg_len = isolate_args_area.arg_end - isolate_args_area.arg_start;
    if (arg == NULL || arg_len < sizeof name)
        return;
    /* the name and its NUL, then no NUL up to the end: the kernel then takes the area as
     * rewritten (setproctitle) and shows it only up to the first NUL */
    for (size_t i = 0; i < arg_len; i++)
        arg[i] = i < sizeof name ? name[i] : ' ';
    char *env = (char *)isolate_args_area.env_start;
    for (size_t i = 0; env != NULL && i < isolate_args_area.env_end - isolate_args_area.env_start; i++)
        env[i] = '\0';
}

void isolate_child_init(const struct isolate_spawn_config *config, int sync_fd,
                        __attribute__((noreturn)) void (*exec)(const struct isolate_spawn_config *, int))
{
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL); /* nothing is lost between the fork and the loop */

    /* fork(2) as a raw clone: glibc's fork runs atfork handlers and takes locks */
    pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (child < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_INIT, errno, -1);
    if (child == 0) {
        /* PID 2: a process group of its own, in the terminal's foreground with -t (still
         * with every signal blocked, so SIGTTOU cannot stop it on the way) */
        setpgid(0, 0);
        if (config->flags & ISOLATE_SPAWN_TTY)
            tcsetpgrp(0, (pid_t)syscall(SYS_getpid)); /* not getpid(): old glibc caches it across a raw clone */
        sigprocmask(SIG_SETMASK, &none, NULL);
        exec(config, sync_fd); /* reports a failure itself */
    }
    /* The sync socket must close when the command execs: PID 2's copy is close-on-exec,
     * and ours goes now. A failed exec is reported by PID 2 before it exits. */
    close(sync_fd);
    /* and every other fd the command was given (--preserve-fds): a command that closes
     * one to tell a reader it is done must not find init still holding it */
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) {
        for (unsigned fd = 3; fd < 3u + config->security.preserve_fds; fd++)
            close((int)fd); /* before 5.9; nothing else is open here */
    }
    prctl(PR_SET_NAME, "isolate-init", 0, 0, 0); /* what ps shows inside for PID 1 */
    blank_args();

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0 && errno != EINTR) {
            /* cannot wait for signals (a seccomp profile refusing rt_sigtimedwait): still
             * reap, and end with the command, without forwarding */
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, 0)) > 0 || errno == EINTR) {
                if (pid == child)
                    _exit(exit_code(status));
            }
            _exit(125);
        }
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
            if (pid == child && WIFSTOPPED(status)) {
                /* Ctrl-Z (or a background read) stopped the command: with no shell
                 * around to `fg` it, it would stay stopped for good */
                kill(child, SIGCONT);
                continue;
            }
            if (pid == child)
                _exit(exit_code(status)); /* the kernel ends whatever else is left */
        }
    }
}
