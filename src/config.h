/* The VM's configuration: one validated, immutable struct built from a
 * libconfig file plus command-line overrides.  Nothing else reads the file.
 *
 * The schema is DESIGN.md's "Config" section; conf/reference.conf documents
 * every key.  Unknown keys are errors. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The kernel's hard ceiling on vCPUs per VM (KVM_MAX_VCPUS on x86 is 4096 in
 * recent kernels); the real limit is asked of KVM when the device opens. */
#define CONFIG_VCPUS_CEILING 4096u
/* poll_us: how long a vCPU round trip polls before blocking (wire.h). */
#define CONFIG_POLL_US_DEFAULT 200u
#define CONFIG_POLL_US_MAX 1000u
#define CONFIG_START_TIMEOUT_DEFAULT_MS 10000u
#define CONFIG_TIMEOUT_MAX_MS 3600000u        /* start and reply timeouts */
/* limits.*: the defaults conf/reference.conf documents. */
#define CONFIG_LIMIT_TASKS_DEFAULT 1024u
#define CONFIG_LIMIT_NOFILE_DEFAULT 1024u
/* connections: this much, and CONFIG_LIMIT_CONNECTIONS_PER_VCPU more for
 * each vCPU (a plugin may give every vCPU thread its own connection). */
#define CONFIG_LIMIT_CONNECTIONS_DEFAULT 64u
#define CONFIG_LIMIT_CONNECTIONS_PER_VCPU 2u
#define CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT 256u
#define CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT 16384u
#define CONFIG_LIMIT_RANGES_DEFAULT 4096u
#define CONFIG_LIMIT_IRQ_EVENTS_DEFAULT 256u
/* ... and their ranges (config_load refuses anything outside). */
#define CONFIG_LIMIT_TASKS_MAX 4194304u            /* the kernel's PID_MAX_LIMIT; 0 is unlimited */
#define CONFIG_LIMIT_MEMORY_MIB_MIN 16u            /* 0 is unlimited */
#define CONFIG_LIMIT_MEMORY_MIB_MAX (1ull << 40)   /* 1 EiB: bytes fit an int64 */
#define CONFIG_LIMIT_NOFILE_MIN 16u
#define CONFIG_LIMIT_NOFILE_MAX 1048576u           /* the kernel's default fs.nr_open */
#define CONFIG_LIMIT_CONNECTIONS_MAX 4096u
#define CONFIG_LIMIT_MEMORY_REGIONS_MAX 32768u
#define CONFIG_LIMIT_GUEST_MEMORY_MIB_MAX 16777216u /* 16 TiB */
#define CONFIG_LIMIT_RANGES_MAX 1048576u
#define CONFIG_LIMIT_IRQ_EVENTS_MAX 65536u

struct vm_mount {
        char *src;      /* absolute, exists at load time */
        char *dst;      /* absolute; defaults to src */
        bool writable;  /* default false: bind read-only */
};

struct vm_gid_map {
        uint32_t inner;
        uint32_t outer;
        uint32_t count; /* default 1, >= 1 */
};

enum vm_net_mode {
        VM_NET_NONE,      /* no network group, or an empty one */
        VM_NET_CREATE,    /* host_ip/netmask/mac: vmlaunch creates a tap */
        VM_NET_TAP_FDS,   /* tap_fds: taps the caller opened */
        VM_NET_TAP_NAME,  /* tap_name: a persistent tap the user owns */
};

struct vm_config {
        char *path;                  /* the config file, as given */
        char *dir;                   /* its directory, absolute */
        char *name;                  /* default: file name without ".conf" */
        unsigned vcpus;              /* 1 .. CONFIG_VCPUS_CEILING */
        bool hugepages;              /* default false */
        char *kvm_device;            /* default "/dev/kvm"; absolute */
        unsigned shutdown_timeout_ms;/* default 1000; 1 .. 3600000 */
        unsigned poll_us;            /* default 200; 0 (off) .. CONFIG_POLL_US_MAX */
        /* No Start from the plugin within this: the VM is stopped as hung
         * (launcher.h).  Default CONFIG_START_TIMEOUT_DEFAULT_MS; 0 (off) ..
         * CONFIG_TIMEOUT_MAX_MS; the launcher scales it when nested. */
        unsigned start_timeout_ms;
        /* A vCPU waiting longer than this for the plugin's answer to an
         * I/O or MMIO exit stops the VM.  Default 0 (off) .. CONFIG_TIMEOUT_MAX_MS. */
        unsigned vcpu_reply_timeout_ms;
        bool lane;                   /* default true: offer the shared-memory lane (lane.h) */

        struct {
                char *path;          /* absolute (resolved against dir), an existing regular executable file */
                char **args;         /* argv[1..], NULL-terminated; never NULL */
                size_t n_args;
                char *root;          /* absolute existing directory, or NULL: a private empty dir */
                struct vm_mount *mounts;
                size_t n_mounts;
                struct vm_gid_map *gid_maps;
                size_t n_gid_maps;
                char **env;          /* "NAME=value" added to the plugin's minimal environment; NULL-terminated, never NULL */
                size_t n_env;
        } plugin;

        /* What a plugin may make the kernel or vmlaunch hold.  0 means
         * unlimited only where a comment says so. */
        struct {
                unsigned tasks;            /* the plugin's threads + processes (cgroup pids.max); default 1024; 0: unlimited */
                uint64_t memory_mib;       /* the plugin's memory (cgroup memory.max); default 0: unlimited */
                char *cgroup_parent;       /* absolute cgroup path below the mount; NULL: vmlaunch's own cgroup */
                unsigned nofile;           /* the plugin's RLIMIT_NOFILE; default 1024 */
                unsigned connections;      /* main-socket connections at once; default 64 + 2 per vCPU */
                unsigned memory_regions;   /* guest memory regions at once; default 256 */
                uint64_t guest_memory_mib; /* their total size; default 16384 */
                unsigned ranges;           /* reserved I/O + MMIO ranges; default 4096 */
                unsigned irq_events;       /* ioevents + irqfds together; default 256 */
        } limits;

        struct {
                bool enabled;            /* default true: the plugin runs in the jail */
                char *seccomp_policy;    /* absolute path or NULL */
                bool seccomp_log_failures;
                bool seccomp_base;       /* default true: base.policy is added to the policy */
        } sandbox;

        /* The control socket (control.h): `vmlaunch list`, `ctl`, `top`. */
        struct {
                bool enabled;            /* default true */
                char *socket;            /* absolute path, or NULL: <runtime dir>/vmlaunch/<name>.sock */
        } control;

        struct {
                enum vm_net_mode mode;
                struct in_addr host_ip;  /* VM_NET_CREATE */
                struct in_addr netmask;  /* VM_NET_CREATE; must be a contiguous mask */
                uint8_t mac[6];          /* VM_NET_CREATE; unicast */
                int *tap_fds;            /* VM_NET_TAP_FDS; each >= 3 */
                size_t n_tap_fds;
                char *tap_name;          /* VM_NET_TAP_NAME; < IFNAMSIZ */
        } network;
};

/* Parses and validates `path`, then applies `overrides` ("key=value" with a
 * dotted key such as "vcpus" or "plugin.path"; only scalar keys; the value
 * is parsed as the key's type).  Each problem found is written to `errors` as
 * one line naming the file, the line and the key and saying what is expected,
 * e.g.
 *   vm.conf:3: vcpus: must be between 1 and 4096, got 0
 *   --set vcpus=x: vcpus: expected an integer
 * A --set of a key another --set already set is an error.
 *
 * @include: relative names resolve against the config file's directory;
 * every included file must be a regular file, and an error inside one
 * names that file and its line (config_include.h).
 *
 * Returns 0 and *ret_config, or -EINVAL (some problem reported), or another
 * -errno (the file could not be read; reported too).  `errors` may be NULL. */
int config_load(const char *path, char *const *overrides, size_t n_overrides,
                FILE *errors, struct vm_config **ret_config);

/* The same from config text in memory: `text` is `len` bytes, no NUL among
 * them (one is an error), not necessarily NUL-terminated; `display` names it
 * in messages (as config_load names the file) and gives the default name;
 * relative paths in it (plugin.path, @include) resolve against `dir`, or
 * against the current directory when `dir` is NULL.  Overrides, errors and
 * the result as config_load. */
int config_load_buffer(const char *text, size_t len, const char *display, const char *dir,
                       char *const *overrides, size_t n_overrides, FILE *errors, struct vm_config **ret_config);

/* Frees a config; NULL is fine. */
void config_free(struct vm_config *config);

/* Writes the resolved config in libconfig syntax, every key with its
 * effective value (defaults included), so that the output is itself a valid
 * config file describing the same VM. */
int config_print(const struct vm_config *config, FILE *out);

static inline void config_freep(struct vm_config **c) { config_free(*c); }
