#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

/* libnl's own error codes, as the closest errno. */
static int nl_to_errno(int nlerr) {
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case NLE_PERM:
                return -EPERM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_NODEV:
        case NLE_OBJ_NOTFOUND:
                return -ENODEV;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        default:
                return -EIO;
        }
}

static void sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}

static int route_socket(struct nl_sock **ret) {
        struct nl_sock *s = nl_socket_alloc();
        int r;

        if (!s)
                return -ENOMEM;
        r = nl_connect(s, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(s);
                return nl_to_errno(r);
        }
        *ret = s;
        return 0;
}

static int tun_open(const char *name, short flags, struct tap *t) {
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        struct ifreq ifr = { .ifr_flags = flags };

        if (fd < 0)
                return -errno;
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return -errno;
        snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
        t->fd = TAKE_FD(fd);
        return 0;
}

static int create(struct tap *t, const char **ret_step) {
        int r;

        *ret_step = "creating a tap through /dev/net/tun";
        r = tun_open("vmtap%d", TAP_FLAGS, t);
        if (r == -EPERM)
                *ret_step = "creating a tap (needs root: CAP_NET_ADMIN; otherwise use network.tap_fds or "
                            "network.tap_name)";
        return r;
}

static int prefix_len(struct in_addr netmask) {
        return __builtin_popcount(ntohl(netmask.s_addr));
}

static int configure(struct tap *t, struct in_addr ip, struct in_addr netmask, const uint8_t mac[6],
                     const char **ret_step) {
        _cleanup_(sock_freep) struct nl_sock *sk = NULL;
        struct rtnl_link *link = NULL, *change = NULL;
        struct rtnl_addr *addr = NULL;
        struct nl_addr *ll = NULL, *local = NULL;
        int r;

        *ret_step = "connecting to rtnetlink";
        r = route_socket(&sk);
        if (r < 0)
                return r;
        *ret_step = "looking up the tap";
        r = rtnl_link_get_kernel(sk, 0, t->name, &link);
        if (r < 0)
                return nl_to_errno(r);

        *ret_step = "setting the tap's MAC and bringing it up";
        change = rtnl_link_alloc();
        ll = nl_addr_build(AF_LLC, mac, 6);
        if (!change || !ll) {
                r = -ENOMEM;
                goto out;
        }
        rtnl_link_set_addr(change, ll);
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, link, change, 0);
        if (r < 0) {
                r = nl_to_errno(r);
                goto out;
        }

        *ret_step = "setting the tap's IPv4 address";
        addr = rtnl_addr_alloc();
        local = nl_addr_build(AF_INET, &ip.s_addr, sizeof(ip.s_addr));
        if (!addr || !local) {
                r = -ENOMEM;
                goto out;
        }
        rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(link));
        rtnl_addr_set_family(addr, AF_INET);
        r = rtnl_addr_set_local(addr, local);
        if (r >= 0) {
                rtnl_addr_set_prefixlen(addr, prefix_len(netmask));
                r = rtnl_addr_add(sk, addr, 0);
        }
        if (r < 0) {
                r = nl_to_errno(r);
                goto out;
        }
        t->host_ip = ip;
        t->netmask = netmask;
        memcpy(t->mac, mac, 6);
        r = 0;
out:
        if (local)
                nl_addr_put(local);
        if (addr)
                rtnl_addr_put(addr);
        if (ll)
                nl_addr_put(ll);
        if (change)
                rtnl_link_put(change);
        rtnl_link_put(link);
        return r;
}

struct addr_search {
        int ifindex;
        bool found;
        struct in_addr ip, netmask;
};

static void find_ipv4(struct nl_object *obj, void *arg) {
        struct rtnl_addr *a = (struct rtnl_addr *)obj;
        struct addr_search *s = arg;
        struct nl_addr *local = rtnl_addr_get_local(a);
        int plen = rtnl_addr_get_prefixlen(a);

        if (s->found || rtnl_addr_get_ifindex(a) != s->ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
            nl_addr_get_len(local) != 4)
                return;
        memcpy(&s->ip.s_addr, nl_addr_get_binary_addr(local), 4);
        s->netmask.s_addr = plen <= 0 ? 0 : htonl(plen >= 32 ? 0xffffffffu : ~(0xffffffffu >> plen));
        s->found = true;
}

/* Reads the MAC and the first IPv4 address of t->name, for GetNetConfig. */
static int read_config(struct tap *t, const char **ret_step) {
        _cleanup_(sock_freep) struct nl_sock *sk = NULL;
        struct rtnl_link *link = NULL;
        struct nl_cache *cache = NULL;
        struct nl_addr *ll;
        struct addr_search s = { 0 };
        int r;

        *ret_step = "connecting to rtnetlink";
        r = route_socket(&sk);
        if (r < 0)
                return r;
        *ret_step = "reading the tap's link";
        r = rtnl_link_get_kernel(sk, 0, t->name, &link);
        if (r < 0)
                return nl_to_errno(r);
        ll = rtnl_link_get_addr(link);
        if (ll && nl_addr_get_len(ll) == 6)
                memcpy(t->mac, nl_addr_get_binary_addr(ll), 6);
        s.ifindex = rtnl_link_get_ifindex(link);
        rtnl_link_put(link);
        *ret_step = "reading the tap's addresses";
        r = rtnl_addr_alloc_cache(sk, &cache);
        if (r < 0)
                return nl_to_errno(r);
        nl_cache_foreach(cache, find_ipv4, &s);
        nl_cache_free(cache);
        if (s.found) {
                t->host_ip = s.ip;
                t->netmask = s.netmask;
        }
        return 0;
}

static int open_name(const char *name, struct tap *t, const char **ret_step) {
        int r;

        /* TUNSETIFF would create a missing one: it must exist already. */
        *ret_step = "finding the persistent tap";
        if (if_nametoindex(name) == 0)
                return -ENODEV;
        *ret_step = "attaching to the persistent tap";
        r = tun_open(name, TAP_FLAGS, t);
        if (r < 0)
                return r;
        r = read_config(t, ret_step);
        if (r < 0)
                t->fd = safe_close(t->fd);
        return r;
}

static int from_fd(int fd, struct tap *t, const char **ret_step) {
        struct ifreq ifr = { 0 };
        int r;

        *ret_step = "checking that the fd is open";
        if (fcntl(fd, F_GETFD) < 0)
                return -errno;
        *ret_step = "checking that the fd is a tap (TUNGETIFF)";
        if (ioctl(fd, TUNGETIFF, &ifr) < 0)
                return errno == EBADFD || errno == EINVAL ? -ENOTTY : -errno;
        if (!(ifr.ifr_flags & IFF_TAP))
                return -EPROTOTYPE;
        snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
        *ret_step = "duplicating the tap fd";
        t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (t->fd < 0)
                return -errno;
        r = read_config(t, ret_step);
        if (r < 0)
                t->fd = safe_close(t->fd);
        return r;
}

/* A failure in the caller's error context: the step, the tap's name once
 * it has one, and the errno. */
static int fail(struct log_err *err, int r, const char *step, const struct tap *t) {
        return log_err_set(err, r, "%s%s%s: %s", step, t->name[0] ? " " : "", t->name, strerror(-r));
}

int tap_create(struct tap *t, struct log_err *err) {
        const char *step = "?";
        int r = create(t, &step);

        return r < 0 ? fail(err, r, step, t) : 0;
}

int tap_configure(struct tap *t, struct in_addr ip, struct in_addr netmask, const uint8_t mac[6],
                  struct log_err *err) {
        const char *step = "?";
        int r = configure(t, ip, netmask, mac, &step);

        return r < 0 ? fail(err, r, step, t) : 0;
}

int tap_open_name(const char *name, struct tap *t, struct log_err *err) {
        const char *step = "?";
        int r = open_name(name, t, &step);

        return r < 0 ? fail(err, r, step, t) : 0;
}

int tap_from_fd(int fd, struct tap *t, struct log_err *err) {
        const char *step = "?";
        int r = from_fd(fd, t, &step);

        return r < 0 ? fail(err, r, step, t) : 0;
}

void tap_close(struct tap *t) {
        t->fd = safe_close(t->fd);
}
