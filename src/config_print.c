/* config_print: the resolved config, written back in libconfig syntax. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "launcher.h"

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

/* libconfig 1.5 reads an integer above INT_MAX without the L suffix as
 * its low 32 bits. */
static const char *wide(uint64_t v) {
        return v > INT32_MAX ? "L" : "";
}

static const char *b(bool v) {
        return v ? "true" : "false";
}

int config_print(const struct vm_config *cfg, FILE *out) {
        char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];

        /* The header is a comment: a newline in the name given would end
         * it and turn the rest into config lines. */
        fputs("# resolved from ", out);
        for (const char *p = cfg->path; *p; p++)
                fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
        fputs("\nname = ", out);
        print_string(out, cfg->name);
        fprintf(out, ";\nvcpus = %u;\nhugepages = %s;\nkvm_device = ", cfg->vcpus, b(cfg->hugepages));
        print_string(out, cfg->kvm_device);
        fprintf(out,
                ";\nshutdown_timeout_ms = %u;\nstart_timeout_ms = %u;\nvcpu_reply_timeout_ms = %u;\npoll_us = %u;\n"
                "lane = %s;\n\nplugin = {\n  path = ",
                cfg->shutdown_timeout_ms, cfg->start_timeout_ms, cfg->vcpu_reply_timeout_ms, cfg->poll_us,
                cfg->lane ? "true" : "false");
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
        fputs(" );\n  env = [ ", out);
        for (size_t i = 0; i < cfg->plugin.n_env; i++) {
                fputs(i ? ", " : "", out);
                print_string(out, cfg->plugin.env[i]);
        }
        fputs(" ];\n  gid_maps = (", out);
        for (size_t i = 0; i < cfg->plugin.n_gid_maps; i++) {
                const struct vm_gid_map *m = &cfg->plugin.gid_maps[i];

                fprintf(out, "%s{ inner = %u%s; outer = %u%s; count = %u%s; }", i ? ",\n    " : "\n    ", m->inner,
                        wide(m->inner), m->outer, wide(m->outer), m->count, wide(m->count));
        }
        fprintf(out, " );\n};\n\nlimits = {\n  tasks = %u;\n  memory_mib = %" PRIu64 "%s;\n", cfg->limits.tasks,
                cfg->limits.memory_mib, wide(cfg->limits.memory_mib));
        if (cfg->limits.cgroup_parent) {
                fputs("  cgroup_parent = ", out);
                print_string(out, cfg->limits.cgroup_parent);
                fputs(";\n", out);
        } else
                fputs("  # cgroup_parent: vmlaunch's own cgroup\n", out);
        fprintf(out,
                "  nofile = %u;\n  connections = %u;\n  memory_regions = %u;\n  guest_memory_mib = %" PRIu64
                ";\n  ranges = %u;\n  irq_events = %u;\n};\n",
                cfg->limits.nofile, cfg->limits.connections, cfg->limits.memory_regions, cfg->limits.guest_memory_mib,
                cfg->limits.ranges, cfg->limits.irq_events);
        fprintf(out, "\nsandbox = {\n  enabled = %s;\n", b(cfg->sandbox.enabled));
        if (cfg->sandbox.seccomp_policy) {
                fputs("  seccomp_policy = ", out);
                print_string(out, cfg->sandbox.seccomp_policy);
                fputs(";\n", out);
        } else {
                /* Which file the default is depends on where this binary
                 * runs from: say which one it is, as a comment, so that
                 * the output still means "the default" when read back. */
                fputs("  # seccomp_policy (default) = ", out);
                print_string(out, launcher_default_policy(NULL));
                fputs(";\n", out);
        }
        fprintf(out, "  seccomp_log_failures = %s;\n  seccomp_base = %s;\n};\n", b(cfg->sandbox.seccomp_log_failures),
                b(cfg->sandbox.seccomp_base));
        fprintf(out, "\ncontrol = {\n  enabled = %s;\n", b(cfg->control.enabled));
        if (cfg->control.socket) {
                fputs("  socket = ", out);
                print_string(out, cfg->control.socket);
                fputs(";\n", out);
        } else
                fputs("  # socket: the runtime directory's vmlaunch/<name>.sock\n", out);
        fputs("};\n", out);
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
