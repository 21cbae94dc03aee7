/* msg.c - one message on the sync socket, with an optional file descriptor
 * (SCM_RIGHTS), for both ends: the parent's GO (with an id-mapped rootfs) and the
 * child's TTY (with the pty master). Only system calls and memcpy: the child uses
 * these between clone() and execve(). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

int isolate_msg_send(int sock, const struct isolate_msg *msg, int pass_fd)
{
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = sizeof *msg };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass_fd >= 0) {
        memset(&control, 0, sizeof control);
        header.msg_control = control.buf;
        header.msg_controllen = sizeof control.buf;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof pass_fd);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &header, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK && pass_fd < 0) {
        /* a detached child's status FIFO (child.c): one write of a message is atomic */
        do {
            n = write(sock, msg, sizeof *msg);
        } while (n < 0 && errno == EINTR);
    }
    if (n < 0)
        return -errno;
    return n == (ssize_t)sizeof *msg ? 0 : -EIO;
}

ssize_t isolate_msg_recv(int sock, struct isolate_msg *msg, int *received_fd)
{
    struct iovec iov = { .iov_base = msg, .iov_len = sizeof *msg };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    *received_fd = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &header, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
    if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS
        && cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(received_fd, CMSG_DATA(cmsg), sizeof(int));
    return n;
}
