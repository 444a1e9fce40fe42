#include "config_override.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

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
        { "start_timeout_ms", T_INT },
        { "vcpu_reply_timeout_ms", T_INT },
        { "lane", T_BOOL },
        { "plugin.path", T_STRING },
        { "plugin.root", T_STRING },
        { "limits.tasks", T_INT },
        { "limits.memory_mib", T_INT },
        { "limits.cgroup_parent", T_STRING },
        { "limits.nofile", T_INT },
        { "limits.connections", T_INT },
        { "limits.memory_regions", T_INT },
        { "limits.guest_memory_mib", T_INT },
        { "limits.ranges", T_INT },
        { "limits.irq_events", T_INT },
        { "sandbox.enabled", T_BOOL },
        { "sandbox.seccomp_policy", T_STRING },
        { "sandbox.seccomp_log_failures", T_BOOL },
        { "sandbox.seccomp_base", T_BOOL },
        { "control.enabled", T_BOOL },
        { "control.socket", T_STRING },
        { "network.host_ip", T_STRING },
        { "network.netmask", T_STRING },
        { "network.mac", T_STRING },
        { "network.tap_name", T_STRING },
};

static int refuse(FILE *errors, const struct config_override *o, const char *fmt, ...) _printf_(3, 4);
static int refuse(FILE *errors, const struct config_override *o, const char *fmt, ...) {
        va_list ap;

        if (!errors)
                return -EINVAL;
        fprintf(errors, "--set %s: ", o->text);
        va_start(ap, fmt);
        vfprintf(errors, fmt, ap);
        va_end(ap);
        fputc('\n', errors);
        return -EINVAL;
}

/* An integer as libconfig writes one: decimal with an optional sign, or
 * 0x hexadecimal. */
static bool parse_integer(const char *text, long long *ret) {
        bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
        const char *digits = text + (text[0] == '-' || text[0] == '+');
        char *end;
        long long v;

        if (*digits < '0' || *digits > '9')
                return false;
        errno = 0;
        v = strtoll(text, &end, hex ? 16 : 10);
        if (errno || end == text || *end)
                return false;
        *ret = v;
        return true;
}

int config_override_apply(config_t *lc, struct config_override *ov, size_t i, FILE *errors) {
        struct config_override *o = &ov[i];
        const char *eq = strchr(o->text, '='), *value, *leaf;
        _cleanup_free_ char *key = NULL;
        config_setting_t *g, *s;
        enum key_type type = T_STRING;
        bool known = false;
        long long v;

        if (!eq || eq == o->text)
                return refuse(errors, o, "expected KEY=VALUE");
        key = strndup(o->text, (size_t)(eq - o->text));
        if (!key)
                return -ENOMEM;
        value = eq + 1;
        for (size_t k = 0; k < ARRAY_SIZE(scalars); k++)
                if (strcmp(scalars[k].key, key) == 0) {
                        known = true;
                        type = scalars[k].type;
                }
        if (!known)
                return refuse(errors, o, "%s: not a scalar key that --set can override", key);
        for (size_t j = 0; j < i; j++)
                if (ov[j].key && strcmp(ov[j].key, key) == 0)
                        return refuse(errors, o, "%s: already set by --set %s", key, ov[j].text);
        g = config_root_setting(lc);
        leaf = strchr(key, '.');
        if (leaf) {
                /* scalars[] has one level of groups at most. */
                char group[64];

                snprintf(group, sizeof(group), "%.*s", (int)(leaf - key), key);
                leaf++;
                s = config_setting_get_member(g, group);
                if (s && config_setting_type(s) != CONFIG_TYPE_GROUP)
                        return refuse(errors, o, "%s: the file's %s is not a group", key, group);
                g = s ? s : config_setting_add(g, group, CONFIG_TYPE_GROUP);
                if (!g)
                        return -ENOMEM;
        } else
                leaf = key;
        if (type == T_INT && !parse_integer(value, &v))
                return refuse(errors, o, "%s: expected an integer", key);
        if (type == T_BOOL && strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
                return refuse(errors, o, "%s: expected true or false", key);
        if (config_setting_get_member(g, leaf))
                config_setting_remove(g, leaf);
        s = config_setting_add(g, leaf, type == T_INT ? CONFIG_TYPE_INT64 : type == T_BOOL ? CONFIG_TYPE_BOOL
                                                                                          : CONFIG_TYPE_STRING);
        if (!s)
                return -ENOMEM;
        if (type == T_INT)
                config_setting_set_int64(s, v);
        else if (type == T_BOOL)
                config_setting_set_bool(s, strcasecmp(value, "true") == 0);
        else
                config_setting_set_string(s, value);
        /* From here on report() names this --set for the key. */
        o->key = TAKE_PTR(key);
        return 0;
}

const struct config_override *config_override_find(const struct config_override *ov, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (ov[i].key && strcmp(ov[i].key, key) == 0)
                        return &ov[i];
        return NULL;
}
