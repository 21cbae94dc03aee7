/* forward.c - the parent's signal forwarding (runs in Isolate's own process).
 *
 * Signals an init script or a terminal sends to Isolate go to the container's
 * PID 1. It is a plain sigaction handler rather than .NET's PosixSignalRegistration:
 * no extra runtime thread, nothing to start, and only async-signal-safe calls.
 *
 * The kernel drops a signal sent to a PID namespace's init when init neither
 * catches it nor ignores it, even from outside. So a PID 1 `sleep` would shrug
 * off SIGTERM and an init script could not stop the container. In that case the
 * handler applies the signal's default action on the kernel's behalf: SIGKILL,
 * remembering which signal it stood for, so Isolate exits 128+N as if the
 * command had died of it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "isolate_shim.h"

static volatile sig_atomic_t forward_pid;     /* 0: no container (yet, or any more) */
static volatile sig_atomic_t pending_signal;  /* arrived before the container existed */
static volatile sig_atomic_t stopped_by;      /* the signal SIGKILL stood in for */

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
static void status_path(char *buf, pid_t pid)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    char *p = buf;
    memcpy(p, "/proc/", 6);
    p += 6;
    while (n > 0)
        *p++ = digits[--n];
    memcpy(p, "/status", 8);
}

int isolate_shim_signal_would_be_dropped(int32_t pid, int32_t sig)
{
    char path[40];
    status_path(path, (pid_t)pid);
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
    return (status_mask(status, "SigCgt:") & bit) == 0 && (status_mask(status, "SigIgn:") & bit) == 0;
}

static void forward(pid_t pid, int sig)
{
    if (isolate_shim_signal_would_be_dropped(pid, sig)) {
        stopped_by = sig;
        kill(pid, SIGKILL);
    } else {
        kill(pid, sig);
    }
}

static void on_signal(int sig)
{
    int saved_errno = errno;
    pid_t pid = forward_pid;
    if (pid > 0)
        forward(pid, sig);
    else
        pending_signal = sig;
    errno = saved_errno;
}

int isolate_shim_forward_signals(const int32_t *signals, uint32_t count)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask); /* one forwarding at a time */
    for (uint32_t i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) < 0)
            return -errno;
    }
    return 0;
}

void isolate_shim_forward_to(int32_t pid)
{
    forward_pid = pid;
    int sig = pending_signal;
    if (pid > 0 && sig != 0) {
        pending_signal = 0;
        forward(pid, sig);
    }
}

int32_t isolate_shim_stopped_by_signal(void)
{
    return stopped_by;
}
