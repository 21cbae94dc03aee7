/* netlink.c - the messages `--network bridge` needs, built by hand: links, addresses and
 * routes over rtnetlink (the container's NAT table is native/nftables.c),
 * so that no ip, iptables or nft binary is needed.
 *
 * Everything is built into a buffer on the caller's stack and sent on a socket of its own;
 * the kernel handles a request inside the send, so the answers are read back at once. No
 * allocation and no stdio: the reaper (native/reaper.c) calls isolate_net_release too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "internal.h"
#include "netlink.h"

/* --- a message buffer ------------------------------------------------------------ */

#define NL_ALIGN4(n) (((n) + 3u) & ~3u)

void *buf_room(struct nl_buf *b, size_t len)
{
    size_t padded = NL_ALIGN4(len);
    if (b->overflow || b->len + padded > b->cap) {
        b->overflow = 1;
        return NULL;
    }
    void *at = b->data + b->len;
    memset(at, 0, padded);
    b->len += padded;
    return at;
}

struct nlmsghdr *msg_begin(struct nl_buf *b, uint16_t type, uint16_t flags, const void *header, size_t header_len)
{
    struct nlmsghdr *h = buf_room(b, NLMSG_HDRLEN);
    if (h == NULL)
        return NULL;
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    h->nlmsg_seq = ++b->seq;
    void *at = buf_room(b, header_len);
    if (at != NULL)
        memcpy(at, header, header_len);
    return h;
}

void msg_end(struct nl_buf *b, struct nlmsghdr *h)
{
    if (h != NULL && !b->overflow)
        h->nlmsg_len = (uint32_t)(b->data + b->len - (char *)h);
}

void attr_put(struct nl_buf *b, uint16_t type, const void *value, size_t len)
{
    struct nlattr *a = buf_room(b, NLA_HDRLEN + len);
    if (a == NULL)
        return;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    memcpy((char *)a + NLA_HDRLEN, value, len);
}

void attr_str(struct nl_buf *b, uint16_t type, const char *s)
{
    attr_put(b, type, s, strlen(s) + 1);
}

void attr_u32(struct nl_buf *b, uint16_t type, uint32_t v)
{
    attr_put(b, type, &v, sizeof v);
}

void attr_be32(struct nl_buf *b, uint16_t type, uint32_t v)
{
    attr_u32(b, type, htonl(v));
}

struct nlattr *nest_begin(struct nl_buf *b, uint16_t type)
{
    struct nlattr *a = buf_room(b, NLA_HDRLEN);
    if (a != NULL)
        a->nla_type = type | NLA_F_NESTED;
    return a;
}

void nest_end(struct nl_buf *b, struct nlattr *a)
{
    if (a != NULL && !b->overflow)
        a->nla_len = (uint16_t)(b->data + b->len - (char *)a);
}

/* --- sockets ------------------------------------------------------------------- */

int nl_open(int protocol)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl local = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* Sends b and reads every answer the kernel queued while handling it; returns 0 or the
 * first error it answered with (-errno). */
int nl_talk(int fd, const struct nl_buf *b)
{
    if (b->overflow)
        return -ENOBUFS;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, b->data, b->len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        return -errno;
    char answer[8192] __attribute__((aligned(4)));
    int result = 0;
    for (;;) {
        ssize_t n = recv(fd, answer, sizeof answer, MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? result : -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)answer; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_ERROR && result == 0) {
                const struct nlmsgerr *err = NLMSG_DATA(h);
                result = err->error;
            }
        }
    }
}

/* A socket of protocol (NETLINK_ROUTE) or type (SOCK_DGRAM, for ioctls) made in the
 * network namespace ns_fd: the calling thread enters it only for the socket() call (a
 * socket stays in the namespace it was made in). */
static int socket_in(int ns_fd, int netlink_protocol)
{
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    if (setns(ns_fd, CLONE_NEWNET) < 0) {
        int err = errno;
        close(self);
        return -err;
    }
    int fd = netlink_protocol >= 0 ? nl_open(netlink_protocol) : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (netlink_protocol < 0 && fd < 0)
        fd = -errno;
    if (setns(self, CLONE_NEWNET) < 0) { /* cannot happen: the thread came from there */
        if (fd >= 0)
            close(fd);
        fd = -errno;
    }
    close(self);
    return fd;
}

static int link_index(int dgram_fd, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (strlen(name) >= IFNAMSIZ)
        return -EINVAL;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(dgram_fd, SIOCGIFINDEX, &ifr) < 0)
        return -errno;
    return ifr.ifr_ifindex;
}

/* --- rtnetlink ----------------------------------------------------------------- */

static int link_up(int nl, int index)
{
    char data[256] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    struct ifinfomsg info = { .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
    msg_end(&b, msg_begin(&b, RTM_NEWLINK, NLM_F_ACK, &info, sizeof info));
    return nl_talk(nl, &b);
}

static int address_add(int nl, int index, uint32_t addr, uint32_t prefix)
{
    char data[256] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    struct ifaddrmsg info = { .ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = (uint32_t)index };
    struct nlmsghdr *h = msg_begin(&b, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &info, sizeof info);
    attr_put(&b, IFA_LOCAL, &addr, sizeof addr);
    attr_put(&b, IFA_ADDRESS, &addr, sizeof addr);
    msg_end(&b, h);
    return nl_talk(nl, &b);
}

static int default_route(int nl, int index, uint32_t gateway)
{
    char data[256] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    struct rtmsg info = {
        .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
        .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST,
    };
    struct nlmsghdr *h = msg_begin(&b, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &info, sizeof info);
    attr_put(&b, RTA_GATEWAY, &gateway, sizeof gateway);
    attr_u32(&b, RTA_OIF, (uint32_t)index);
    msg_end(&b, h);
    return nl_talk(nl, &b);
}

int isolate_net_address(const char *name, uint32_t *addr, uint32_t *prefix)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int rc = 0;
    if (strlen(name) >= IFNAMSIZ)
        rc = -EINVAL;
    else {
        memcpy(ifr.ifr_name, name, strlen(name));
        if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
            rc = -errno;
        else {
            memcpy(addr, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, 4);
            if (ioctl(fd, SIOCGIFNETMASK, &ifr) < 0)
                rc = -errno;
            else {
                uint32_t mask = ntohl(((struct sockaddr_in *)&ifr.ifr_netmask)->sin_addr.s_addr);
                *prefix = (uint32_t)__builtin_popcount(mask);
            }
        }
    }
    close(fd);
    return rc;
}

/* 02:42 and the IPv4 address (network order), as docker makes its containers' MACs: an
 * address given again (a lease reused) keeps its MAC, so a neighbour entry the host still
 * holds for it stays right; and a bridge whose MAC is set does not take a port's. */
static void mac_of(unsigned char mac[6], uint32_t addr)
{
    mac[0] = 0x02;
    mac[1] = 0x42;
    memcpy(mac + 2, &addr, 4);
}

int isolate_net_bridge(const char *name, uint32_t addr, uint32_t prefix)
{
    int nl = nl_open(NETLINK_ROUTE);
    if (nl < 0)
        return nl;
    int dgram = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (dgram < 0) {
        int err = errno;
        close(nl);
        return -err;
    }
    char data[512] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    struct ifinfomsg info = { .ifi_family = AF_UNSPEC };
    struct nlmsghdr *h = msg_begin(&b, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &info, sizeof info);
    attr_str(&b, IFLA_IFNAME, name);
    unsigned char mac[6];
    mac_of(mac, addr);
    attr_put(&b, IFLA_ADDRESS, mac, sizeof mac);
    struct nlattr *link_info = nest_begin(&b, IFLA_LINKINFO);
    attr_str(&b, IFLA_INFO_KIND, "bridge");
    nest_end(&b, link_info);
    msg_end(&b, h);
    int rc = nl_talk(nl, &b);
    if (rc == -EEXIST)
        rc = 0;
    int index = rc < 0 ? rc : link_index(dgram, name);
    rc = index < 0 ? index : address_add(nl, index, addr, prefix);
    if (rc == 0)
        rc = link_up(nl, index);
    close(dgram);
    close(nl);
    return rc;
}

int isolate_net_veth(const char *bridge, const char *host_name, int32_t pid, uint32_t addr, uint32_t prefix, uint32_t gateway,
                     int32_t *failed_step)
{
    *failed_step = ISOLATE_NET_STEP_NAMESPACE;
    char ns_path[64] = "/proc/";
    isolate_decimal(ns_path + strlen(ns_path), (unsigned long)pid);
    memcpy(ns_path + strlen(ns_path), "/ns/net", sizeof "/ns/net");
    int ns = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return -errno;
    int nl = -1, dgram = -1, inner_nl = -1, inner_dgram = -1;
    int rc = (nl = nl_open(NETLINK_ROUTE)) < 0 ? nl : 0;
    if (rc == 0 && (dgram = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        rc = -errno;
    int bridge_index = rc < 0 ? rc : link_index(dgram, bridge);
    if (rc == 0 && bridge_index < 0) {
        *failed_step = ISOLATE_NET_STEP_BRIDGE;
        rc = bridge_index;
    }
    if (rc == 0) {
        /* the pair, its host end on the bridge, its other end made in the container's namespace as eth0 */
        *failed_step = ISOLATE_NET_STEP_VETH;
        char data[512] __attribute__((aligned(4)));
        struct nl_buf b = { .data = data, .cap = sizeof data };
        struct ifinfomsg info = { .ifi_family = AF_UNSPEC };
        struct nlmsghdr *h = msg_begin(&b, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &info, sizeof info);
        attr_str(&b, IFLA_IFNAME, host_name);
        attr_u32(&b, IFLA_MASTER, (uint32_t)bridge_index);
        struct nlattr *link_info = nest_begin(&b, IFLA_LINKINFO);
        attr_str(&b, IFLA_INFO_KIND, "veth");
        struct nlattr *link_data = nest_begin(&b, IFLA_INFO_DATA);
        struct nlattr *peer = nest_begin(&b, VETH_INFO_PEER);
        struct ifinfomsg *peer_info = buf_room(&b, sizeof(struct ifinfomsg));
        if (peer_info != NULL)
            peer_info->ifi_family = AF_UNSPEC;
        attr_str(&b, IFLA_IFNAME, "eth0");
        unsigned char mac[6];
        mac_of(mac, addr);
        attr_put(&b, IFLA_ADDRESS, mac, sizeof mac);
        attr_u32(&b, IFLA_NET_NS_FD, (uint32_t)ns);
        nest_end(&b, peer);
        nest_end(&b, link_data);
        nest_end(&b, link_info);
        msg_end(&b, h);
        rc = nl_talk(nl, &b);
    }
    int host_index = rc < 0 ? rc : link_index(dgram, host_name);
    if (rc == 0)
        rc = host_index < 0 ? host_index : link_up(nl, host_index);
    if (rc == 0) {
        *failed_step = ISOLATE_NET_STEP_INSIDE;
        rc = (inner_nl = socket_in(ns, NETLINK_ROUTE)) < 0 ? inner_nl : 0;
        if (rc == 0 && (inner_dgram = socket_in(ns, -1)) < 0)
            rc = inner_dgram;
        int index = rc < 0 ? rc : link_index(inner_dgram, "eth0");
        if (rc == 0)
            rc = index < 0 ? index : address_add(inner_nl, index, addr, prefix);
        if (rc == 0)
            rc = link_up(inner_nl, index);
        if (rc == 0)
            rc = default_route(inner_nl, index, gateway);
    }
    if (inner_dgram >= 0)
        close(inner_dgram);
    if (inner_nl >= 0)
        close(inner_nl);
    if (dgram >= 0)
        close(dgram);
    if (nl >= 0)
        close(nl);
    close(ns);
    return rc;
}

int isolate_net_port_check(uint8_t protocol, uint32_t addr, uint16_t port)
{
    int fd = socket(AF_INET, (protocol == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = { .s_addr = addr } };
    socklen_t len = sizeof at;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&at, sizeof at) < 0 || getsockname(fd, (struct sockaddr *)&at, &len) < 0)
        rc = -errno;
    close(fd);
    return rc < 0 ? rc : ntohs(at.sin_port);
}
