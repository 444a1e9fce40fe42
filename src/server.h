/* The main socket: every connection the plugin holds (the first one and
 * each NewConnection), and the dispatch of MainRequests onto the VM.
 *
 * Connections are peers: same objects, same VM.  A connection that sends
 * something malformed (undecodable, truncated, oversized, too many fds) or
 * does not read its responses is dropped alone; the VM runs on. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct vm;
struct server;

struct server_conn {
        struct loop_source source;      /* LOOP_CONNECTION; must be first */
        struct server *server;
        int fd;
        unsigned number;                /* for log lines */
        bool dead;                      /* dropped; freed by server_reap() */
};

/* What GetNetConfig answers; tap_fd < 0 means no network (ENODATA). */
struct server_net {
        int tap_fd;
        struct in_addr host_ip, netmask;
        uint8_t mac[6];
};

/* `epoll_fd` is where connections register (EPOLLIN, data.ptr = conn). */
int server_new(struct vm *vm, int epoll_fd, struct server **ret);
void server_free(struct server *s);

/* Adds a connection; takes `fd` in every case. */
int server_add_connection(struct server *s, int fd);

/* Serves one request on a readable connection.  Never fails: trouble drops
 * the connection, which is marked dead. */
void server_handle(struct server *s, struct server_conn *c);

/* Frees dropped connections; call after each batch of epoll events. */
void server_reap(struct server *s);

size_t server_n_connections(const struct server *s);

/* Set by the launcher when a tap exists; the fd stays the caller's. */
void server_set_net(struct server *s, const struct server_net *net);
