#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define SHUTDOWN_TIMEOUT_MAX_MS 3600000u

struct override {
        const char *text;       /* "key=value" as given */
        char *key;
};

struct ctx {
        const char *file;
        FILE *errors;
        unsigned n_errors;
        struct override *ov;
        size_t n_ov;
};

enum key_type { T_INT, T_BOOL, T_STRING };

/* The scalar keys, the only ones --set may override. */
static const struct {
        const char *key;
        enum key_type type;
} scalars[] = {
        { "name", T_STRING },
        { "vcpus", T_INT },
        { "hugepages", T_BOOL },
        { "kvm_device", T_STRING },
        { "shutdown_timeout_ms", T_INT },
        { "poll_us", T_INT },
        { "plugin.path", T_STRING },
        { "plugin.root", T_STRING },
        { "sandbox.enabled", T_BOOL },
        { "sandbox.seccomp_policy", T_STRING },
        { "sandbox.seccomp_log_failures", T_BOOL },
        { "network.host_ip", T_STRING },
        { "network.netmask", T_STRING },
        { "network.mac", T_STRING },
        { "network.tap_name", T_STRING },
};

static void report(struct ctx *c, const config_setting_t *s, const char *key, const char *fmt, ...)
        _printf_(4, 5);
static void report(struct ctx *c, const config_setting_t *s, const char *key, const char *fmt, ...) {
        int line = s ? config_setting_source_line(s) : 0;
        va_list ap;

        c->n_errors++;
        if (!c->errors)
                return;
        if (s && line == 0) {
                /* Made by an override: name it instead of a line. */
                for (size_t i = 0; i < c->n_ov; i++)
                        if (strcmp(c->ov[i].key, key) == 0) {
                                fprintf(c->errors, "--set %s: ", c->ov[i].text);
                                break;
                        }
        } else if (line > 0)
                fprintf(c->errors, "%s:%d: ", c->file, line);
        else
                fprintf(c->errors, "%s: ", c->file);
        fprintf(c->errors, "%s: ", key);
        va_start(ap, fmt);
        vfprintf(c->errors, fmt, ap);
        va_end(ap);
        fputc('\n', c->errors);
}

static const char *type_name(int t) {
        switch (t) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_GROUP:
                return "a group";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        default:
                return "something else";
        }
}

/* Reports every member of group `g` whose name is not in `known`. */
static void check_keys(struct ctx *c, const config_setting_t *g, const char *prefix, const char *const known[]) {
        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
                const char *name = config_setting_name(m);
                bool ok = false;
                char key[256];

                for (size_t k = 0; known[k]; k++)
                        ok = ok || (name && strcmp(name, known[k]) == 0);
                if (ok)
                        continue;
                snprintf(key, sizeof(key), "%s%s", prefix, name ? name : "?");
                report(c, m, key, "unknown key");
        }
}

static bool want_type(struct ctx *c, const config_setting_t *s, const char *key, enum key_type t) {
        int got = config_setting_type(s);
        bool ok = (t == T_INT && (got == CONFIG_TYPE_INT || got == CONFIG_TYPE_INT64)) ||
                  (t == T_BOOL && got == CONFIG_TYPE_BOOL) || (t == T_STRING && got == CONFIG_TYPE_STRING);

        if (!ok)
                report(c, s, key, "expected %s, got %s",
                       t == T_INT ? "an integer" : t == T_BOOL ? "a boolean" : "a string", type_name(got));
        return ok;
}

static bool get_int(struct ctx *c, const config_setting_t *g, const char *name, const char *key, long long min,
                    long long max, long long *out) {
        const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
        long long v;

        if (!s || !want_type(c, s, key, T_INT))
                return false;
        v = config_setting_get_int64(s);
        if (v < min || v > max) {
                report(c, s, key, "must be between %lld and %lld, got %lld", min, max, v);
                return false;
        }
        *out = v;
        return true;
}

static void get_bool(struct ctx *c, const config_setting_t *g, const char *name, const char *key, bool *out) {
        const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;

        if (s && want_type(c, s, key, T_BOOL))
                *out = config_setting_get_bool(s);
}

/* A string member, copied, or NULL when absent or of the wrong type. */
static const config_setting_t *get_string(struct ctx *c, const config_setting_t *g, const char *name,
                                          const char *key, char **out) {
        const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;

        if (!s || !want_type(c, s, key, T_STRING))
                return NULL;
        free(*out);
        *out = strdup(config_setting_get_string(s));
        return s;
}

static bool is_absolute(struct ctx *c, const config_setting_t *s, const char *key, const char *path) {
        if (path[0] == '/')
                return true;
        report(c, s, key, "must be an absolute path, got \"%s\"", path);
        return false;
}

static void parse_plugin(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "path", "args", "root", "mounts", "gid_maps", NULL };
        const config_setting_t *s;

        if (!g) {
                report(c, NULL, "plugin", "missing: the group with the plugin's path is required");
                return;
        }
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                report(c, g, "plugin", "expected a group, got %s", type_name(config_setting_type(g)));
                return;
        }
        check_keys(c, g, "plugin.", known);

        s = get_string(c, g, "path", "plugin.path", &cfg->plugin.path);
        if (!config_setting_get_member(g, "path"))
                report(c, g, "plugin.path", "missing: the plugin executable is required");
        if (s && cfg->plugin.path) {
                struct stat st;

                if (cfg->plugin.path[0] != '/') {
                        char *abs = NULL;

                        if (asprintf(&abs, "%s/%s", cfg->dir, cfg->plugin.path) < 0)
                                abs = NULL;
                        free(cfg->plugin.path);
                        cfg->plugin.path = abs;
                }
                if (!cfg->plugin.path)
                        report(c, s, "plugin.path", "out of memory");
                else if (stat(cfg->plugin.path, &st) < 0)
                        report(c, s, "plugin.path", "%s: %s", cfg->plugin.path, strerror(errno));
                else if (!S_ISREG(st.st_mode))
                        report(c, s, "plugin.path", "%s: not a regular file", cfg->plugin.path);
                else if (access(cfg->plugin.path, X_OK) < 0)
                        report(c, s, "plugin.path", "%s: not executable", cfg->plugin.path);
        }

        if ((s = config_setting_get_member(g, "args"))) {
                int t = config_setting_type(s), n = config_setting_length(s);

                if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
                        report(c, s, "plugin.args", "expected a list of strings, got %s", type_name(t));
                else {
                        char **args = calloc((size_t)n + 1, sizeof(*args));

                        for (int i = 0; args && i < n; i++) {
                                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                                char key[64];

                                snprintf(key, sizeof(key), "plugin.args.[%d]", i);
                                if (want_type(c, e, key, T_STRING))
                                        args[cfg->plugin.n_args++] = strdup(config_setting_get_string(e));
                        }
                        if (args) {
                                free(cfg->plugin.args);
                                cfg->plugin.args = args;
                        }
                }
        }

        if ((s = get_string(c, g, "root", "plugin.root", &cfg->plugin.root)) && cfg->plugin.root &&
            is_absolute(c, s, "plugin.root", cfg->plugin.root)) {
                struct stat st;

                if (stat(cfg->plugin.root, &st) < 0)
                        report(c, s, "plugin.root", "%s: %s", cfg->plugin.root, strerror(errno));
                else if (!S_ISDIR(st.st_mode))
                        report(c, s, "plugin.root", "%s: not a directory", cfg->plugin.root);
        }

        if ((s = config_setting_get_member(g, "mounts"))) {
                static const char *const mknown[] = { "src", "dst", "writable", NULL };
                int n = config_setting_length(s);

                if (config_setting_type(s) != CONFIG_TYPE_LIST) {
                        report(c, s, "plugin.mounts", "expected a list of groups ( { src = ...; } ), got %s",
                               type_name(config_setting_type(s)));
                        n = 0;
                }
                cfg->plugin.mounts = calloc((size_t)n + 1, sizeof(*cfg->plugin.mounts));
                for (int i = 0; cfg->plugin.mounts && i < n; i++) {
                        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                        struct vm_mount *m = &cfg->plugin.mounts[cfg->plugin.n_mounts];
                        const config_setting_t *ss;
                        char prefix[64], key[96];
                        struct stat st;

                        snprintf(prefix, sizeof(prefix), "plugin.mounts.[%d].", i);
                        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                                report(c, e, "plugin.mounts", "entry %d: expected a group", i);
                                continue;
                        }
                        cfg->plugin.n_mounts++;
                        check_keys(c, e, prefix, mknown);
                        snprintf(key, sizeof(key), "%ssrc", prefix);
                        ss = get_string(c, e, "src", key, &m->src);
                        if (!config_setting_get_member(e, "src"))
                                report(c, e, key, "missing");
                        if (ss && m->src && is_absolute(c, ss, key, m->src) && stat(m->src, &st) < 0)
                                report(c, ss, key, "%s: %s", m->src, strerror(errno));
                        snprintf(key, sizeof(key), "%sdst", prefix);
                        ss = get_string(c, e, "dst", key, &m->dst);
                        if (ss && m->dst)
                                is_absolute(c, ss, key, m->dst);
                        if (!m->dst && m->src)
                                m->dst = strdup(m->src);
                        snprintf(key, sizeof(key), "%swritable", prefix);
                        get_bool(c, e, "writable", key, &m->writable);
                }
        }

        if ((s = config_setting_get_member(g, "gid_maps"))) {
                static const char *const gknown[] = { "inner", "outer", "count", NULL };
                int n = config_setting_length(s);

                if (config_setting_type(s) != CONFIG_TYPE_LIST) {
                        report(c, s, "plugin.gid_maps", "expected a list of groups ( { inner = ...; } ), got %s",
                               type_name(config_setting_type(s)));
                        n = 0;
                }
                cfg->plugin.gid_maps = calloc((size_t)n + 1, sizeof(*cfg->plugin.gid_maps));
                for (int i = 0; cfg->plugin.gid_maps && i < n; i++) {
                        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                        struct vm_gid_map *m = &cfg->plugin.gid_maps[cfg->plugin.n_gid_maps];
                        char prefix[64], key[96];
                        long long v;

                        snprintf(prefix, sizeof(prefix), "plugin.gid_maps.[%d].", i);
                        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                                report(c, e, "plugin.gid_maps", "entry %d: expected a group", i);
                                continue;
                        }
                        cfg->plugin.n_gid_maps++;
                        check_keys(c, e, prefix, gknown);
                        snprintf(key, sizeof(key), "%sinner", prefix);
                        if (!config_setting_get_member(e, "inner"))
                                report(c, e, key, "missing");
                        else if (get_int(c, e, "inner", key, 0, UINT32_MAX - 1, &v))
                                m->inner = m->outer = (uint32_t)v;
                        snprintf(key, sizeof(key), "%souter", prefix);
                        if (get_int(c, e, "outer", key, 0, UINT32_MAX - 1, &v))
                                m->outer = (uint32_t)v;
                        m->count = 1;
                        snprintf(key, sizeof(key), "%scount", prefix);
                        if (get_int(c, e, "count", key, 1, UINT32_MAX, &v))
                                m->count = (uint32_t)v;
                }
        }
}

static void parse_sandbox(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "enabled", "seccomp_policy", "seccomp_log_failures", NULL };
        const config_setting_t *s;

        if (!g)
                return;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                report(c, g, "sandbox", "expected a group, got %s", type_name(config_setting_type(g)));
                return;
        }
        check_keys(c, g, "sandbox.", known);
        get_bool(c, g, "enabled", "sandbox.enabled", &cfg->sandbox.enabled);
        get_bool(c, g, "seccomp_log_failures", "sandbox.seccomp_log_failures", &cfg->sandbox.seccomp_log_failures);
        s = get_string(c, g, "seccomp_policy", "sandbox.seccomp_policy", &cfg->sandbox.seccomp_policy);
        if (s && cfg->sandbox.seccomp_policy &&
            is_absolute(c, s, "sandbox.seccomp_policy", cfg->sandbox.seccomp_policy) &&
            access(cfg->sandbox.seccomp_policy, R_OK) < 0)
                report(c, s, "sandbox.seccomp_policy", "%s: %s", cfg->sandbox.seccomp_policy, strerror(errno));
}

static int parse_mac(const char *text, uint8_t mac[6]) {
        unsigned v[6];
        char tail;

        if (strlen(text) != 17 ||
            sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                if (text[i * 3] == ' ' || text[i * 3] == '+' || text[i * 3] == '-')
                        return -EINVAL;
                mac[i] = (uint8_t)v[i];
        }
        return 0;
}

static void parse_network(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "host_ip", "netmask", "mac", "tap_fds", "tap_name", NULL };
        const config_setting_t *ip, *mask, *mac, *fds, *name;
        char *text = NULL;

        if (!g)
                return;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                report(c, g, "network", "expected a group, got %s", type_name(config_setting_type(g)));
                return;
        }
        check_keys(c, g, "network.", known);
        ip = config_setting_get_member(g, "host_ip");
        mask = config_setting_get_member(g, "netmask");
        mac = config_setting_get_member(g, "mac");
        fds = config_setting_get_member(g, "tap_fds");
        name = config_setting_get_member(g, "tap_name");

        if ((ip || mask || mac) && (fds || name)) {
                report(c, fds ? fds : name, fds ? "network.tap_fds" : "network.tap_name",
                       "cannot be combined with host_ip/netmask/mac: either vmlaunch creates the tap, or it is given");
                return;
        }
        if (fds && name) {
                report(c, name, "network.tap_name", "cannot be combined with network.tap_fds");
                return;
        }
        if (ip || mask || mac) {
                cfg->network.mode = VM_NET_CREATE;
                if (!ip || !mask || !mac)
                        report(c, g, "network", "host_ip, netmask and mac go together: %s missing",
                               !ip ? "host_ip" : !mask ? "netmask" : "mac");
                if (ip && get_string(c, g, "host_ip", "network.host_ip", &text) &&
                    inet_pton(AF_INET, text, &cfg->network.host_ip) != 1)
                        report(c, ip, "network.host_ip", "\"%s\" is not an IPv4 address (a.b.c.d)", text);
                if (mask && get_string(c, g, "netmask", "network.netmask", &text)) {
                        if (inet_pton(AF_INET, text, &cfg->network.netmask) != 1)
                                report(c, mask, "network.netmask", "\"%s\" is not an IPv4 netmask (a.b.c.d)", text);
                        else {
                                uint32_t m = ntohl(cfg->network.netmask.s_addr);

                                /* Contiguous ones from the top. */
                                if (m & (~m >> 1))
                                        report(c, mask, "network.netmask", "\"%s\" is not a contiguous netmask",
                                               text);
                        }
                }
                if (mac && get_string(c, g, "mac", "network.mac", &text)) {
                        if (parse_mac(text, cfg->network.mac) < 0)
                                report(c, mac, "network.mac", "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)",
                                       text);
                        else if (cfg->network.mac[0] & 1)
                                report(c, mac, "network.mac", "\"%s\" is a multicast address; want unicast", text);
                        else if (!(cfg->network.mac[0] | cfg->network.mac[1] | cfg->network.mac[2] |
                                   cfg->network.mac[3] | cfg->network.mac[4] | cfg->network.mac[5]))
                                report(c, mac, "network.mac", "the all-zero address is not usable");
                }
        } else if (fds) {
                int t = config_setting_type(fds), n = config_setting_length(fds);

                cfg->network.mode = VM_NET_TAP_FDS;
                if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
                        report(c, fds, "network.tap_fds", "expected a list of fd numbers, got %s", type_name(t));
                } else if (n == 0) {
                        report(c, fds, "network.tap_fds", "empty: give at least one fd");
                } else {
                        cfg->network.tap_fds = calloc((size_t)n, sizeof(int));
                        for (int i = 0; cfg->network.tap_fds && i < n; i++) {
                                const config_setting_t *e = config_setting_get_elem(fds, (unsigned)i);
                                char key[64];
                                long long v;

                                snprintf(key, sizeof(key), "network.tap_fds.[%d]", i);
                                if (!want_type(c, e, key, T_INT))
                                        continue;
                                v = config_setting_get_int64(e);
                                if (v < 3 || v > INT_MAX)
                                        report(c, e, key, "must be an open fd number >= 3, got %lld", v);
                                else
                                        cfg->network.tap_fds[cfg->network.n_tap_fds++] = (int)v;
                        }
                }
        } else if (name) {
                cfg->network.mode = VM_NET_TAP_NAME;
                if (get_string(c, g, "tap_name", "network.tap_name", &cfg->network.tap_name) &&
                    (strlen(cfg->network.tap_name) == 0 || strlen(cfg->network.tap_name) >= IFNAMSIZ))
                        report(c, name, "network.tap_name", "must be 1 to %d characters", IFNAMSIZ - 1);
        }
        free(text);
}

static void parse_top(struct ctx *c, const config_setting_t *root, struct vm_config *cfg) {
        static const char *const known[] = { "name",   "vcpus",   "hugepages", "kvm_device", "shutdown_timeout_ms",
                                             "poll_us", "lane",   "plugin",    "sandbox",    "network",
                                             NULL };
        const config_setting_t *s;
        long long v;

        check_keys(c, root, "", known);
        get_string(c, root, "name", "name", &cfg->name);
        if (cfg->name && !cfg->name[0])
                report(c, config_setting_get_member(root, "name"), "name", "must not be empty");
        if (get_int(c, root, "vcpus", "vcpus", 1, CONFIG_VCPUS_CEILING, &v))
                cfg->vcpus = (unsigned)v;
        get_bool(c, root, "hugepages", "hugepages", &cfg->hugepages);
        if ((s = get_string(c, root, "kvm_device", "kvm_device", &cfg->kvm_device)))
                is_absolute(c, s, "kvm_device", cfg->kvm_device);
        if (get_int(c, root, "shutdown_timeout_ms", "shutdown_timeout_ms", 1, SHUTDOWN_TIMEOUT_MAX_MS, &v))
                cfg->shutdown_timeout_ms = (unsigned)v;
        if (get_int(c, root, "poll_us", "poll_us", 0, CONFIG_POLL_US_MAX, &v))
                cfg->poll_us = (unsigned)v;
        get_bool(c, root, "lane", "lane", &cfg->lane);
        parse_plugin(c, config_setting_get_member(root, "plugin"), cfg);
        parse_sandbox(c, config_setting_get_member(root, "sandbox"), cfg);
        parse_network(c, config_setting_get_member(root, "network"), cfg);
}

/* Applies "key=value" to the tree, creating groups as needed. */
static int apply_override(struct ctx *c, config_t *lc, struct override *o) {
        const char *eq = strchr(o->text, '=');
        const char *value, *leaf;
        config_setting_t *g, *s;
        enum key_type type = T_STRING;
        bool known = false;

        if (!eq || eq == o->text) {
                c->n_errors++;
                if (c->errors)
                        fprintf(c->errors, "--set %s: expected KEY=VALUE\n", o->text);
                return -EINVAL;
        }
        o->key = strndup(o->text, (size_t)(eq - o->text));
        if (!o->key)
                return -ENOMEM;
        value = eq + 1;
        for (size_t i = 0; i < ARRAY_SIZE(scalars); i++)
                if (strcmp(scalars[i].key, o->key) == 0) {
                        known = true;
                        type = scalars[i].type;
                }
        if (!known) {
                c->n_errors++;
                if (c->errors)
                        fprintf(c->errors, "--set %s: %s: not a scalar key that --set can override\n", o->text,
                                o->key);
                return -EINVAL;
        }
        g = config_root_setting(lc);
        leaf = strchr(o->key, '.');
        if (leaf) {
                char group[64];

                snprintf(group, sizeof(group), "%.*s", (int)(leaf - o->key), o->key);
                leaf++;
                s = config_setting_get_member(g, group);
                if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
                        c->n_errors++;
                        if (c->errors)
                                fprintf(c->errors, "--set %s: %s: the file's %s is not a group\n", o->text, o->key,
                                        group);
                        return -EINVAL;
                }
                g = s ? s : config_setting_add(g, group, CONFIG_TYPE_GROUP);
        } else
                leaf = o->key;
        if (config_setting_get_member(g, leaf))
                config_setting_remove(g, leaf);
        if (type == T_INT) {
                char *end;
                long long v;

                errno = 0;
                v = strtoll(value, &end, 0);
                if (errno || end == value || *end) {
                        c->n_errors++;
                        if (c->errors)
                                fprintf(c->errors, "--set %s: %s: expected an integer\n", o->text, o->key);
                        return -EINVAL;
                }
                s = config_setting_add(g, leaf, CONFIG_TYPE_INT64);
                config_setting_set_int64(s, v);
        } else if (type == T_BOOL) {
                bool b;

                if (strcmp(value, "true") == 0)
                        b = true;
                else if (strcmp(value, "false") == 0)
                        b = false;
                else {
                        c->n_errors++;
                        if (c->errors)
                                fprintf(c->errors, "--set %s: %s: expected true or false\n", o->text, o->key);
                        return -EINVAL;
                }
                s = config_setting_add(g, leaf, CONFIG_TYPE_BOOL);
                config_setting_set_bool(s, b);
        } else {
                s = config_setting_add(g, leaf, CONFIG_TYPE_STRING);
                config_setting_set_string(s, value);
        }
        return 0;
}

static char *dir_of(const char *path) {
        char *copy = strdup(path), *slash, *abs;

        if (!copy)
                return NULL;
        slash = strrchr(copy, '/');
        if (!slash)
                strcpy(copy, ".");
        else if (slash == copy)
                copy[1] = '\0';
        else
                *slash = '\0';
        abs = realpath(copy, NULL);
        free(copy);
        return abs;
}

static char *default_name(const char *path) {
        const char *base = strrchr(path, '/');
        size_t n;

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
                n -= 5;
        return strndup(base, n);
}

int config_load(const char *path, char *const *overrides, size_t n_overrides, FILE *errors,
                struct vm_config **ret_config) {
        _cleanup_(config_freep) struct vm_config *cfg = NULL;
        struct ctx c = { .file = path, .errors = errors };
        config_t lc;
        int r = 0;

        cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return -ENOMEM;
        cfg->path = strdup(path);
        cfg->dir = dir_of(path);
        cfg->vcpus = 1;
        cfg->kvm_device = strdup("/dev/kvm");
        cfg->shutdown_timeout_ms = 1000;
        cfg->poll_us = CONFIG_POLL_US_DEFAULT;
        cfg->lane = true;
        cfg->limits.tasks = CONFIG_LIMIT_TASKS_DEFAULT;
        cfg->limits.nofile = CONFIG_LIMIT_NOFILE_DEFAULT;
        cfg->limits.connections = CONFIG_LIMIT_CONNECTIONS_DEFAULT;
        cfg->limits.memory_regions = CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT;
        cfg->limits.guest_memory_mib = CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT;
        cfg->limits.ranges = CONFIG_LIMIT_RANGES_DEFAULT;
        cfg->limits.irq_events = CONFIG_LIMIT_IRQ_EVENTS_DEFAULT;
        {
                /* The machine's own default, where polling does not pay:
                 * an emulated host (tests/kvmhost sets 0).  A poll_us in
                 * the file still wins. */
                const char *e = getenv("VMLAUNCH_POLL_US");
                char *end;
                unsigned long v;

                if (e && *e) {
                        errno = 0;
                        v = strtoul(e, &end, 10);
                        if (*end || errno || v > CONFIG_POLL_US_MAX) {
                                if (errors)
                                        fprintf(errors, "VMLAUNCH_POLL_US=%s: must be between 0 and %u\n", e,
                                                CONFIG_POLL_US_MAX);
                                return -EINVAL;
                        }
                        cfg->poll_us = (unsigned)v;
                }
        }
        cfg->sandbox.enabled = true;
        cfg->plugin.args = calloc(1, sizeof(char *));
        cfg->plugin.env = calloc(1, sizeof(char *));
        if (!cfg->path || !cfg->kvm_device || !cfg->plugin.args || !cfg->plugin.env)
                return -ENOMEM;
        if (!cfg->dir) {
                r = -errno;
                if (errors)
                        fprintf(errors, "%s: %s\n", path, strerror(-r));
                return r;
        }

        config_init(&lc);
        if (!config_read_file(&lc, path)) {
                if (config_error_type(&lc) == CONFIG_ERR_FILE_IO) {
                        r = -(errno ? errno : EIO);
                        if (errors)
                                fprintf(errors, "%s: cannot read: %s\n", path, strerror(-r));
                } else {
                        r = -EINVAL;
                        if (errors)
                                fprintf(errors, "%s:%d: syntax error: %s\n", path, config_error_line(&lc),
                                        config_error_text(&lc));
                }
                config_destroy(&lc);
                return r;
        }
        c.ov = calloc(n_overrides + 1, sizeof(*c.ov));
        if (!c.ov) {
                config_destroy(&lc);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_overrides; i++) {
                c.ov[i].text = overrides[i];
                c.n_ov++;
                if (apply_override(&c, &lc, &c.ov[i]) == -ENOMEM)
                        c.n_errors++;
        }
        parse_top(&c, config_root_setting(&lc), cfg);
        if (!cfg->name)
                cfg->name = default_name(path);
        config_destroy(&lc);
        for (size_t i = 0; i < c.n_ov; i++)
                free(c.ov[i].key);
        free(c.ov);
        if (c.n_errors)
                return -EINVAL;
        *ret_config = TAKE_PTR(cfg);
        return 0;
}

void config_free(struct vm_config *cfg) {
        if (!cfg)
                return;
        free(cfg->path);
        free(cfg->dir);
        free(cfg->name);
        free(cfg->kvm_device);
        free(cfg->plugin.path);
        for (size_t i = 0; cfg->plugin.args && cfg->plugin.args[i]; i++)
                free(cfg->plugin.args[i]);
        free(cfg->plugin.args);
        for (size_t i = 0; cfg->plugin.env && cfg->plugin.env[i]; i++)
                free(cfg->plugin.env[i]);
        free(cfg->plugin.env);
        free(cfg->limits.cgroup_parent);
        free(cfg->plugin.root);
        for (size_t i = 0; i < cfg->plugin.n_mounts; i++) {
                free(cfg->plugin.mounts[i].src);
                free(cfg->plugin.mounts[i].dst);
        }
        free(cfg->plugin.mounts);
        free(cfg->plugin.gid_maps);
        free(cfg->sandbox.seccomp_policy);
        free(cfg->network.tap_fds);
        free(cfg->network.tap_name);
        free(cfg);
}

/* A libconfig string literal. */
static void print_string(FILE *out, const char *s) {
        fputc('"', out);
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;

                if (ch == '"' || ch == '\\')
                        fprintf(out, "\\%c", ch);
                else if (ch < 0x20 || ch == 0x7f)
                        fprintf(out, "\\x%02x", ch);
                else
                        fputc(ch, out);
        }
        fputc('"', out);
}

static const char *b(bool v) {
        return v ? "true" : "false";
}

int config_print(const struct vm_config *cfg, FILE *out) {
        char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];

        fprintf(out, "# resolved from %s\nname = ", cfg->path);
        print_string(out, cfg->name);
        fprintf(out, ";\nvcpus = %u;\nhugepages = %s;\nkvm_device = ", cfg->vcpus, b(cfg->hugepages));
        print_string(out, cfg->kvm_device);
        fprintf(out, ";\nshutdown_timeout_ms = %u;\npoll_us = %u;\nlane = %s;\n\nplugin = {\n  path = ",
                cfg->shutdown_timeout_ms, cfg->poll_us, cfg->lane ? "true" : "false");
        print_string(out, cfg->plugin.path);
        fputs(";\n  args = [ ", out);
        for (size_t i = 0; i < cfg->plugin.n_args; i++) {
                fputs(i ? ", " : "", out);
                print_string(out, cfg->plugin.args[i]);
        }
        fputs(" ];\n", out);
        if (cfg->plugin.root) {
                fputs("  root = ", out);
                print_string(out, cfg->plugin.root);
                fputs(";\n", out);
        } else
                fputs("  # root: a private empty directory, made and removed by vmlaunch\n", out);
        fputs("  mounts = (", out);
        for (size_t i = 0; i < cfg->plugin.n_mounts; i++) {
                fputs(i ? ",\n    { src = " : "\n    { src = ", out);
                print_string(out, cfg->plugin.mounts[i].src);
                fputs("; dst = ", out);
                print_string(out, cfg->plugin.mounts[i].dst);
                fprintf(out, "; writable = %s; }", b(cfg->plugin.mounts[i].writable));
        }
        fputs(" );\n  gid_maps = (", out);
        for (size_t i = 0; i < cfg->plugin.n_gid_maps; i++)
                fprintf(out, "%s{ inner = %u; outer = %u; count = %u; }", i ? ",\n    " : "\n    ",
                        cfg->plugin.gid_maps[i].inner, cfg->plugin.gid_maps[i].outer, cfg->plugin.gid_maps[i].count);
        fprintf(out, " );\n};\n\nsandbox = {\n  enabled = %s;\n", b(cfg->sandbox.enabled));
        if (cfg->sandbox.seccomp_policy) {
                fputs("  seccomp_policy = ", out);
                print_string(out, cfg->sandbox.seccomp_policy);
                fputs(";\n", out);
        }
        fprintf(out, "  seccomp_log_failures = %s;\n};\n", b(cfg->sandbox.seccomp_log_failures));
        switch (cfg->network.mode) {
        case VM_NET_NONE:
                fputs("\n# network: none\n", out);
                break;
        case VM_NET_CREATE:
                inet_ntop(AF_INET, &cfg->network.host_ip, ip, sizeof(ip));
                inet_ntop(AF_INET, &cfg->network.netmask, mask, sizeof(mask));
                fprintf(out,
                        "\nnetwork = {\n  host_ip = \"%s\";\n  netmask = \"%s\";\n"
                        "  mac = \"%02x:%02x:%02x:%02x:%02x:%02x\";\n};\n",
                        ip, mask, cfg->network.mac[0], cfg->network.mac[1], cfg->network.mac[2],
                        cfg->network.mac[3], cfg->network.mac[4], cfg->network.mac[5]);
                break;
        case VM_NET_TAP_FDS:
                fputs("\nnetwork = {\n  tap_fds = [ ", out);
                for (size_t i = 0; i < cfg->network.n_tap_fds; i++)
                        fprintf(out, "%s%d", i ? ", " : "", cfg->network.tap_fds[i]);
                fputs(" ];\n};\n", out);
                break;
        case VM_NET_TAP_NAME:
                fputs("\nnetwork = {\n  tap_name = ", out);
                print_string(out, cfg->network.tap_name);
                fputs(";\n};\n", out);
                break;
        }
        return ferror(out) ? -EIO : 0;
}
