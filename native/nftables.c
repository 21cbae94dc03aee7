/* nftables.c - a container's NAT table over nf_tables' netlink interface (one batch: the
 * table, its chains, its rules), and the release of a container's whole network, which the
 * reaper calls too (native/reaper.c). Built with native/netlink.c's message builder. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "internal.h"
#include "netlink.h"

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
    static char lease[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
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
    /* The veth pair is not deleted here: it goes with the container's network namespace,
     * which the kernel tears down once the last process in it is gone (deleting it by hand
     * waits out RCU grace periods: 20-30 ms of every bridged run). A claim skips an address
     * whose host end is still there, so a namespace something still holds keeps its own. */
    int rc = 0;
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
