/* netlink.h - the message builder and socket of native/netlink.c, which native/nftables.c
 * uses too. Everything goes into a buffer the caller owns (on its stack): no allocation. */
#ifndef ISOLATE_NETLINK_H
#define ISOLATE_NETLINK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

struct nl_buf {
    char *data;
    size_t len, cap;
    int overflow;
    uint32_t seq;
};

void *buf_room(struct nl_buf *b, size_t len);
struct nlmsghdr *msg_begin(struct nl_buf *b, uint16_t type, uint16_t flags, const void *header, size_t header_len);
void msg_end(struct nl_buf *b, struct nlmsghdr *h);
void attr_put(struct nl_buf *b, uint16_t type, const void *value, size_t len);
void attr_str(struct nl_buf *b, uint16_t type, const char *s);
void attr_u32(struct nl_buf *b, uint16_t type, uint32_t v);
void attr_be32(struct nl_buf *b, uint16_t type, uint32_t v);
struct nlattr *nest_begin(struct nl_buf *b, uint16_t type);
void nest_end(struct nl_buf *b, struct nlattr *a);
int nl_open(int protocol);
int nl_talk(int fd, const struct nl_buf *b);

#endif
