/* The client side of the control socket (control.h), in the vmlaunch
 * binary:
 *
 *   vmlaunch list [--json]
 *   vmlaunch ctl NAME status|stats|stop|kill|pause|resume|events [--json]
 *   vmlaunch top NAME      (control_top.c: the TUI attached; q detaches,
 *                           K twice stops the VM)
 *
 * NAME is a VM's name (its socket in control_socket_dir()), or a path
 * with a '/' (a control.socket elsewhere).  Without --json the answers
 * are tables a person reads; with it, the reply's JSON objects (for
 * stats, the same object as the headless stats event; for events, the
 * headless JSON Lines as they come).
 *
 * Each takes its arguments after the subcommand's name and returns the
 * exit status: 0 done, 1 the VM refused or could not be reached, 2 usage. */
#pragma once

#include <stddef.h>

int control_client_list(int argc, char **argv);
int control_client_ctl(int argc, char **argv);
int control_client_top(int argc, char **argv);

/* Connects to the VM `name` (a name, or a socket path with a '/'); its
 * socket's path in `path`.  0 and *ret_fd, or -errno, which
 * control_client_connect_error() puts in words. */
int control_client_connect(const char *name, char *path, size_t size, int *ret_fd);
const char *control_client_connect_error(int r);
