/* The plugin process: spawned with the main socket passed as crosvm does
 * (the fd number in CROSVM_SOCKET, the fd itself inherited), its stdout
 * and stderr captured through pipes, stdin on /dev/null.
 *
 * The child gets exactly: 0 (/dev/null), 1 and 2 (our pipes) and the
 * socket.  Everything else of ours is CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct vm_config;

struct plugin {
        pid_t pid;              /* > 0 while not reaped */
        int out_fd;             /* read ends, nonblocking, CLOEXEC */
        int err_fd;
        bool reaped;
        int wait_status;        /* from waitpid, valid once reaped */
};

#define PLUGIN_INIT { .pid = -1, .out_fd = -1, .err_fd = -1 }

/* Spawns the plugin with `sock_fd` (the plugin's end of the main socket;
 * still ours afterwards: the caller closes it).  Fails if exec fails,
 * with the exec errno and *ret_step saying which step. */
int plugin_spawn(const struct vm_config *config, int sock_fd, struct plugin *p, const char **ret_step);

/* Reaps the plugin if it has exited: 1 reaped, 0 still running, -errno. */
int plugin_try_reap(struct plugin *p);

/* SIGKILLs the plugin if it still runs, and reaps it (blocking). */
void plugin_kill_and_reap(struct plugin *p);

/* Closes the output pipes. */
void plugin_close(struct plugin *p);
