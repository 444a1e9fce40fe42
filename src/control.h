/* The control socket: one per VM, so that `vmlaunch list`, `vmlaunch ctl
 * NAME ...` (control_client.h) see and steer a running VM from another
 * shell.  Messages: control_proto.h.
 *
 * Where: control.socket, or <dir>/<name>.sock with <dir> from
 * control_socket_dir().  The socket is made mode 0600 (umask at bind), and
 * every peer is checked with SO_PEERCRED: only our own uid and root are
 * served, anyone else gets an error reply and is closed.  The name is
 * unique among running VMs: a live socket at the path (connect succeeds)
 * refuses the start; a stale one (ECONNREFUSED: left by a vmlaunch that
 * was SIGKILLed) is replaced.
 *
 * Bounds, so that no client can disturb the VM: CONTROL_CLIENTS_MAX
 * connections (one more gets an error reply and is closed), a request line
 * of at most CONTROL_LINE_MAX bytes, a few requests per client per loop
 * turn, and CONTROL_QUEUE_MAX bytes queued for a client that reads
 * slowly: past that it is dropped, never waited for.
 *
 * Main thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "loop.h"
#include "monitor.h"

struct control;
struct vm_stats;

#define CONTROL_CLIENTS_MAX 16
#define CONTROL_QUEUE_MAX (256u * 1024u)
/* Requests served per client per loop turn. */
#define CONTROL_REQUESTS_PER_TURN 4

/* What the server asks of the launcher; every callback runs on the main
 * thread, in the loop. */
struct control_ops {
        void *userdata;
        /* A fresh snapshot: state, uptime, counters (the launcher's). */
        const struct vm_stats *(*stats)(void *userdata);
        pid_t (*plugin_pid)(void *userdata);
        /* 0, or -EALREADY (stopping) / -EAGAIN (not yet possible) with
         * the reply's words in the launcher's log. */
        int (*stop)(void *userdata);
        int (*kill)(void *userdata);
        int (*pause)(void *userdata, bool pause);
};

/* The runtime directory's vmlaunch/ folder: $XDG_RUNTIME_DIR/vmlaunch for
 * a user, /run/vmlaunch for root.  0, or -ENOENT (a user without
 * XDG_RUNTIME_DIR), or -ENAMETOOLONG. */
int control_socket_dir(char *buf, size_t size);
/* The socket of the VM named `name` in that directory. */
int control_socket_path(const char *name, char *buf, size_t size);

/* Creates the socket for `config` (the caller checks config->control.enabled)
 * and watches it in `epoll_fd`.  `ops` is copied.  On failure *errbuf says
 * why; -EEXIST: a VM of that name runs (a config error: nothing may start).
 * `primary` is the launcher's monitor (may be NULL), which control_monitor
 * wraps. */
int control_new(const struct vm_config *config, int epoll_fd, const struct control_ops *ops, struct monitor *primary,
                char *errbuf, size_t errlen, struct control **ret);

/* The monitor the launcher calls instead of `primary`: every callback goes
 * to `primary`, and the status events also to each client following
 * `events` (the same JSON Lines as headless mode). */
struct monitor *control_monitor(struct control *c);

/* A LOOP_CONTROL source became ready: the listener or a client. */
void control_handle(struct control *c, struct loop_source *src, uint32_t events);
/* After each loop turn: closes the clients that were dropped or are done. */
void control_reap(struct control *c);

/* Gives every client's queue a moment (at most `flush_ms`) to go out,
 * closes all, removes the socket.  NULL is fine. */
void control_free(struct control *c, unsigned flush_ms);
