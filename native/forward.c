/* forward.c - the parent's signal forwarding (runs in Isolate's own process).
 *
 * Signals an init script or a terminal sends to Isolate go to the container's
 * PID 1. It is a plain sigaction handler rather than .NET's PosixSignalRegistration:
 * no extra runtime thread, nothing to start, and only async-signal-safe calls.
 *
 * The kernel drops a signal sent to a PID namespace's init when init neither
 * catches it, ignores it, nor blocks it (sigwait-style inits block), even from
 * outside. So a PID 1 `sleep` would shrug off SIGTERM and an init script could not
 * stop the container. In that case the handler applies the signal's default
 * action on the kernel's behalf: SIGKILL, remembering which signal it stood for,
 * so Isolate exits 128+N as if the command had died of it.
 *
 * Before the command has been exec'd, PID 1 is still the shim: it catches the same
 * signals and exits 128+N itself (child.c). One window remains: a signal sent
 * while the child is inside execve() stays pending across it and is then dropped,
 * because execve resets the shim's handler to SIG_DFL. So a signal sent during
 * the start is remembered and, once the parent knows execve is done, delivered
 * again under the rules for the command. It cannot arrive twice: either the shim
 * exited of it, or execve discarded it before any code of the command ran. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Shared between the handler (any thread) and the main thread: seq_cst atomics. */
static int forward_pid;       /* 0: no container (yet, or any more) */
static int forward_pidfd = -1;
static uint64_t forwarded;    /* bit N-1 for each signal N with a forwarding handler */
static int exec_done;         /* the parent has seen execve succeed (or the child die) */
static int startup_signal;    /* sent before exec_done: to be delivered again after it */
static int pending_signal;    /* arrived before the container existed */
static int stopped_by;        /* the signal SIGKILL stood in for */
static int stop_signal = SIGTERM; /* what a stop request sends (--stop-signal) */
static int64_t stop_timeout_ms = 10000; /* then SIGKILL (--stop-timeout) */
static int stop_pipe[2] = { -1, -1 }; /* the handler tells the waiting thread of a stop request */

#define LOAD(v) __atomic_load_n(&(v), __ATOMIC_SEQ_CST)
#define STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_SEQ_CST)
#define TAKE(v) __atomic_exchange_n(&(v), 0, __ATOMIC_SEQ_CST)

/* Reads one "Name:\t<hex>" mask from a /proc/PID/status buffer. */
static unsigned long long status_mask(const char *status, const char *name)
{
    const char *p = strstr(status, name);
    if (p == NULL)
        return 0;
    p += strlen(name);
    while (*p == '\t' || *p == ' ')
        p++;
    unsigned long long mask = 0;
    for (;; p++) {
        int digit;
        if (*p >= '0' && *p <= '9')
            digit = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            digit = *p - 'a' + 10;
        else
            break;
        mask = (mask << 4) | (unsigned)digit;
    }
    return mask;
}

/* "/proc/<pid>/status" without snprintf, which is not async-signal-safe. */
static void status_path(char *buf, int pid)
{
    memcpy(buf, "/proc/", 6);
    char *p = isolate_decimal(buf + 6, (unsigned long)pid);
    memcpy(p, "/status", 8);
}

/* 1 when pid neither catches, ignores nor blocks sig: as a PID namespace's init it
 * would never see it. */
static int would_be_dropped(int pid, int sig)
{
    char path[40];
    status_path(path, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* gone already: nothing to stop */
    char status[4096];
    ssize_t n = read(fd, status, sizeof status - 1);
    close(fd);
    if (n <= 0)
        return 0;
    status[n] = '\0';
    unsigned long long bit = 1ull << (sig - 1);
    unsigned long long received = status_mask(status, "SigCgt:") | status_mask(status, "SigIgn:")
        | status_mask(status, "SigBlk:");
    return (received & bit) == 0;
}

/* Through the pidfd when there is one: it can never reach a process that reused the PID.
 * kill() only where the kernel has no pidfd_send_signal; never a pid <= 0, which would
 * signal a whole process group. */
static void send_signal(int pid, int pidfd, int sig)
{
    if (pid <= 0)
        return;
    if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0)
        return;
    if (pidfd < 0 || errno == ENOSYS)
        kill(pid, sig);
}

/* The default action ends the process (rather than ignoring it or stopping it). */
static int default_terminates(int sig)
{
    switch (sig) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
        return 0;
    default:
        return 1;
    }
}

/* Under the rules for the command: forward it, or stand in for a dropped default action
 * that would have ended it. */
static void deliver(int sig)
{
    int pid = LOAD(forward_pid);
    int pidfd = LOAD(forward_pidfd);
    if (pid <= 0)
        return;
    if (default_terminates(sig) && would_be_dropped(pid, sig)) {
        STORE(stopped_by, sig);
        send_signal(pid, pidfd, SIGKILL);
    } else {
        send_signal(pid, pidfd, sig);
    }
}

void isolate_forward_deliver(int sig)
{
    deliver(sig);
}

static void deliver_during_start(int sig)
{
    if (LOAD(exec_done)) {
        deliver(sig);
        return;
    }
    STORE(startup_signal, sig);
    int pid = LOAD(forward_pid), pidfd = LOAD(forward_pidfd); /* once: forward_stop may clear them */
    send_signal(pid, pidfd, sig); /* the shim exits of it */
    /* exec_done may have been set just now, after it looked for startup_signal:
     * whoever takes the signal out of the slot delivers it again. */
    if (LOAD(exec_done) && TAKE(startup_signal) != 0)
        deliver(sig);
}

static void request_stop(void)
{
    char byte = 0;
    if (stop_pipe[1] >= 0 && write(stop_pipe[1], &byte, 1) < 0) {
        /* full: a stop request is pending already */
    }
}

static void on_signal(int sig)
{
    int saved_errno = errno;
    if (sig == SIGTERM) { /* a stop: the stop signal now, SIGKILL after the grace period */
        request_stop();
        sig = stop_signal;
    }
    if (LOAD(forward_pid) > 0) {
        deliver_during_start(sig);
    } else {
        STORE(pending_signal, sig);
        /* forward_to may have stored the pid and taken an empty pending slot just
         * now: whoever takes the signal out of the slot delivers it. */
        if (LOAD(forward_pid) > 0 && TAKE(pending_signal) != 0)
            deliver_during_start(sig);
    }
    errno = saved_errno;
}

void isolate_shim_forward_stop_policy(int32_t signal, int64_t timeout_ms)
{
    stop_signal = signal;
    stop_timeout_ms = timeout_ms;
}

int isolate_shim_forward_signals(const int32_t *signals, uint32_t count)
{
    if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask); /* one forwarding at a time per thread */
    for (uint32_t i = 0; i < count; i++) {
        struct sigaction old;
        if (sigaction(signals[i], NULL, &old) < 0)
            return -errno;
        if (old.sa_handler == SIG_IGN)
            continue; /* the caller chose to ignore it (nohup, a background job): so do we */
        if (sigaction(signals[i], &action, NULL) < 0)
            return -errno;
        forwarded |= 1ull << (signals[i] - 1);
    }
    return 0;
}

int isolate_signal_is_forwarded(int sig)
{
    return (forwarded >> (sig - 1)) & 1;
}

void isolate_shim_forward_to(int32_t pid, int32_t pidfd)
{
    STORE(forward_pidfd, pidfd);
    STORE(forward_pid, pid);
    int sig = TAKE(pending_signal);
    if (sig != 0)
        deliver_during_start(sig);
}

void isolate_shim_forward_exec_done(void)
{
    STORE(exec_done, 1);
    int sig = TAKE(startup_signal);
    if (sig != 0)
        deliver(sig);
}

void isolate_shim_forward_stop(void)
{
    STORE(forward_pid, 0);
}

int32_t isolate_shim_stopped_by_signal(void)
{
    return LOAD(stopped_by);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int has_exited(int pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == EINTR ? 0 : -errno;
    return info.si_pid == pid;
}

int isolate_shim_wait_exit(int32_t pid, int32_t pidfd, int64_t timeout_ms, int32_t *timed_out)
{
    int64_t timeout_at = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    int64_t kill_at = -1;
    *timed_out = 0;
    for (;;) {
        int exited = has_exited(pid);
        if (exited != 0)
            return exited < 0 ? exited : 0;
        int64_t now = now_ms();
        if (timeout_at >= 0 && now >= timeout_at) {
            timeout_at = -1;
            *timed_out = 1;
            deliver_during_start(stop_signal);
            if (kill_at < 0)
                kill_at = now + stop_timeout_ms;
        }
        if (kill_at >= 0 && now >= kill_at) {
            kill_at = -1;
            send_signal(pid, pidfd, SIGKILL);
        }
        int64_t next = -1;
        if (timeout_at >= 0)
            next = timeout_at - now;
        if (kill_at >= 0 && (next < 0 || kill_at - now < next))
            next = kill_at - now;
        if (pidfd < 0 && (next < 0 || next > 50))
            next = 50; /* no pidfd to poll (before 5.3): look again in a while */
        struct pollfd fds[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };
        int n = poll(fds, 2, next > 0x7fffffff ? 0x7fffffff : (int)next);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && (fds[1].revents & POLLIN)) {
            char drain[16];
            while (read(stop_pipe[0], drain, sizeof drain) > 0) {
            }
            if (kill_at < 0)
                kill_at = now_ms() + stop_timeout_ms;
        }
    }
}

int isolate_shim_die_with_parent(int32_t expected_parent)
{
    /* SIGTERM is a stop (see on_signal): the container gets the stop signal, then SIGKILL
     * after the grace period, and Isolate cleans up as on any other exit. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
        return -errno;
    if (expected_parent > 0 && getppid() != expected_parent) /* the parent died before the line above */
        kill(getpid(), SIGTERM);
    return 0;
}

int isolate_shim_foreground_terminal(void)
{
    /* Isolate's process group is the foreground one of the terminal on stdin, stdout or
     * stderr: a user is at the keyboard of the shell that started it. */
    pid_t group = getpgrp();
    for (int fd = 0; fd <= 2; fd++) {
        pid_t foreground = tcgetpgrp(fd);
        if (foreground > 0)
            return foreground == group;
    }
    return 0;
}
