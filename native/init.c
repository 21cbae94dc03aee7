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

#include "internal.h"

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
            tcsetpgrp(0, getpid());
        sigprocmask(SIG_SETMASK, &none, NULL);
        exec(config, sync_fd); /* reports a failure itself */
    }
    /* The sync socket must close when the command execs: PID 2's copy is close-on-exec,
     * and ours goes now. A failed exec is reported by PID 2 before it exits. */
    close(sync_fd);
    prctl(PR_SET_NAME, "isolate-init", 0, 0, 0); /* what ps shows inside for PID 1 */

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == child)
                _exit(exit_code(status)); /* the kernel ends whatever else is left */
        }
    }
}
