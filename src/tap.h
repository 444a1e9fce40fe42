/* The VM's tap: created by vmlaunch (network.host_ip/netmask/mac), a
 * persistent one the user owns (network.tap_name), or an fd the caller
 * opened (network.tap_fds).  Addresses and links are set and read through
 * libnl-route-3.
 *
 * A tap vmlaunch creates is not persistent: the kernel removes it when its
 * last fd closes, so it is gone when vmlaunch exits on every path, a crash
 * included (the plugin holds a dup only while it lives).
 *
 * Functions return 0 or -errno; on failure `err` (log.h) holds
 * "<step>[ <tap name>]: <strerror>" for the caller's message. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct log_err;

struct tap {
        int fd;                         /* CLOEXEC */
        char name[IFNAMSIZ];
        struct in_addr host_ip;         /* network byte order */
        struct in_addr netmask;
        uint8_t mac[6];
};

#define TAP_INIT { .fd = -1 }

/* Creates a new tap named vmtap<N> (the kernel picks N). */
int tap_create(struct tap *t, struct log_err *err);

/* Sets the IPv4 address and netmask and the MAC, and brings the link up. */
int tap_configure(struct tap *t, struct in_addr ip, struct in_addr netmask, const uint8_t mac[6],
                  struct log_err *err);

/* Attaches to an existing persistent tap by name (the user must own it or
 * have CAP_NET_ADMIN) and reads its address and MAC. */
int tap_open_name(const char *name, struct tap *t, struct log_err *err);

/* Takes a tap fd the caller opened: it must be a tap (TUNGETIFF says
 * IFF_TAP); it is duplicated CLOEXEC and the original left alone. */
int tap_from_fd(int fd, struct tap *t, struct log_err *err);

/* Closes the fd (a tap vmlaunch created disappears). */
void tap_close(struct tap *t);
