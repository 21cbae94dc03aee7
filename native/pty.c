/* pty.c - -t in the child: a pseudo-terminal from the container's own devpts (mounted
 * by the plan, so ptys are numbered from 0 and nothing of the host's is involved)
 * becomes its stdio and controlling terminal; the master goes to the parent, which
 * relays it to the caller's terminal (relay.c). Only system calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41) /* Linux 4.13 */
#endif

/* "/dev/pts/<n>" without snprintf. */
static void pts_path(char *buf, unsigned n)
{
    memcpy(buf, "/dev/pts/", sizeof "/dev/pts/" - 1);
    isolate_decimal(buf + sizeof "/dev/pts/" - 1, n);
}

static int open_slave(int master)
{
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave >= 0 || (errno != EINVAL && errno != ENOTTY))
        return slave;
    unsigned n; /* before 4.13: by its name, in the devpts just mounted */
    if (ioctl(master, TIOCGPTN, &n) < 0)
        return -1;
    char path[32];
    pts_path(path, n);
    return open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

int isolate_child_pty(const struct isolate_spawn_config *config, int sync_fd, int32_t *detail)
{
    *detail = ISOLATE_TTY_OPEN_MASTER;
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return -errno;
    int unlock = 0, rc = 0, slave = -1;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        goto fail;
    *detail = ISOLATE_TTY_OPEN_SLAVE;
    if ((slave = open_slave(master)) < 0)
        goto fail;
    if (config->tty_rows > 0 && config->tty_cols > 0) {
        struct winsize size = { .ws_row = config->tty_rows, .ws_col = config->tty_cols };
        ioctl(master, TIOCSWINSZ, &size);
    }
    /* The command's user owns its terminal, as with login and docker. */
    if (fchown(slave, config->security.uid, (gid_t)-1) < 0 && errno != EPERM)
        goto fail;
    *detail = ISOLATE_TTY_CONTROLLING;
    if (ioctl(slave, TIOCSCTTY, 0) < 0) /* we lead our own session (setsid) */
        goto fail;
    *detail = ISOLATE_TTY_STDIO;
    for (int fd = 0; fd <= 2; fd++) {
        if (dup2(slave, fd) < 0)
            goto fail;
    }
    close(slave);
    slave = -1;
    *detail = ISOLATE_TTY_SEND;
    struct isolate_msg msg = { .type = ISOLATE_MSG_TTY, .detail = -1 };
    rc = isolate_msg_send(sync_fd, &msg, master);
    close(master);
    return rc;
fail:
    rc = -errno;
    if (slave >= 0)
        close(slave);
    close(master);
    return rc;
}
