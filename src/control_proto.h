/* The control socket's messages (control.h): JSON Lines, one request and
 * one reply per line, each an object with a "version" field.
 *
 *   request  {"version": 1, "command": "stats"}
 *   reply    {"version": 1, "ok": true, "stats": {...}}
 *            {"version": 1, "ok": false, "error": "unknown command 'x'"}
 *
 * After the reply to "events", the connection carries the headless status
 * stream's lines (status.h) until either side closes it.
 *
 * Pure functions: no I/O and no global state, so that the decoder can be
 * fuzzed on its own (tests/fuzz/fuzz_control.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define CONTROL_VERSION 1
/* The longest request line, its newline included: a longer one is
 * refused and its connection closed. */
#define CONTROL_LINE_MAX 4096u

enum control_command {
        CONTROL_STATUS,         /* name, pids, state, vCPUs, uptime */
        CONTROL_STATS,          /* the stats snapshot (stats.h) */
        CONTROL_STOP,           /* the countdown, as SIGTERM */
        CONTROL_KILL,           /* the plugin is killed now, as K in the TUI */
        CONTROL_PAUSE,          /* every vCPU held (vm_hold_vcpus) */
        CONTROL_RESUME,
        CONTROL_EVENTS,         /* follow the status stream */
        _CONTROL_COMMAND_MAX,
};

/* "status", "stats", ...; NULL past the end. */
const char *control_command_name(enum control_command cmd);
/* 0 and *ret, or -EINVAL for a name that is no command. */
int control_command_from_name(const char *name, enum control_command *ret);

/* Decodes one request line of `len` bytes (its newline removed; not
 * NUL-terminated; any bytes).  0 and *ret_cmd; or -EINVAL and, in
 * *ret_error, a constant phrase saying what is wrong ("not JSON", "no
 * command", ...).  Nothing is allocated past the call. */
int control_request_parse(const char *line, size_t len, enum control_command *ret_cmd, const char **ret_error);

/* A request line for `cmd`, newline included, in buf (room for at least
 * 64 bytes).  Returns its length. */
size_t control_request_format(enum control_command cmd, char *buf, size_t size);

/* A reply object {"version": 1, "ok": ok}; NULL without memory. */
json_object *control_reply_new(bool ok);
/* {"version": 1, "ok": false, "error": what}. */
json_object *control_reply_error(const char *what);
