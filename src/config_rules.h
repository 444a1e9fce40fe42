/* The value rules of config.c that need neither the file system nor
 * libconfig: VM names, environment entries, jail mount targets, cgroup
 * paths.  Pure functions: no I/O, no allocation, no global state.
 *
 * Each check returns NULL when the value is acceptable, or a constant
 * phrase saying what is wrong ("must not be empty"); the caller adds the
 * file, the line, the key and the value. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* name: what status lines, the TUI and (later) the control socket call
 * the VM. */
#define CONFIG_NAME_MAX_BYTES 64u
/* plugin.env: the kernel's limit on one "NAME=value" string, the NUL
 * included (MAX_ARG_STRLEN); a longer one fails execve with E2BIG. */
#define CONFIG_ENV_ENTRY_MAX_BYTES 131072u
/* limits.cgroup_parent: long enough for any systemd unit's subtree. */
#define CONFIG_CGROUP_PATH_MAX_BYTES 1024u

/* Non-empty, at most CONFIG_NAME_MAX_BYTES bytes, valid UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF), no control
 * character (C0, DEL, C1) and no '/'. */
const char *config_rule_name(const char *name);

/* A "NAME=value" entry for the plugin's environment: NAME matches
 * [A-Za-z_][A-Za-z0-9_]* and is not one vmlaunch sets itself
 * (CROSVM_SOCKET, VMLAUNCH_*).  *ret_name_len is the length of NAME,
 * written only on success. */
const char *config_rule_env(const char *entry, size_t *ret_name_len);

/* A bind mount's target inside the jail: absolute and in normal form (no
 * empty, "." or ".." component, no trailing '/'), not "/", not /proc or
 * below it, not one of the device nodes vmlaunch binds itself. */
const char *config_rule_mount_dst(const char *dst);

/* A cgroup path below the cgroup mount: "/" or absolute in normal form as
 * above, no control character, at most CONFIG_CGROUP_PATH_MAX_BYTES. */
const char *config_rule_cgroup(const char *path);

/* control.socket: an AF_UNIX path: absolute, shorter than sun_path
 * (CONFIG_SOCKET_PATH_MAX_BYTES with its NUL), no control character, not
 * ending in '/'. */
#define CONFIG_SOCKET_PATH_MAX_BYTES 108u
const char *config_rule_socket_path(const char *path);
