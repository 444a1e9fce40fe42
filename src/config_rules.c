#include "config_rules.h"

#include <stdint.h>
#include <string.h>

/* The length of the UTF-8 sequence at s (1..4), or 0 when it is not one
 * RFC 3629 allows.  *ret_cp is the code point. */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret_cp) {
        uint32_t cp, min;
        size_t n;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1fu;
                min = 0x80;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0fu;
                min = 0x800;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07u;
                min = 0x10000;
        } else
                return 0;
        /* A NUL ends the loop too: it is no continuation byte. */
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

const char *config_rule_name(const char *name) {
        const unsigned char *s = (const unsigned char *)name;

        if (!*s)
                return "must not be empty";
        if (strlen(name) > CONFIG_NAME_MAX_BYTES)
                return "must be at most 64 bytes long";
        while (*s) {
                uint32_t cp;
                size_t n = utf8_decode(s, &cp);

                if (n == 0)
                        return "must be valid UTF-8";
                /* Control characters (C1 included: a terminal takes 0x9b
                 * for CSI) would reach status lines and the TUI raw. */
                if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                        return "must not contain control characters";
                if (cp == '/')
                        return "must not contain '/' (it names a socket file)";
                s += n;
        }
        return NULL;
}

static bool name_start(char ch) {
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool name_char(char ch) {
        return name_start(ch) || (ch >= '0' && ch <= '9');
}

const char *config_rule_env(const char *entry, size_t *ret_name_len) {
        const char *eq = strchr(entry, '=');
        size_t n;

        if (!eq)
                return "must be NAME=value";
        n = (size_t)(eq - entry);
        if (n == 0 || !name_start(entry[0]))
                return "the name must start with a letter or '_' and hold only letters, digits and '_'";
        for (size_t i = 1; i < n; i++)
                if (!name_char(entry[i]))
                        return "the name must start with a letter or '_' and hold only letters, digits and '_'";
        if (strlen(entry) >= CONFIG_ENV_ENTRY_MAX_BYTES)
                return "longer than the kernel takes for one variable (131071 bytes)";
        /* vmlaunch sets these itself; a config that could replace them
         * would point the plugin at another socket or lie about the VM. */
        if (n == strlen("CROSVM_SOCKET") && strncmp(entry, "CROSVM_SOCKET", n) == 0)
                return "CROSVM_SOCKET is reserved: vmlaunch sets it to the plugin's socket";
        if (strncmp(entry, "VMLAUNCH_", strlen("VMLAUNCH_")) == 0)
                return "names starting with VMLAUNCH_ are reserved for vmlaunch";
        *ret_name_len = n;
        return NULL;
}

/* Absolute, and every component non-empty and neither "." nor "..", with
 * no trailing '/' ("/" alone is left to the caller). */
static const char *normal_path(const char *path) {
        const char *p = path;

        if (path[0] != '/')
                return "must be an absolute path";
        while (*p == '/') {
                const char *start = ++p;
                size_t n;

                while (*p && *p != '/')
                        p++;
                n = (size_t)(p - start);
                if (n == 0)
                        return "must not have empty components (\"//\") or end in '/'";
                if ((n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.'))
                        return "must not have \".\" or \"..\" components";
        }
        return NULL;
}

const char *config_rule_mount_dst(const char *dst) {
        static const char *const devices[] = { "/dev/full", "/dev/null", "/dev/urandom", "/dev/zero" };
        const char *why;

        if (strcmp(dst, "/") == 0)
                return "must not be \"/\": the jail's root is vmlaunch's";
        if ((why = normal_path(dst)))
                return why;
        if (strcmp(dst, "/proc") == 0 || strncmp(dst, "/proc/", 6) == 0)
                return "must not be /proc or below it: the jail mounts its own procfs there";
        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
                if (strcmp(dst, devices[i]) == 0)
                        return "must not be one of the device nodes vmlaunch binds itself "
                               "(/dev/full, /dev/null, /dev/urandom, /dev/zero)";
        return NULL;
}

const char *config_rule_cgroup(const char *path) {
        if (strlen(path) > CONFIG_CGROUP_PATH_MAX_BYTES)
                return "must be at most 1024 bytes long";
        for (const unsigned char *s = (const unsigned char *)path; *s; s++)
                if (*s < 0x20 || *s == 0x7f)
                        return "must not contain control characters";
        if (strcmp(path, "/") == 0)
                return NULL;
        return normal_path(path);
}

const char *config_rule_socket_path(const char *path) {
        size_t n = strlen(path);

        if (n >= CONFIG_SOCKET_PATH_MAX_BYTES)
                return "must be shorter than 108 bytes (the limit of a unix socket's address)";
        for (const unsigned char *s = (const unsigned char *)path; *s; s++)
                if (*s < 0x20 || *s == 0x7f)
                        return "must not contain control characters";
        if (n == 0 || path[n - 1] == '/')
                return "must name a file, not a directory";
        return NULL;
}
