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

#include "config_include.h"
#include "config_override.h"
#include "config_rules.h"
#include "util.h"

#define SHUTDOWN_TIMEOUT_MAX_MS 3600000u

struct ctx {
        const char *file;       /* the top file's name in messages */
        const struct config_includes *incs;
        FILE *errors;
        unsigned n_errors;
        bool oom;               /* an allocation failed (reported): the load fails with -ENOMEM */
        struct config_override *ov;
        size_t n_ov;
};

enum key_type { T_INT, T_BOOL, T_STRING };

static void report(struct ctx *c, const config_setting_t *s, const char *key, const char *fmt, ...)
        _printf_(4, 5);
static void report(struct ctx *c, const config_setting_t *s, const char *key, const char *fmt, ...) {
        int line = s ? config_setting_source_line(s) : 0;
        const char *file = c->file;
        va_list ap;

        c->n_errors++;
        if (!c->errors)
                return;
        /* A setting from an @include'd file: libconfig knows the file by
         * the name the @include gave; messages name it as the user can
         * open it. */
        if (s && line > 0 && config_setting_source_file(s)) {
                const char *shown = config_includes_display(c->incs, config_setting_source_file(s));

                file = shown ? shown : config_setting_source_file(s);
        }
        if (s && line == 0) {
                /* Made by an override: name it instead of a line.  A
                 * --set that was refused has no key. */
                const struct config_override *o = config_override_find(c->ov, c->n_ov, key);

                /* libconfig keeps lines in 16 bits: line 65536 reads 0. */
                if (o)
                        fprintf(c->errors, "--set %s: ", o->text);
                else
                        fprintf(c->errors, "%s: ", file);
        } else if (line > 0)
                fprintf(c->errors, "%s:%d: ", file, line);
        else
                fprintf(c->errors, "%s: ", c->file);
        fprintf(c->errors, "%s: ", key);
        va_start(ap, fmt);
        vfprintf(c->errors, fmt, ap);
        va_end(ap);
        fputc('\n', c->errors);
}

/* A failed allocation for `key`: a config error like any other, and the
 * load returns -ENOMEM, never a config that silently lacks the entry. */
static void report_oom(struct ctx *c, const config_setting_t *s, const char *key) {
        c->oom = true;
        report(c, s, key, "out of memory");
}

/* `v` for a message: quoted, control bytes escaped, cut after 64 bytes. */
static const char *quoted(const char *v, char buf[static 300]) {
        size_t o = 0, i;

        buf[o++] = '"';
        for (i = 0; v[i] && i < 64; i++) {
                unsigned char ch = (unsigned char)v[i];

                if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
                        o += (size_t)sprintf(buf + o, "\\x%02x", ch);
                else
                        buf[o++] = (char)ch;
        }
        buf[o++] = '"';
        if (v[i])
                o += (size_t)sprintf(buf + o, "...");
        buf[o] = '\0';
        return buf;
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
        if (!*out) {
                report_oom(c, s, key);
                return NULL;
        }
        return s;
}

static bool is_absolute(struct ctx *c, const config_setting_t *s, const char *key, const char *path) {
        if (path[0] == '/')
                return true;
        report(c, s, key, "must be an absolute path, got \"%s\"", path);
        return false;
}

static void parse_env(struct ctx *c, const config_setting_t *s, struct vm_config *cfg) {
        int t = config_setting_type(s), n = config_setting_length(s);
        char **env;

        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
                report(c, s, "plugin.env", "expected a list of \"NAME=value\" strings, got %s", type_name(t));
                return;
        }
        env = calloc((size_t)n + 1, sizeof(*env));
        if (!env) {
                report_oom(c, s, "plugin.env");
                return;
        }
        free(cfg->plugin.env);  /* the empty default */
        cfg->plugin.env = env;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                char key[64], buf[300];
                const char *v, *why;
                size_t len = 0;
                bool dup = false;

                snprintf(key, sizeof(key), "plugin.env.[%d]", i);
                if (!want_type(c, e, key, T_STRING))
                        continue;
                v = config_setting_get_string(e);
                if ((why = config_rule_env(v, &len))) {
                        report(c, e, key, "%s: %s", quoted(v, buf), why);
                        continue;
                }
                /* Which one would win is up to execve's caller: refuse. */
                for (size_t j = 0; j < cfg->plugin.n_env && !dup; j++)
                        dup = strncmp(env[j], v, len + 1) == 0;
                if (dup) {
                        report(c, e, key, "%s: %.*s is set twice", quoted(v, buf), (int)len, v);
                        continue;
                }
                if (!(env[cfg->plugin.n_env] = strdup(v)))
                        report_oom(c, e, key);
                else
                        cfg->plugin.n_env++;
        }
}

/* A mount's target, `dst` (from `s`, named `key`), against the rules, the
 * plugin's own path and the targets before it. */
static void check_dst(struct ctx *c, const struct vm_config *cfg, const char *plugin_real,
                      const config_setting_t *s, const char *key, const char *dst, bool defaulted) {
        const char *why = config_rule_mount_dst(dst), *how = defaulted ? " (dst defaults to src)" : "";
        char buf[300];

        if (why) {
                report(c, s, key, "%s%s: %s", quoted(dst, buf), how, why);
                return;
        }
        /* The jail binds the plugin's executable at its own path first;
         * a mount there would replace it. */
        if ((cfg->plugin.path && strcmp(dst, cfg->plugin.path) == 0) || (plugin_real && strcmp(dst, plugin_real) == 0)) {
                report(c, s, key, "%s%s: the plugin's own path, where vmlaunch binds the plugin", quoted(dst, buf),
                       how);
                return;
        }
        for (size_t j = 0; j < cfg->plugin.n_mounts; j++)
                if (cfg->plugin.mounts[j].dst && strcmp(cfg->plugin.mounts[j].dst, dst) == 0) {
                        report(c, s, key, "%s%s: the target of an earlier mount (plugin.mounts.[%zu])",
                               quoted(dst, buf), how, j);
                        return;
                }
}

/* dst's default: src without trailing slashes. */
static char *dst_from_src(const char *src) {
        size_t n = strlen(src);

        while (n > 1 && src[n - 1] == '/')
                n--;
        return strndup(src, n);
}

/* One group of a list (parse_group_list): `entry` is its zeroed slot,
 * `prefix` its key ("plugin.mounts.[2].").  Returns false when the entry
 * is not to be counted. */
typedef bool (*group_parser)(struct ctx *c, const config_setting_t *e, const char *prefix, void *entry,
                             void *userdata);

/* A list of groups at `s` (named `key`; `shape` shows one for the
 * message): *ret gets a zeroed array of n + 1 entries of `size` and *ret_n
 * the count of the entries `one` kept.  An entry that is not a group, or a
 * member not in `known`, is reported.  *ret is left alone when the list
 * is empty or of another type; an allocation failure is reported. */
static void parse_group_list(struct ctx *c, const config_setting_t *s, const char *key, const char *shape,
                             const char *const *known, size_t size, void **ret, size_t *ret_n, group_parser one,
                             void *userdata) {
        int n = config_setting_length(s);
        char *v;

        if (config_setting_type(s) != CONFIG_TYPE_LIST) {
                report(c, s, key, "expected a list of groups ( %s ), got %s", shape, type_name(config_setting_type(s)));
                return;
        }
        v = calloc((size_t)n + 1, size);
        if (!v) {
                report_oom(c, s, key);
                return;
        }
        *ret = v;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "%s.[%d].", key, i);
                if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                        report(c, e, key, "entry %d: expected a group", i);
                        continue;
                }
                check_keys(c, e, prefix, known);
                if (one(c, e, prefix, v + *ret_n * size, userdata))
                        (*ret_n)++;
        }
}

struct mounts_ctx {
        const struct vm_config *cfg;
        const char *plugin_real;
};

static bool parse_mount(struct ctx *c, const config_setting_t *e, const char *prefix, void *entry, void *userdata) {
        const struct mounts_ctx *mc = userdata;
        struct vm_mount *m = entry;
        const config_setting_t *ss, *src;
        char key[96];
        char *dst = NULL;
        bool src_ok = false;
        struct stat st;

        snprintf(key, sizeof(key), "%ssrc", prefix);
        src = get_string(c, e, "src", key, &m->src);
        if (!config_setting_get_member(e, "src"))
                report(c, e, key, "missing");
        if (src && is_absolute(c, src, key, m->src)) {
                src_ok = true;
                if (stat(m->src, &st) < 0)
                        report(c, src, key, "%s: %s", m->src, strerror(errno));
        }
        /* Checked before this mount counts, so that it is compared with
         * the earlier ones only. */
        snprintf(key, sizeof(key), "%sdst", prefix);
        if ((ss = get_string(c, e, "dst", key, &dst)))
                check_dst(c, mc->cfg, mc->plugin_real, ss, key, dst, false);
        else if (!config_setting_get_member(e, "dst") && src_ok) {
                snprintf(key, sizeof(key), "%ssrc", prefix);
                if ((dst = dst_from_src(m->src)))
                        check_dst(c, mc->cfg, mc->plugin_real, src, key, dst, true);
                else
                        report_oom(c, src, key);
        }
        m->dst = dst;
        snprintf(key, sizeof(key), "%swritable", prefix);
        get_bool(c, e, "writable", key, &m->writable);
        return true;
}

static bool parse_gid_map(struct ctx *c, const config_setting_t *e, const char *prefix, void *entry,
                          void *userdata) {
        struct vm_gid_map *m = entry;
        char key[96];
        long long v;

        (void)userdata;
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
        return true;
}

/* plugin.path: made absolute against the config's directory; it must be
 * an existing executable regular file.  Returns its real path (for the
 * mount checks), or NULL. */
static char *parse_plugin_path(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        const config_setting_t *s = get_string(c, g, "path", "plugin.path", &cfg->plugin.path);
        struct stat st;
        char *real;

        if (!config_setting_get_member(g, "path"))
                report(c, g, "plugin.path", "missing: the plugin executable is required");
        if (!s)
                return NULL;
        if (cfg->plugin.path[0] != '/') {
                char *abs = NULL;

                if (asprintf(&abs, "%s/%s", cfg->dir, cfg->plugin.path) < 0)
                        abs = NULL;
                free(cfg->plugin.path);
                cfg->plugin.path = abs;
        }
        if (!cfg->plugin.path)
                report_oom(c, s, "plugin.path");
        else if (stat(cfg->plugin.path, &st) < 0)
                report(c, s, "plugin.path", "%s: %s", cfg->plugin.path, strerror(errno));
        else if (!S_ISREG(st.st_mode))
                report(c, s, "plugin.path", "%s: not a regular file", cfg->plugin.path);
        else if (access(cfg->plugin.path, X_OK) < 0)
                report(c, s, "plugin.path", "%s: not executable", cfg->plugin.path);
        else if (!(real = realpath(cfg->plugin.path, NULL)) && errno == ENOMEM)
                report_oom(c, s, "plugin.path");
        else
                return real;
        return NULL;
}

static void parse_args(struct ctx *c, const config_setting_t *s, struct vm_config *cfg) {
        int t = config_setting_type(s), n = config_setting_length(s);
        char **args;

        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
                report(c, s, "plugin.args", "expected a list of strings, got %s", type_name(t));
                return;
        }
        args = calloc((size_t)n + 1, sizeof(*args));
        if (!args) {
                report_oom(c, s, "plugin.args");
                return;
        }
        free(cfg->plugin.args);         /* the empty default */
        cfg->plugin.args = args;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                char key[64];

                snprintf(key, sizeof(key), "plugin.args.[%d]", i);
                if (!want_type(c, e, key, T_STRING))
                        continue;
                if (!(args[cfg->plugin.n_args] = strdup(config_setting_get_string(e))))
                        report_oom(c, e, key);
                else
                        cfg->plugin.n_args++;
        }
}

static void parse_root(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        const config_setting_t *s = get_string(c, g, "root", "plugin.root", &cfg->plugin.root);
        struct stat st;

        if (!s || !is_absolute(c, s, "plugin.root", cfg->plugin.root))
                return;
        if (stat(cfg->plugin.root, &st) < 0)
                report(c, s, "plugin.root", "%s: %s", cfg->plugin.root, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
                report(c, s, "plugin.root", "%s: not a directory", cfg->plugin.root);
}

static void parse_plugin(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "path", "args", "root", "mounts", "gid_maps", "env", NULL };
        static const char *const mount_keys[] = { "src", "dst", "writable", NULL };
        static const char *const gid_map_keys[] = { "inner", "outer", "count", NULL };
        _cleanup_free_ char *plugin_real = NULL;
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
        plugin_real = parse_plugin_path(c, g, cfg);
        if ((s = config_setting_get_member(g, "env")))
                parse_env(c, s, cfg);
        if ((s = config_setting_get_member(g, "args")))
                parse_args(c, s, cfg);
        parse_root(c, g, cfg);
        if ((s = config_setting_get_member(g, "mounts"))) {
                struct mounts_ctx mc = { .cfg = cfg, .plugin_real = plugin_real };

                parse_group_list(c, s, "plugin.mounts", "{ src = ...; }", mount_keys, sizeof(struct vm_mount),
                                 (void **)&cfg->plugin.mounts, &cfg->plugin.n_mounts, parse_mount, &mc);
        }
        if ((s = config_setting_get_member(g, "gid_maps")))
                parse_group_list(c, s, "plugin.gid_maps", "{ inner = ...; }", gid_map_keys,
                                 sizeof(struct vm_gid_map), (void **)&cfg->plugin.gid_maps, &cfg->plugin.n_gid_maps,
                                 parse_gid_map, NULL);
}

static void parse_sandbox(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "enabled", "seccomp_policy", "seccomp_log_failures", "seccomp_base", NULL };
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
        get_bool(c, g, "seccomp_base", "sandbox.seccomp_base", &cfg->sandbox.seccomp_base);
        s = get_string(c, g, "seccomp_policy", "sandbox.seccomp_policy", &cfg->sandbox.seccomp_policy);
        if (s && cfg->sandbox.seccomp_policy &&
            is_absolute(c, s, "sandbox.seccomp_policy", cfg->sandbox.seccomp_policy) &&
            access(cfg->sandbox.seccomp_policy, R_OK) < 0)
                report(c, s, "sandbox.seccomp_policy", "%s: %s", cfg->sandbox.seccomp_policy, strerror(errno));
}

static void parse_control(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "enabled", "socket", NULL };
        const config_setting_t *s;
        const char *why;

        if (!g)
                return;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                report(c, g, "control", "expected a group, got %s", type_name(config_setting_type(g)));
                return;
        }
        check_keys(c, g, "control.", known);
        get_bool(c, g, "enabled", "control.enabled", &cfg->control.enabled);
        s = get_string(c, g, "socket", "control.socket", &cfg->control.socket);
        if (s && cfg->control.socket && is_absolute(c, s, "control.socket", cfg->control.socket) &&
            (why = config_rule_socket_path(cfg->control.socket)))
                report(c, s, "control.socket", "%s", why);
}

static void parse_limits(struct ctx *c, const config_setting_t *g, struct vm_config *cfg) {
        static const char *const known[] = { "tasks",          "memory_mib",       "cgroup_parent",
                                             "nofile",         "connections",      "memory_regions",
                                             "guest_memory_mib", "ranges",         "irq_events",
                                             NULL };
        const struct {
                const char *name, *key;
                long long min, max;
                unsigned *out;
        } counts[] = {
                { "tasks", "limits.tasks", 0, CONFIG_LIMIT_TASKS_MAX, &cfg->limits.tasks },
                { "nofile", "limits.nofile", CONFIG_LIMIT_NOFILE_MIN, CONFIG_LIMIT_NOFILE_MAX, &cfg->limits.nofile },
                { "connections", "limits.connections", 1, CONFIG_LIMIT_CONNECTIONS_MAX, &cfg->limits.connections },
                { "memory_regions", "limits.memory_regions", 1, CONFIG_LIMIT_MEMORY_REGIONS_MAX,
                  &cfg->limits.memory_regions },
                { "ranges", "limits.ranges", 1, CONFIG_LIMIT_RANGES_MAX, &cfg->limits.ranges },
                { "irq_events", "limits.irq_events", 1, CONFIG_LIMIT_IRQ_EVENTS_MAX, &cfg->limits.irq_events },
        };
        const config_setting_t *s;
        const char *why;
        char buf[300];
        long long v;

        if (!g)
                return;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                report(c, g, "limits", "expected a group, got %s", type_name(config_setting_type(g)));
                return;
        }
        check_keys(c, g, "limits.", known);
        for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
                if (get_int(c, g, counts[i].name, counts[i].key, counts[i].min, counts[i].max, &v))
                        *counts[i].out = (unsigned)v;
        if (get_int(c, g, "memory_mib", "limits.memory_mib", 0, CONFIG_LIMIT_MEMORY_MIB_MAX, &v)) {
                if (v != 0 && v < CONFIG_LIMIT_MEMORY_MIB_MIN)
                        report(c, config_setting_get_member(g, "memory_mib"), "limits.memory_mib",
                               "must be 0 (unlimited) or at least %u, got %lld", CONFIG_LIMIT_MEMORY_MIB_MIN, v);
                else
                        cfg->limits.memory_mib = (uint64_t)v;
        }
        if (get_int(c, g, "guest_memory_mib", "limits.guest_memory_mib", 1, CONFIG_LIMIT_GUEST_MEMORY_MIB_MAX, &v))
                cfg->limits.guest_memory_mib = (uint64_t)v;
        s = get_string(c, g, "cgroup_parent", "limits.cgroup_parent", &cfg->limits.cgroup_parent);
        if (s && cfg->limits.cgroup_parent && (why = config_rule_cgroup(cfg->limits.cgroup_parent)))
                report(c, s, "limits.cgroup_parent", "%s: %s", quoted(cfg->limits.cgroup_parent, buf), why);
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
                        if (!cfg->network.tap_fds)
                                report_oom(c, fds, "network.tap_fds");
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
        static const char *const known[] = { "name",    "vcpus", "hugepages", "kvm_device", "shutdown_timeout_ms",
                                             "poll_us", "lane",  "plugin",    "limits",     "sandbox",
                                             "network", "start_timeout_ms", "vcpu_reply_timeout_ms", "control", NULL };
        const config_setting_t *s;
        const char *why;
        long long v;

        check_keys(c, root, "", known);
        if ((s = get_string(c, root, "name", "name", &cfg->name)) && cfg->name && (why = config_rule_name(cfg->name)))
                report(c, s, "name", "%s", why);
        if (get_int(c, root, "vcpus", "vcpus", 1, CONFIG_VCPUS_CEILING, &v))
                cfg->vcpus = (unsigned)v;
        get_bool(c, root, "hugepages", "hugepages", &cfg->hugepages);
        if ((s = get_string(c, root, "kvm_device", "kvm_device", &cfg->kvm_device)))
                is_absolute(c, s, "kvm_device", cfg->kvm_device);
        if (get_int(c, root, "shutdown_timeout_ms", "shutdown_timeout_ms", 1, SHUTDOWN_TIMEOUT_MAX_MS, &v))
                cfg->shutdown_timeout_ms = (unsigned)v;
        if (get_int(c, root, "poll_us", "poll_us", 0, CONFIG_POLL_US_MAX, &v))
                cfg->poll_us = (unsigned)v;
        if (get_int(c, root, "start_timeout_ms", "start_timeout_ms", 0, CONFIG_TIMEOUT_MAX_MS, &v))
                cfg->start_timeout_ms = (unsigned)v;
        if (get_int(c, root, "vcpu_reply_timeout_ms", "vcpu_reply_timeout_ms", 0, CONFIG_TIMEOUT_MAX_MS, &v))
                cfg->vcpu_reply_timeout_ms = (unsigned)v;
        get_bool(c, root, "lane", "lane", &cfg->lane);
        parse_plugin(c, config_setting_get_member(root, "plugin"), cfg);
        parse_limits(c, config_setting_get_member(root, "limits"), cfg);
        parse_sandbox(c, config_setting_get_member(root, "sandbox"), cfg);
        parse_network(c, config_setting_get_member(root, "network"), cfg);
        parse_control(c, config_setting_get_member(root, "control"), cfg);
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

/* A config with every default, named `display`, relative paths resolved
 * against `dir` (absolute). */
static int config_new(const char *display, const char *dir, FILE *errors, struct vm_config **ret) {
        _cleanup_(config_freep) struct vm_config *cfg = calloc(1, sizeof(*cfg));
        const char *e = getenv("VMLAUNCH_POLL_US");

        if (!cfg)
                return -ENOMEM;
        cfg->path = strdup(display);
        cfg->dir = strdup(dir);
        cfg->vcpus = 1;
        cfg->kvm_device = strdup("/dev/kvm");
        cfg->shutdown_timeout_ms = 1000;
        cfg->poll_us = CONFIG_POLL_US_DEFAULT;
        cfg->start_timeout_ms = CONFIG_START_TIMEOUT_DEFAULT_MS;
        cfg->lane = true;
        cfg->limits.tasks = CONFIG_LIMIT_TASKS_DEFAULT;
        cfg->limits.nofile = CONFIG_LIMIT_NOFILE_DEFAULT;
        cfg->limits.connections = CONFIG_LIMIT_CONNECTIONS_DEFAULT;
        cfg->limits.memory_regions = CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT;
        cfg->limits.guest_memory_mib = CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT;
        cfg->limits.ranges = CONFIG_LIMIT_RANGES_DEFAULT;
        cfg->limits.irq_events = CONFIG_LIMIT_IRQ_EVENTS_DEFAULT;
        cfg->sandbox.enabled = true;
        cfg->sandbox.seccomp_base = true;
        cfg->control.enabled = true;
        cfg->plugin.args = calloc(1, sizeof(char *));
        cfg->plugin.env = calloc(1, sizeof(char *));
        if (!cfg->path || !cfg->dir || !cfg->kvm_device || !cfg->plugin.args || !cfg->plugin.env)
                return -ENOMEM;
        /* The machine's own default, where polling does not pay: an
         * emulated host (tests/kvmhost sets 0).  A poll_us in the file
         * still wins. */
        if (e && *e) {
                unsigned long v;
                char *end;

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
        *ret = TAKE_PTR(cfg);
        return 0;
}

/* libconfig's tree from the text, its @includes checked first; a syntax
 * error is reported here. */
static int read_tree(struct ctx *c, const char *text, size_t len, const char *dir, const char *display_prefix,
                     struct config_includes *incs, config_t *lc) {
        const char *nul = memchr(text, '\0', len), *file;
        int r;

        if (nul || len > CONFIG_TEXT_MAX_BYTES) {
                unsigned line = 1;

                for (const char *p = text; nul && p < nul; p++)
                        line += *p == '\n';
                if (c->errors && nul)
                        fprintf(c->errors, "%s:%u: a NUL byte: not a config file\n", c->file, line);
                else if (c->errors)
                        fprintf(c->errors, "%s: larger than 4 MiB\n", c->file);
                return -EINVAL;
        }
        r = config_include_scan(text, len, c->file, dir, display_prefix, c->errors, incs);
        if (r < 0)
                return r;
        /* Relative @include names then resolve against the config's own
         * directory, as plugin.path does, whatever the current one is. */
        config_set_include_dir(lc, dir);
        if (!config_read_string(lc, text)) {
                file = config_includes_display(incs, config_error_file(lc));
                if (!file)
                        file = config_error_file(lc) ? config_error_file(lc) : c->file;
                if (c->errors)
                        fprintf(c->errors, "%s:%d: syntax error: %s\n", file, config_error_line(lc),
                                config_error_text(lc));
                return -EINVAL;
        }
        return 0;
}

/* What config_load and config_load_buffer share: `text` is NUL-terminated
 * at text[len]; `dir` is absolute. */
static int load_text(const char *text, size_t len, const char *display, const char *dir,
                     const char *display_prefix, char *const *overrides, size_t n_overrides, FILE *errors,
                     struct vm_config **ret_config) {
        _cleanup_(config_freep) struct vm_config *cfg = NULL;
        struct config_includes incs = { 0 };
        struct ctx c = { .file = display, .incs = &incs, .errors = errors };
        const char *why;
        config_t lc;
        int r;

        r = config_new(display, dir, errors, &cfg);
        if (r < 0)
                return r;
        config_init(&lc);
        r = read_tree(&c, text, len, dir, display_prefix, &incs, &lc);
        if (r == 0)
                c.ov = calloc(n_overrides + 1, sizeof(*c.ov));
        if (r == 0 && !c.ov)
                r = -ENOMEM;
        if (r < 0) {
                config_destroy(&lc);
                config_includes_free(&incs);
                return r;
        }
        for (size_t i = 0; i < n_overrides; i++) {
                c.ov[i].text = overrides[i];
                c.n_ov++;
                r = config_override_apply(&lc, c.ov, i, errors);
                if (r == -ENOMEM && errors)
                        fprintf(errors, "--set %s: out of memory\n", overrides[i]);
                if (r < 0)
                        c.n_errors++;
                r = 0;
        }
        parse_top(&c, config_root_setting(&lc), cfg);
        if (!config_lookup(&lc, "limits.connections")) {
                unsigned long n = CONFIG_LIMIT_CONNECTIONS_DEFAULT +
                                  (unsigned long)CONFIG_LIMIT_CONNECTIONS_PER_VCPU * cfg->vcpus;

                cfg->limits.connections = n < CONFIG_LIMIT_CONNECTIONS_MAX ? (unsigned)n : CONFIG_LIMIT_CONNECTIONS_MAX;
        }
        if (!cfg->name && (cfg->name = default_name(display)) && (why = config_rule_name(cfg->name))) {
                char buf[300];

                report(&c, NULL, "name", "the default from the file's name, %s, %s: set name", quoted(cfg->name, buf),
                       why);
        }
        if (!cfg->name || c.oom)
                r = -ENOMEM;
        config_destroy(&lc);
        config_includes_free(&incs);
        for (size_t i = 0; i < c.n_ov; i++)
                free(c.ov[i].key);
        free(c.ov);
        if (r < 0)
                return r;
        if (c.n_errors)
                return -EINVAL;
        *ret_config = TAKE_PTR(cfg);
        return 0;
}

int config_load(const char *path, char *const *overrides, size_t n_overrides, FILE *errors,
                struct vm_config **ret_config) {
        _cleanup_free_ char *dir = dir_of(path), *text = NULL, *prefix = NULL;
        const char *slash = strrchr(path, '/');
        size_t len;
        int r;

        if (!dir) {
                r = negative_errno();
                if (errors)
                        fprintf(errors, "%s: %s\n", path, strerror(-r));
                return r;
        }
        /* Read here rather than by libconfig: the same core then serves
         * text from memory, and the @include scan sees what libconfig
         * will. */
        r = config_read_text(path, &text, &len);
        if (r < 0) {
                if (errors)
                        fprintf(errors, "%s: cannot read: %s\n", path, r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
                return r == -EFBIG ? -EINVAL : r;
        }
        /* Included files are named in messages relative to how the top
         * one was named. */
        prefix = strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
        if (!prefix)
                return -ENOMEM;
        return load_text(text, len, path, dir, prefix, overrides, n_overrides, errors, ret_config);
}

int config_load_buffer(const char *text, size_t len, const char *display, const char *dir,
                       char *const *overrides, size_t n_overrides, FILE *errors, struct vm_config **ret_config) {
        _cleanup_free_ char *abs = realpath(dir ? dir : ".", NULL), *copy = NULL, *prefix = NULL;
        int r;

        if (!abs) {
                r = negative_errno();
                if (errors)
                        fprintf(errors, "%s: %s: %s\n", display, dir ? dir : ".", strerror(-r));
                return r;
        }
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = '\0';
        if (!dir || !*dir)
                prefix = strdup("");
        else if (asprintf(&prefix, "%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/") < 0)
                prefix = NULL;
        if (!prefix)
                return -ENOMEM;
        return load_text(copy, len, display, abs, prefix, overrides, n_overrides, errors, ret_config);
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
        free(cfg->control.socket);
        free(cfg->network.tap_fds);
        free(cfg->network.tap_name);
        free(cfg);
}
