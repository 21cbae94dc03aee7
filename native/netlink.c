/* netlink.c - the messages `--network bridge` needs, built by hand: links, addresses and
 * routes over rtnetlink, and the container's NAT table over nf_tables' netlink interface,
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
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "internal.h"

/* --- a message buffer ------------------------------------------------------------ */

struct nl_buf {
    char *data;
    size_t len, cap;
    int overflow;
    uint32_t seq;
};

#define NL_ALIGN4(n) (((n) + 3u) & ~3u)

static void *buf_room(struct nl_buf *b, size_t len)
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

static struct nlmsghdr *msg_begin(struct nl_buf *b, uint16_t type, uint16_t flags, const void *header, size_t header_len)
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

static void msg_end(struct nl_buf *b, struct nlmsghdr *h)
{
    if (h != NULL && !b->overflow)
        h->nlmsg_len = (uint32_t)(b->data + b->len - (char *)h);
}

static void attr_put(struct nl_buf *b, uint16_t type, const void *value, size_t len)
{
    struct nlattr *a = buf_room(b, NLA_HDRLEN + len);
    if (a == NULL)
        return;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    memcpy((char *)a + NLA_HDRLEN, value, len);
}

static void attr_str(struct nl_buf *b, uint16_t type, const char *s)
{
    attr_put(b, type, s, strlen(s) + 1);
}

static void attr_u32(struct nl_buf *b, uint16_t type, uint32_t v)
{
    attr_put(b, type, &v, sizeof v);
}

static void attr_be32(struct nl_buf *b, uint16_t type, uint32_t v)
{
    attr_u32(b, type, htonl(v));
}

static struct nlattr *nest_begin(struct nl_buf *b, uint16_t type)
{
    struct nlattr *a = buf_room(b, NLA_HDRLEN);
    if (a != NULL)
        a->nla_type = type | NLA_F_NESTED;
    return a;
}

static void nest_end(struct nl_buf *b, struct nlattr *a)
{
    if (a != NULL && !b->overflow)
        a->nla_len = (uint16_t)(b->data + b->len - (char *)a);
}

/* --- sockets ------------------------------------------------------------------- */

static int nl_open(int protocol)
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
static int nl_talk(int fd, const struct nl_buf *b)
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

int isolate_net_link_delete(const char *name)
{
    int nl = nl_open(NETLINK_ROUTE);
    if (nl < 0)
        return nl;
    char data[256] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    struct ifinfomsg info = { .ifi_family = AF_UNSPEC };
    struct nlmsghdr *h = msg_begin(&b, RTM_DELLINK, NLM_F_ACK, &info, sizeof info);
    attr_str(&b, IFLA_IFNAME, name);
    msg_end(&b, h);
    int rc = nl_talk(nl, &b);
    close(nl);
    return rc == -ENODEV ? 0 : rc;
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

/* --- nf_tables ----------------------------------------------------------------- */

static void nft_header(struct nl_buf *b, struct nlmsghdr **h, uint16_t type, uint16_t flags)
{
    struct nfgenmsg gen = { .nfgen_family = NFPROTO_IPV4, .version = NFNETLINK_V0, .res_id = 0 };
    *h = msg_begin(b, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type), flags, &gen, sizeof gen);
}

static void nft_batch(struct nl_buf *b, uint16_t type)
{
    struct nfgenmsg gen = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(NFNL_SUBSYS_NFTABLES) };
    msg_end(b, msg_begin(b, type, 0, &gen, sizeof gen));
}

static void nft_table(struct nl_buf *b, uint16_t type, const char *table)
{
    struct nlmsghdr *h;
    nft_header(b, &h, type, NLM_F_ACK | (type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0));
    attr_str(b, NFTA_TABLE_NAME, table);
    msg_end(b, h);
}

static void nft_chain(struct nl_buf *b, const char *table, const char *chain, const char *type, uint32_t hook, int32_t priority)
{
    struct nlmsghdr *h;
    nft_header(b, &h, NFT_MSG_NEWCHAIN, NLM_F_ACK | NLM_F_CREATE);
    attr_str(b, NFTA_CHAIN_TABLE, table);
    attr_str(b, NFTA_CHAIN_NAME, chain);
    struct nlattr *hook_attr = nest_begin(b, NFTA_CHAIN_HOOK);
    attr_be32(b, NFTA_HOOK_HOOKNUM, hook);
    attr_be32(b, NFTA_HOOK_PRIORITY, (uint32_t)priority);
    nest_end(b, hook_attr);
    attr_be32(b, NFTA_CHAIN_POLICY, NF_ACCEPT);
    attr_str(b, NFTA_CHAIN_TYPE, type);
    msg_end(b, h);
}

/* One rule: begun here, its expressions added by the expr_ functions, ended by rule_end. */
struct nft_rule {
    struct nlmsghdr *h;
    struct nlattr *list;
};

static struct nft_rule rule_begin(struct nl_buf *b, const char *table, const char *chain)
{
    struct nft_rule r;
    nft_header(b, &r.h, NFT_MSG_NEWRULE, NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND);
    attr_str(b, NFTA_RULE_TABLE, table);
    attr_str(b, NFTA_RULE_CHAIN, chain);
    r.list = nest_begin(b, NFTA_RULE_EXPRESSIONS);
    return r;
}

static void rule_end(struct nl_buf *b, struct nft_rule r)
{
    nest_end(b, r.list);
    msg_end(b, r.h);
}

static struct nlattr *expr_begin(struct nl_buf *b, const char *name)
{
    struct nlattr *elem = nest_begin(b, NFTA_LIST_ELEM);
    attr_str(b, NFTA_EXPR_NAME, name);
    return elem;
}

static void expr_payload(struct nl_buf *b, uint32_t base, uint32_t offset, uint32_t len)
{
    struct nlattr *e = expr_begin(b, "payload");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_PAYLOAD_DREG, NFT_REG_1);
    attr_be32(b, NFTA_PAYLOAD_BASE, base);
    attr_be32(b, NFTA_PAYLOAD_OFFSET, offset);
    attr_be32(b, NFTA_PAYLOAD_LEN, len);
    nest_end(b, d);
    nest_end(b, e);
}

static void expr_meta(struct nl_buf *b, uint32_t key)
{
    struct nlattr *e = expr_begin(b, "meta");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_META_DREG, NFT_REG_1);
    attr_be32(b, NFTA_META_KEY, key);
    nest_end(b, d);
    nest_end(b, e);
}

static void expr_cmp(struct nl_buf *b, uint32_t op, const void *value, size_t len)
{
    struct nlattr *e = expr_begin(b, "cmp");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_CMP_SREG, NFT_REG_1);
    attr_be32(b, NFTA_CMP_OP, op);
    struct nlattr *v = nest_begin(b, NFTA_CMP_DATA);
    attr_put(b, NFTA_DATA_VALUE, value, len);
    nest_end(b, v);
    nest_end(b, d);
    nest_end(b, e);
}

/* fib daddr type local: the packet is for one of the host's own addresses */
static void expr_daddr_local(struct nl_buf *b)
{
    struct nlattr *e = expr_begin(b, "fib");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_FIB_DREG, NFT_REG_1);
    attr_be32(b, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    attr_be32(b, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nest_end(b, d);
    nest_end(b, e);
    uint32_t local = RTN_LOCAL;
    expr_cmp(b, NFT_CMP_EQ, &local, sizeof local);
}

static void expr_immediate(struct nl_buf *b, uint32_t reg, const void *value, size_t len)
{
    struct nlattr *e = expr_begin(b, "immediate");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_IMMEDIATE_DREG, reg);
    struct nlattr *v = nest_begin(b, NFTA_IMMEDIATE_DATA);
    attr_put(b, NFTA_DATA_VALUE, value, len);
    nest_end(b, v);
    nest_end(b, d);
    nest_end(b, e);
}

static void expr_dnat(struct nl_buf *b, uint32_t addr, uint16_t port)
{
    expr_immediate(b, NFT_REG_1, &addr, sizeof addr);
    uint16_t port_be = htons(port);
    expr_immediate(b, NFT_REG_2, &port_be, sizeof port_be);
    struct nlattr *e = expr_begin(b, "nat");
    struct nlattr *d = nest_begin(b, NFTA_EXPR_DATA);
    attr_be32(b, NFTA_NAT_TYPE, NFT_NAT_DNAT);
    attr_be32(b, NFTA_NAT_FAMILY, NFPROTO_IPV4);
    attr_be32(b, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
    attr_be32(b, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
    attr_be32(b, NFTA_NAT_FLAGS, 2 /* NF_NAT_RANGE_PROTO_SPECIFIED */);
    nest_end(b, d);
    nest_end(b, e);
}

static void expr_masquerade(struct nl_buf *b)
{
    nest_end(b, expr_begin(b, "masq"));
}

/* [ip daddr HOST | fib daddr type local] meta l4proto P th dport H dnat to ADDR:C */
static void port_rule(struct nl_buf *b, const char *table, const char *chain, uint32_t addr, const struct isolate_port *port)
{
    struct nft_rule r = rule_begin(b, table, chain);
    if (port->host_addr != 0) {
        expr_payload(b, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
        expr_cmp(b, NFT_CMP_EQ, &port->host_addr, 4);
    } else
        expr_daddr_local(b);
    expr_meta(b, NFT_META_L4PROTO);
    uint8_t protocol = (uint8_t)port->protocol;
    expr_cmp(b, NFT_CMP_EQ, &protocol, 1);
    expr_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    uint16_t host_port = htons(port->host_port);
    expr_cmp(b, NFT_CMP_EQ, &host_port, 2);
    expr_dnat(b, addr, port->container_port);
    rule_end(b, r);
}

static int nft_send(struct nl_buf *b)
{
    int nl = nl_open(NETLINK_NETFILTER);
    if (nl < 0)
        return nl;
    int rc = nl_talk(nl, b);
    close(nl);
    return rc;
}

int isolate_nft_container(const char *table, const char *bridge, uint32_t addr, const struct isolate_port *ports, uint32_t count)
{
    char data[16384] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    nft_batch(&b, NFNL_MSG_BATCH_BEGIN);
    /* made, emptied and made again in one transaction: a table a crashed run left goes */
    nft_table(&b, NFT_MSG_NEWTABLE, table);
    nft_table(&b, NFT_MSG_DELTABLE, table);
    nft_table(&b, NFT_MSG_NEWTABLE, table);
    nft_chain(&b, table, "postrouting", "nat", NF_INET_POST_ROUTING, 100);
    /* its traffic out to anywhere but the bridge leaves with the host's address */
    struct nft_rule r = rule_begin(&b, table, "postrouting");
    expr_payload(&b, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
    expr_cmp(&b, NFT_CMP_EQ, &addr, 4);
    expr_meta(&b, NFT_META_OIFNAME);
    char name[IFNAMSIZ];
    memset(name, 0, sizeof name);
    memcpy(name, bridge, strnlen(bridge, IFNAMSIZ - 1));
    expr_cmp(&b, NFT_CMP_NEQ, name, sizeof name);
    expr_masquerade(&b);
    rule_end(&b, r);
    if (count > 0) {
        /* a published port reached from the host's loopback: from 127.0.0.0/8 the answer
         * could not come back, so it arrives from the bridge's address (with route_localnet) */
        r = rule_begin(&b, table, "postrouting");
        expr_payload(&b, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
        expr_cmp(&b, NFT_CMP_EQ, &addr, 4);
        expr_payload(&b, NFT_PAYLOAD_NETWORK_HEADER, 12, 1);
        uint8_t loopback = 127;
        expr_cmp(&b, NFT_CMP_EQ, &loopback, 1);
        expr_masquerade(&b);
        rule_end(&b, r);
        nft_chain(&b, table, "prerouting", "nat", NF_INET_PRE_ROUTING, -100);
        nft_chain(&b, table, "output", "nat", NF_INET_LOCAL_OUT, -100);
        for (uint32_t i = 0; i < count; i++) {
            port_rule(&b, table, "prerouting", addr, &ports[i]);
            port_rule(&b, table, "output", addr, &ports[i]);
        }
    }
    nft_batch(&b, NFNL_MSG_BATCH_END);
    return nft_send(&b);
}

int isolate_nft_delete(const char *table)
{
    char data[512] __attribute__((aligned(4)));
    struct nl_buf b = { .data = data, .cap = sizeof data };
    nft_batch(&b, NFNL_MSG_BATCH_BEGIN);
    nft_table(&b, NFT_MSG_DELTABLE, table);
    nft_batch(&b, NFNL_MSG_BATCH_END);
    int rc = nft_send(&b);
    return rc == -ENOENT ? 0 : rc;
}

/* --- a container's network, released ---------------------------------------------- */

/* readlink into buf (size PATH_MAX), NUL-terminated; -errno */
static int read_link(const char *dir, const char *name, char *buf)
{
    char path[PATH_MAX];
    size_t dir_len = strlen(dir), name_len = strlen(name);
    if (dir_len + 1 + name_len >= sizeof path)
        return -ENAMETOOLONG;
    memcpy(path, dir, dir_len);
    path[dir_len] = '/';
    memcpy(path + dir_len + 1, name, name_len + 1);
    ssize_t n = readlink(path, buf, PATH_MAX - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return 0;
}

int isolate_net_release(const char *dir, int32_t take_lock)
{
    static char lease[PATH_MAX], target[PATH_MAX], veth[PATH_MAX], path[PATH_MAX];
    size_t len = strlen(dir);
    if (len + sizeof "/lock" >= sizeof path)
        return -ENAMETOOLONG;
    const char *id = strrchr(dir, '/');
    if (id == NULL || id == dir)
        return -EINVAL;
    id++;
    int lock = -1;
    if (take_lock) {
        /* DIR is ROOT/containers/ID; the lock is ROOT/lock */
        memcpy(path, dir, len + 1);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(path, '/');
            if (slash == NULL || slash == path)
                return -EINVAL;
            *slash = '\0';
        }
        memcpy(path + strlen(path), "/lock", sizeof "/lock");
        lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0)
            return -errno;
        while (flock(lock, LOCK_EX) < 0 && errno == EINTR) {
        }
    }
    int rc = 0;
    if (read_link(dir, "veth", veth) == 0)
        rc = isolate_net_link_delete(veth);
    char table[PATH_MAX];
    if (len + sizeof "isolate-" < sizeof table) {
        memcpy(table, "isolate-", sizeof "isolate-" - 1);
        memcpy(table + sizeof "isolate-" - 1, id, strlen(id) + 1);
        int deleted = isolate_nft_delete(table);
        if (rc == 0)
            rc = deleted;
    }
    /* the lease, if it is still this container's (the address is free from here on) */
    if (read_link(dir, "lease", lease) == 0) {
        ssize_t n = readlink(lease, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            if (strcmp(target, id) == 0 && unlink(lease) < 0 && rc == 0)
                rc = -errno;
        }
    }
    /* its published ports: ROOT/ports/PROTO-PORT links to ID */
    {
        memcpy(path, dir, len + 1);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(path, '/');
            if (slash != NULL && slash != path)
                *slash = '\0';
        }
        memcpy(path + strlen(path), "/ports", sizeof "/ports");
        int ports = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ports >= 0) {
            char entries[4096] __attribute__((aligned(8)));
            long n;
            while ((n = syscall(SYS_getdents64, ports, entries, sizeof entries)) > 0) {
                for (long off = 0; off < n;) {
                    const struct dirent64 *entry = (const struct dirent64 *)(entries + off);
                    off += entry->d_reclen;
                    ssize_t got = readlinkat(ports, entry->d_name, target, sizeof target - 1);
                    if (got < 0)
                        continue;
                    target[got] = '\0';
                    if (strcmp(target, id) == 0)
                        unlinkat(ports, entry->d_name, 0);
                }
            }
            close(ports);
        }
    }
    int removed = isolate_shim_remove_tree(dir);
    if (rc == 0)
        rc = removed;
    if (lock >= 0)
        close(lock);
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
