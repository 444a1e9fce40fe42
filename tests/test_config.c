/* config_load: the schema, the defaults, and one clear line per problem
 * naming the file, the line and the key. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "config.h"
#include "test_util.h"
#include "util.h"

/* Allocation failures, injected: the test binary is linked with
 * -Wl,--wrap for these five (tests/CMakeLists.txt), so every call the
 * config code makes goes through them.  Armed with a countdown n, the
 * allocation after n more succeeds fails; libconfig's and libc's own
 * allocations are not ours to fail (they are not wrapped). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long alloc_countdown = -1;       /* < 0: no injection */
static bool alloc_failed;

static bool fail_alloc(void) {
        if (alloc_countdown < 0 || alloc_countdown-- > 0)
                return false;
        alloc_failed = true;
        errno = ENOMEM;
        return true;
}

void *__wrap_malloc(size_t n) {
        return fail_alloc() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
        return fail_alloc() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
        return fail_alloc() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
        return fail_alloc() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        return fail_alloc() ? NULL : __real_strndup(s, n);
}

static char dir[64];
static char plugin[128];

static void setup(void) {
        FILE *f;

        snprintf(dir, sizeof(dir), "/tmp/vmlaunch-config-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(plugin, sizeof(plugin), "%s/plugin", dir);
        f = fopen(plugin, "w");
        fputs("#!/bin/sh\n", f);
        fclose(f);
        chmod(plugin, 0755);
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* Writes `text` as DIR/vm.conf, loads it with the overrides, returns the
 * result; the error text goes to *errors (caller frees). */
static int load(const char *text, char *const *sets, size_t n_sets, struct vm_config **cfg, char **errors) {
        char path[128];
        size_t len = 0;
        FILE *f, *e;
        int r;

        snprintf(path, sizeof(path), "%s/vm.conf", dir);
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        e = open_memstream(errors, &len);
        r = config_load(path, sets, n_sets, e, cfg);
        fclose(e);
        return r;
}

/* Asserts that loading fails and that every needle is in the errors. */
static void expect_error(const char *text, const char *needle1, const char *needle2) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;
        int r = load(text, NULL, 0, &cfg, &errors);

        ck_assert_msg(r == -EINVAL, "loaded, but should fail with \"%s\"", needle1);
        ck_assert_ptr_null(cfg);
        ck_assert_msg(strstr(errors, needle1), "\"%s\" not in: %s", needle1, errors);
        if (needle2)
                ck_assert_msg(strstr(errors, needle2), "\"%s\" not in: %s", needle2, errors);
        free(errors);
}

START_TEST(test_defaults_and_relative_plugin) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        unsetenv("VMLAUNCH_POLL_US");   /* the machine's default, tested on its own */
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", NULL, 0, &cfg, &errors), 0);
        ck_assert_str_eq(cfg->name, "vm");
        ck_assert_uint_eq(cfg->vcpus, 1);
        ck_assert(!cfg->hugepages);
        ck_assert_str_eq(cfg->kvm_device, "/dev/kvm");
        ck_assert_uint_eq(cfg->shutdown_timeout_ms, 1000);
        ck_assert_uint_eq(cfg->poll_us, 200);
        ck_assert(cfg->lane);
        ck_assert(cfg->sandbox.seccomp_base);
        ck_assert_str_eq(cfg->plugin.path, plugin);    /* resolved against the file's directory */
        ck_assert_ptr_nonnull(cfg->plugin.args);
        ck_assert_ptr_null(cfg->plugin.args[0]);
        ck_assert_int_eq(cfg->network.mode, VM_NET_NONE);
        config_free(cfg);
        free(errors);
}
END_TEST

/* VMLAUNCH_POLL_US in the environment sets poll_us's default; the file
 * still wins; a bad value is an error naming it. */
START_TEST(test_poll_env_default) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        setenv("VMLAUNCH_POLL_US", "0", 1);
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", NULL, 0, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->poll_us, 0);
        config_free(cfg);
        free(errors);
        errors = NULL;
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\npoll_us = 30;\n", NULL, 0, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->poll_us, 30);
        config_free(cfg);
        free(errors);
        setenv("VMLAUNCH_POLL_US", "5000", 1);
        expect_error("plugin = { path = \"plugin\"; };\n", "VMLAUNCH_POLL_US=5000: must be between 0 and 1000", NULL);
        unsetenv("VMLAUNCH_POLL_US");
}
END_TEST

START_TEST(test_full_schema) {
        struct vm_config *cfg = NULL;
        char *errors = NULL, text[2048];

        snprintf(text, sizeof(text),
                 "name = \"full\"; vcpus = 4; hugepages = true; kvm_device = \"/dev/kvm\";\n"
                 "shutdown_timeout_ms = 2500; poll_us = 0; lane = false;\n"
                 "plugin = { path = \"%s\"; args = [ \"-v\", \"x y\" ]; root = \"%s\";\n"
                 "  mounts = ( { src = \"/usr\"; dst = \"/u\"; writable = true; }, { src = \"/etc\"; } );\n"
                 "  gid_maps = ( { inner = 1000; outer = 2000; count = 5; }, { inner = 7; } ); };\n"
                 "sandbox = { enabled = true; seccomp_log_failures = true; seccomp_base = false; };\n"
                 "network = { host_ip = \"192.168.50.1\"; netmask = \"255.255.255.0\"; mac = \"de:21:e8:47:6b:6a\"; };\n",
                 plugin, dir);
        ck_assert_msg(load(text, NULL, 0, &cfg, &errors) == 0, "%s", errors);
        ck_assert_str_eq(cfg->name, "full");
        ck_assert_uint_eq(cfg->vcpus, 4);
        ck_assert_uint_eq(cfg->poll_us, 0);
        ck_assert(!cfg->lane);
        ck_assert(cfg->hugepages);
        ck_assert_uint_eq(cfg->plugin.n_args, 2);
        ck_assert_str_eq(cfg->plugin.args[1], "x y");
        ck_assert_uint_eq(cfg->plugin.n_mounts, 2);
        ck_assert_str_eq(cfg->plugin.mounts[0].dst, "/u");
        ck_assert(cfg->plugin.mounts[0].writable);
        ck_assert_str_eq(cfg->plugin.mounts[1].dst, "/etc");   /* dst defaults to src */
        ck_assert(!cfg->plugin.mounts[1].writable);
        ck_assert_uint_eq(cfg->plugin.n_gid_maps, 2);
        ck_assert_uint_eq(cfg->plugin.gid_maps[0].outer, 2000);
        ck_assert_uint_eq(cfg->plugin.gid_maps[1].outer, 7);   /* outer defaults to inner */
        ck_assert_uint_eq(cfg->plugin.gid_maps[1].count, 1);
        ck_assert(cfg->sandbox.enabled && cfg->sandbox.seccomp_log_failures);
        ck_assert(!cfg->sandbox.seccomp_base);
        ck_assert_int_eq(cfg->network.mode, VM_NET_CREATE);
        ck_assert_uint_eq(cfg->network.mac[0], 0xde);
        ck_assert_uint_eq(cfg->network.mac[5], 0x6a);
        config_free(cfg);
        free(errors);
}
END_TEST

START_TEST(test_each_error_class) {
        char text[1024];

        expect_error("plugin = { path = \"plugin\"; };\nvcpu = 2;\n", "vm.conf:2: vcpu: unknown key", NULL);
        expect_error("plugin = { path = \"plugin\"; bogus = 1; };\n", "plugin.bogus: unknown key", NULL);
        expect_error("plugin = { path = \"plugin\"; };\nvcpus = \"two\";\n", "vm.conf:2: vcpus: expected an integer",
                     NULL);
        expect_error("plugin = { path = \"plugin\"; };\nvcpus = 0;\n", "vcpus: must be between 1 and 4096, got 0",
                     NULL);
        expect_error("plugin = { path = \"plugin\"; };\nvcpus = 5000;\n", "vcpus: must be between 1 and 4096", NULL);
        expect_error("plugin = { path = \"plugin\"; };\npoll_us = 1001;\n",
                     "vm.conf:2: poll_us: must be between 0 and 1000, got 1001", NULL);
        expect_error("plugin = { path = \"plugin\"; };\nlane = 1;\n", "vm.conf:2: lane: expected a boolean, got an integer",
                     NULL);
        expect_error("plugin = { path = \"plugin\"; };\nkvm_device = \"dev/kvm\";\n",
                     "kvm_device: must be an absolute path", NULL);
        expect_error("plugin = { path = \"missing\"; };\n", "vm.conf:1: plugin.path", "No such file");
        expect_error("plugin = { path = \"plugin\"; root = \"relative\"; };\n", "plugin.root: must be an absolute path",
                     NULL);
        expect_error("plugin = { path = \"plugin\"; mounts = ( { src = \"/nonexistent-src\"; } ); };\n",
                     "plugin.mounts.[0].src", "No such file");
        expect_error("plugin = { path = \"plugin\"; };\nnetwork = { host_ip = \"300.1.1.1\"; netmask = "
                     "\"255.255.255.0\"; mac = \"de:21:e8:47:6b:6a\"; };\n",
                     "vm.conf:2: network.host_ip", "not an IPv4 address");
        expect_error("plugin = { path = \"plugin\"; };\nnetwork = { host_ip = \"10.0.0.1\"; netmask = "
                     "\"255.0.255.0\"; mac = \"de:21:e8:47:6b:6a\"; };\n",
                     "network.netmask", "contiguous");
        expect_error("plugin = { path = \"plugin\"; };\nnetwork = { host_ip = \"10.0.0.1\"; netmask = "
                     "\"255.255.255.0\"; mac = \"de:21:e8:47:6b\"; };\n",
                     "network.mac", "not a MAC address");
        expect_error("plugin = { path = \"plugin\"; };\nnetwork = { host_ip = \"10.0.0.1\"; tap_fds = [ 5 ]; };\n",
                     "network.tap_fds", "cannot be combined");
        expect_error("plugin = { path = \"plugin\"; };\nnetwork = { tap_fds = [ 1 ]; };\n", "network.tap_fds.[0]",
                     ">= 3");
        expect_error("vcpus = 1;\n", "plugin: missing", NULL);
        expect_error("plugin = { path = \"plugin\" \n", "vm.conf:", "syntax error");
        snprintf(text, sizeof(text), "plugin = { path = \"%s/\"; };\n", dir);
        expect_error(text, "plugin.path", "not a regular file");
}
END_TEST

START_TEST(test_all_problems_reported) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;
        int lines = 0;

        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\nvcpus = 0;\nfoo = 1;\nhugepages = 3;\n", NULL, 0,
                              &cfg, &errors),
                         -EINVAL);
        for (char *p = errors; (p = strchr(p, '\n')); p++)
                lines++;
        ck_assert_msg(lines == 3, "want 3 lines, got: %s", errors);
        ck_assert_ptr_nonnull(strstr(errors, "vm.conf:4: hugepages: expected a boolean"));
        free(errors);
}
END_TEST

START_TEST(test_overrides) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;
        char *good[] = { "vcpus=3", "sandbox.enabled=true", "name=over" };
        char *bad_value[] = { "vcpus=x" };
        char *unknown[] = { "nope=1" };
        char *list[] = { "plugin.args=a" };
        char *range[] = { "vcpus=0" };

        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\nvcpus = 1;\n", good, 3, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->vcpus, 3);
        ck_assert(cfg->sandbox.enabled);
        ck_assert_str_eq(cfg->name, "over");
        config_free(cfg);
        free(errors);
        cfg = NULL;

        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", bad_value, 1, &cfg, &errors), -EINVAL);
        ck_assert_ptr_nonnull(strstr(errors, "--set vcpus=x: vcpus: expected an integer"));
        free(errors);
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", unknown, 1, &cfg, &errors), -EINVAL);
        ck_assert_ptr_nonnull(strstr(errors, "--set nope=1: nope: not a scalar key"));
        free(errors);
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", list, 1, &cfg, &errors), -EINVAL);
        ck_assert_ptr_nonnull(strstr(errors, "plugin.args: not a scalar key"));
        free(errors);
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; };\n", range, 1, &cfg, &errors), -EINVAL);
        ck_assert_ptr_nonnull(strstr(errors, "--set vcpus=0: vcpus: must be between 1 and 4096"));
        free(errors);
}
END_TEST

/* Writes `text` as DIR/name. */
static void write_file(const char *name, const char *text) {
        char path[192];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

/* Asserts that loading with the overrides fails and that needle is in the
 * errors. */
static void expect_set_error(const char *text, char *const *sets, size_t n_sets, const char *needle) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        ck_assert_msg(load(text, sets, n_sets, &cfg, &errors) == -EINVAL, "loaded, but should fail with \"%s\"",
                      needle);
        ck_assert_ptr_null(cfg);
        ck_assert_msg(strstr(errors, needle), "\"%s\" not in: %s", needle, errors);
        free(errors);
}

#define PLUGIN "plugin = { path = \"plugin\"; };\n"

START_TEST(test_env) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        ck_assert_int_eq(load("plugin = { path = \"plugin\"; env = [ \"A=1\", \"_b2=x=y\", \"EMPTY=\" ]; };\n", NULL, 0,
                              &cfg, &errors),
                         0);
        ck_assert_uint_eq(cfg->plugin.n_env, 3);
        ck_assert_str_eq(cfg->plugin.env[0], "A=1");
        ck_assert_str_eq(cfg->plugin.env[1], "_b2=x=y");
        ck_assert_str_eq(cfg->plugin.env[2], "EMPTY=");
        ck_assert_ptr_null(cfg->plugin.env[3]);
        config_free(cfg);
        free(errors);
        cfg = NULL;
        /* A list works as well as an array; none at all leaves it empty. */
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; env = ( \"A=1\" ); };\n", NULL, 0, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->plugin.n_env, 1);
        config_free(cfg);
        free(errors);
        ck_assert_int_eq(load(PLUGIN, NULL, 0, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->plugin.n_env, 0);
        ck_assert_ptr_null(cfg->plugin.env[0]);
        config_free(cfg);
        free(errors);

        expect_error("plugin = { path = \"plugin\";\n  env = [ \"A=1\", \"B=2\", \"1X=y\" ]; };\n",
                     "vm.conf:2: plugin.env.[2]: \"1X=y\": the name must", NULL);
        expect_error("plugin = { path = \"plugin\"; env = [ \"A-B=1\" ]; };\n", "plugin.env.[0]", "the name must");
        expect_error("plugin = { path = \"plugin\"; env = [ \"=1\" ]; };\n", "plugin.env.[0]", "the name must");
        expect_error("plugin = { path = \"plugin\"; env = [ \"NOEQUALS\" ]; };\n", "plugin.env.[0]",
                     "must be NAME=value");
        expect_error("plugin = { path = \"plugin\"; env = [ \"A=1\", \"A=2\" ]; };\n", "plugin.env.[1]",
                     "A is set twice");
        expect_error("plugin = { path = \"plugin\"; env = [ \"CROSVM_SOCKET=5\" ]; };\n", "plugin.env.[0]",
                     "CROSVM_SOCKET is reserved");
        expect_error("plugin = { path = \"plugin\"; env = [ \"VMLAUNCH_X=1\" ]; };\n", "plugin.env.[0]",
                     "VMLAUNCH_ are reserved");
        expect_error("plugin = { path = \"plugin\"; env = [ 1 ]; };\n", "plugin.env.[0]: expected a string", NULL);
        expect_error("plugin = { path = \"plugin\"; env = \"A=1\"; };\n", "plugin.env: expected a list", NULL);
}
END_TEST

START_TEST(test_limits) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        ck_assert_int_eq(load(PLUGIN, NULL, 0, &cfg, &errors), 0);
        ck_assert_uint_eq(cfg->limits.tasks, 1024);
        ck_assert_uint_eq(cfg->limits.memory_mib, 0);
        ck_assert_ptr_null(cfg->limits.cgroup_parent);
        ck_assert_uint_eq(cfg->limits.nofile, 1024);
        ck_assert_uint_eq(cfg->limits.connections, 64 + 2 * 1);
        ck_assert_uint_eq(cfg->limits.memory_regions, 256);
        ck_assert_uint_eq(cfg->limits.guest_memory_mib, 16384);
        ck_assert_uint_eq(cfg->limits.ranges, 4096);
        ck_assert_uint_eq(cfg->limits.irq_events, 256);
        config_free(cfg);
        free(errors);
        cfg = NULL;

        ck_assert_int_eq(load(PLUGIN "limits = { tasks = 0; memory_mib = 16; cgroup_parent = \"/system.slice/x.service\";"
                              " nofile = 16; connections = 4096; memory_regions = 32768; guest_memory_mib = 16777216;"
                              " ranges = 1048576; irq_events = 65536; };\n",
                              NULL, 0, &cfg, &errors),
                         0);
        ck_assert_uint_eq(cfg->limits.tasks, 0);
        ck_assert_uint_eq(cfg->limits.memory_mib, 16);
        ck_assert_str_eq(cfg->limits.cgroup_parent, "/system.slice/x.service");
        ck_assert_uint_eq(cfg->limits.nofile, 16);
        ck_assert_uint_eq(cfg->limits.connections, 4096);
        ck_assert_uint_eq(cfg->limits.memory_regions, 32768);
        ck_assert_uint_eq(cfg->limits.guest_memory_mib, 16777216);
        ck_assert_uint_eq(cfg->limits.ranges, 1048576);
        ck_assert_uint_eq(cfg->limits.irq_events, 65536);
        config_free(cfg);
        free(errors);
        cfg = NULL;
        ck_assert_int_eq(load(PLUGIN "limits = { memory_mib = 1099511627777L; cgroup_parent = \"/\"; };\n", NULL, 0, &cfg,
                              &errors),
                         -EINVAL);
        ck_assert_msg(strstr(errors, "limits.memory_mib: must be between 0 and"), "%s", errors);
        free(errors);
        ck_assert_int_eq(load(PLUGIN "limits = { memory_mib = 1099511627776L; cgroup_parent = \"/\"; };\n", NULL, 0, &cfg,
                              &errors),
                         0);
        ck_assert_uint_eq(cfg->limits.memory_mib, 1ull << 40);
        config_free(cfg);
        free(errors);

        expect_error(PLUGIN "limits = { tasks = 4194305; };\n", "vm.conf:2: limits.tasks: must be between 0 and 4194304",
                     NULL);
        expect_error(PLUGIN "limits = { tasks = -1; };\n", "limits.tasks: must be between 0 and 4194304", NULL);
        expect_error(PLUGIN "limits = { memory_mib = 15; };\n", "limits.memory_mib: must be 0 (unlimited) or at least 16",
                     NULL);
        expect_error(PLUGIN "limits = { nofile = 15; };\n", "limits.nofile: must be between 16 and 1048576", NULL);
        expect_error(PLUGIN "limits = { nofile = 1048577; };\n", "limits.nofile: must be between 16 and 1048576", NULL);
        expect_error(PLUGIN "limits = { connections = 0; };\n", "limits.connections: must be between 1 and 4096", NULL);
        expect_error(PLUGIN "limits = { connections = 4097; };\n", "limits.connections: must be between 1 and 4096",
                     NULL);
        expect_error(PLUGIN "limits = { memory_regions = 32769; };\n", "limits.memory_regions: must be between 1 and 32768",
                     NULL);
        expect_error(PLUGIN "limits = { guest_memory_mib = 0; };\n",
                     "limits.guest_memory_mib: must be between 1 and 16777216", NULL);
        expect_error(PLUGIN "limits = { ranges = 1048577; };\n", "limits.ranges: must be between 1 and 1048576", NULL);
        expect_error(PLUGIN "limits = { irq_events = 65537; };\n", "limits.irq_events: must be between 1 and 65536",
                     NULL);
        expect_error(PLUGIN "limits = { tasks = \"many\"; };\n", "limits.tasks: expected an integer", NULL);
        expect_error(PLUGIN "limits = { task = 5; };\n", "vm.conf:2: limits.task: unknown key", NULL);
        expect_error(PLUGIN "limits = 5;\n", "limits: expected a group", NULL);
        expect_error(PLUGIN "limits = { cgroup_parent = \"system.slice\"; };\n", "limits.cgroup_parent",
                     "must be an absolute path");
        expect_error(PLUGIN "limits = { cgroup_parent = \"/a/../b\"; };\n", "limits.cgroup_parent", "\"..\"");
        expect_error(PLUGIN "limits = { cgroup_parent = \"/a//b\"; };\n", "limits.cgroup_parent", "\"//\"");
        expect_error(PLUGIN "limits = { cgroup_parent = \"/a/\"; };\n", "limits.cgroup_parent", "end in '/'");
        expect_error(PLUGIN "limits = { cgroup_parent = \"/a\\nb\"; };\n", "limits.cgroup_parent", "control");
}
END_TEST

/* Every scalar key, limits.* and lane included, takes --set with its
 * type; malformed ones are refused one line each, never a crash. */
START_TEST(test_set_every_scalar) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;
        char *sets[] = { "lane=false", "limits.tasks=7", "limits.memory_mib=0x20", "limits.cgroup_parent=/a.slice",
                         "limits.nofile=99", "limits.connections=3", "limits.memory_regions=4",
                         "limits.guest_memory_mib=5", "limits.ranges=6", "limits.irq_events=8", "hugepages=TRUE" };

        ck_assert_msg(load(PLUGIN, sets, ARRAY_SIZE(sets), &cfg, &errors) == 0, "%s", errors);
        ck_assert(!cfg->lane);
        ck_assert(cfg->hugepages);
        ck_assert_uint_eq(cfg->limits.tasks, 7);
        ck_assert_uint_eq(cfg->limits.memory_mib, 32);
        ck_assert_str_eq(cfg->limits.cgroup_parent, "/a.slice");
        ck_assert_uint_eq(cfg->limits.nofile, 99);
        ck_assert_uint_eq(cfg->limits.connections, 3);
        ck_assert_uint_eq(cfg->limits.memory_regions, 4);
        ck_assert_uint_eq(cfg->limits.guest_memory_mib, 5);
        ck_assert_uint_eq(cfg->limits.ranges, 6);
        ck_assert_uint_eq(cfg->limits.irq_events, 8);
        config_free(cfg);
        free(errors);
}
END_TEST

START_TEST(test_set_malformed) {
        char *crash[] = { "vcpus", "vcpus=0" };
        char *twice[] = { "vcpus=2", "vcpus=3" };
        char *range[] = { "limits.nofile=2" };
        char *group[] = { "limits.tasks=5" };

        /* A refused --set has no key; an error on a key named by a later
         * one compared against it (strcmp(NULL)). */
        expect_set_error(PLUGIN, crash, 2, "--set vcpus=0: vcpus: must be between 1 and 4096");
        expect_set_error(PLUGIN, crash, 2, "--set vcpus: expected KEY=VALUE");
        expect_set_error(PLUGIN, twice, 2, "--set vcpus=3: vcpus: already set by --set vcpus=2");
        expect_set_error(PLUGIN, (char *[]){ "=1" }, 1, "--set =1: expected KEY=VALUE");
        expect_set_error(PLUGIN, (char *[]){ "vcpus=" }, 1, "--set vcpus=: vcpus: expected an integer");
        expect_set_error(PLUGIN, (char *[]){ "vcpus=010x" }, 1, "vcpus: expected an integer");
        expect_set_error(PLUGIN, (char *[]){ "vcpus= 1" }, 1, "vcpus: expected an integer");
        expect_set_error(PLUGIN, (char *[]){ "lane=yes" }, 1, "--set lane=yes: lane: expected true or false");
        expect_set_error(PLUGIN, (char *[]){ ".x=1" }, 1, "--set .x=1: .x: not a scalar key");
        expect_set_error(PLUGIN, (char *[]){ "plugin.=1" }, 1, "plugin.: not a scalar key");
        expect_set_error(PLUGIN, (char *[]){ "a.b.c=1" }, 1, "a.b.c: not a scalar key");
        expect_set_error(PLUGIN, (char *[]){ "plugin=1" }, 1, "plugin: not a scalar key");
        expect_set_error(PLUGIN, (char *[]){ "plugin.env=A=1" }, 1, "plugin.env: not a scalar key");
        expect_set_error(PLUGIN, range, 1, "--set limits.nofile=2: limits.nofile: must be between 16 and 1048576");
        expect_set_error(PLUGIN "limits = 3;\n", group, 1, "--set limits.tasks=5: limits.tasks: the file's limits is not a group");
        expect_set_error(PLUGIN, (char *[]){ "name=a/b" }, 1, "--set name=a/b: name: must not contain '/'");
}
END_TEST

START_TEST(test_mount_targets) {
        static const struct {
                const char *dst, *why;
        } bad[] = {
                { "relative", "must be an absolute path" },
                { "/", "must not be \"/\"" },
                { "/a/../b", "\"..\"" },
                { "/a/./b", "\".\"" },
                { "/..", "\"..\"" },
                { "/a//b", "\"//\"" },
                { "/a/", "end in '/'" },
                { "/proc", "/proc" },
                { "/proc/self", "/proc" },
                { "/dev/null", "device nodes" },
                { "/dev/zero", "device nodes" },
                { "/dev/full", "device nodes" },
                { "/dev/urandom", "device nodes" },
        };
        struct vm_config *cfg = NULL;
        char *errors = NULL, text[512], needle[128];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(text, sizeof(text), "plugin = { path = \"plugin\";\n mounts = ( { src = \"/usr\"; dst = \"%s\"; } ); };\n",
                         bad[i].dst);
                snprintf(needle, sizeof(needle), "vm.conf:2: plugin.mounts.[0].dst: \"%s\": ", bad[i].dst);
                expect_error(text, needle, bad[i].why);
        }
        /* Not the plugin itself, not twice the same target. */
        snprintf(text, sizeof(text), "plugin = { path = \"plugin\"; mounts = ( { src = \"/usr\"; dst = \"%s\"; } ); };\n",
                 plugin);
        expect_error(text, "plugin.mounts.[0].dst", "the plugin's own path");
        expect_error("plugin = { path = \"plugin\"; mounts = ( { src = \"/usr\"; dst = \"/x\"; }, { src = \"/etc\"; "
                     "dst = \"/x\"; } ); };\n",
                     "plugin.mounts.[1].dst: \"/x\"", "earlier mount");
        expect_error("plugin = { path = \"plugin\"; mounts = ( { src = \"/usr\"; }, { src = \"/etc\"; dst = \"/usr\"; } ); };\n",
                     "plugin.mounts.[1].dst: \"/usr\"", "earlier mount");
        /* dst defaults to src: then src is the key named. */
        expect_error("plugin = { path = \"plugin\"; mounts = ( { src = \"/proc\"; } ); };\n",
                     "plugin.mounts.[0].src: \"/proc\" (dst defaults to src)", "/proc");
        /* ... without its trailing slashes. */
        ck_assert_int_eq(load("plugin = { path = \"plugin\"; mounts = ( { src = \"/usr//\"; }, { src = \"/etc\"; dst = "
                              "\"/usr/lib/x\"; } ); };\n",
                              NULL, 0, &cfg, &errors),
                         0);
        ck_assert_str_eq(cfg->plugin.mounts[0].dst, "/usr");
        config_free(cfg);
        free(errors);
}
END_TEST

START_TEST(test_name) {
        static const struct {
                const char *text, *why;
        } bad[] = {
                { "name = \"\";\n", "name: must not be empty" },
                { "name = \"a/b\";\n", "name: must not contain '/'" },
                { "name = \"a\\x1bb\";\n", "name: must not contain control characters" },
                { "name = \"a\\x7f\";\n", "name: must not contain control characters" },
                { "name = \"a\\xc2\\x9b\";\n", "name: must not contain control characters" },    /* C1 CSI */
                { "name = \"a\\xff\";\n", "name: must be valid UTF-8" },
                { "name = \"a\\xc3\";\n", "name: must be valid UTF-8" },                        /* cut short */
                { "name = \"\\xc0\\xaf\";\n", "name: must be valid UTF-8" },                   /* overlong '/' */
                { "name = \"\\xed\\xa0\\x80\";\n", "name: must be valid UTF-8" },              /* surrogate */
                { "name = \"\\xf4\\x90\\x80\\x80\";\n", "name: must be valid UTF-8" },         /* > U+10FFFF */
                { "name = \"0123456789012345678901234567890123456789012345678901234567890123x\";\n",
                  "name: must be at most 64 bytes long" },
        };
        struct vm_config *cfg = NULL;
        char *errors = NULL, text[256];

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(text, sizeof(text), "%s%s", PLUGIN, bad[i].text);
                expect_error(text, "vm.conf:2: ", bad[i].why);
        }
        /* 64 bytes, multi-byte characters and spaces are fine. */
        ck_assert_int_eq(load(PLUGIN "name = \"h\\xc3\\xa9llo w\\xe2\\x82\\xac 0123456789012345678901234567890123456789012345678901\";\n",
                              NULL, 0, &cfg, &errors),
                         0);
        ck_assert_uint_eq(strlen(cfg->name), 64);
        config_free(cfg);
        free(errors);
}
END_TEST

/* The default name comes from the file's name, and must obey the same
 * rule. */
START_TEST(test_default_name_checked) {
        char path[192], *errors = NULL;
        struct vm_config *cfg = NULL;
        size_t len = 0;
        FILE *e;

        snprintf(path, sizeof(path), "%s/%s.conf", dir, "a-very-long-file-name-0123456789-0123456789-0123456789-0123456789");
        write_file("a-very-long-file-name-0123456789-0123456789-0123456789-0123456789.conf", PLUGIN);
        e = open_memstream(&errors, &len);
        ck_assert_int_eq(config_load(path, NULL, 0, e, &cfg), -EINVAL);
        fclose(e);
        ck_assert_msg(strstr(errors, "name: the default from the file's name"), "%s", errors);
        ck_assert_msg(strstr(errors, "at most 64 bytes"), "%s", errors);
        free(errors);
}
END_TEST

/* An error inside an included file names that file and its own line; a
 * syntax error too. */
START_TEST(test_include_errors_name_the_file) {
        write_file("common.conf", "# shared\n\nvcpus = 0;\n");
        expect_error(PLUGIN "@include \"common.conf\"\n", "/common.conf:3: vcpus: must be between 1 and 4096", NULL);
        write_file("broken.conf", "\nvcpus = ;\n");
        expect_error(PLUGIN "@include \"broken.conf\"\n", "/broken.conf:2: syntax error", NULL);
        /* Nested: the innermost file is named. */
        write_file("outer.conf", "@include \"inner.conf\"\n");
        write_file("inner.conf", "\n\n\nbogus = 1;\n");
        expect_error(PLUGIN "@include \"outer.conf\"\n", "/inner.conf:4: bogus: unknown key", NULL);
}
END_TEST

/* Relative names resolve against the config's directory, not the
 * current one. */
START_TEST(test_include_relative_to_config) {
        struct vm_config *cfg = NULL;
        char *errors = NULL, cwd[4096];

        mkdir(strcat(strcpy(cwd, dir), "/sub"), 0755);
        write_file("sub/more.conf", "vcpus = 3;\n");
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
        ck_assert_int_eq(chdir("/"), 0);
        ck_assert_msg(load(PLUGIN "@include \"sub/more.conf\"\n", NULL, 0, &cfg, &errors) == 0, "%s", errors);
        ck_assert_int_eq(chdir(cwd), 0);
        ck_assert_uint_eq(cfg->vcpus, 3);
        config_free(cfg);
        free(errors);
}
END_TEST

/* A FIFO hung libconfig; a directory failed naming no file.  Anything but
 * a regular file is refused, naming the include and where it is. */
START_TEST(test_include_not_regular) {
        char path[192];

        snprintf(path, sizeof(path), "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        expect_error(PLUGIN "\n@include \"fifo\"\n", "vm.conf:3: @include \"fifo\": ", "not a regular file (a FIFO)");
        snprintf(path, sizeof(path), "%s/adir", dir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        expect_error(PLUGIN "@include \"adir\"\n", "vm.conf:2: @include \"adir\": ", "not a regular file (a directory)");
        expect_error(PLUGIN "@include \"\"\n", "vm.conf:2: @include \"\": ", "a directory");
        expect_error(PLUGIN "@include \"../../../../../../dev/null\"\n", "@include \"../../../../../../dev/null\"",
                     "a character device");
        expect_error(PLUGIN "@include \"missing\"\n", "vm.conf:2: @include \"missing\": ", "No such file");
        /* In an included file: named with its own line. */
        write_file("mid.conf", "\n@include \"fifo\"\n");
        expect_error(PLUGIN "@include \"mid.conf\"\n", "/mid.conf:2: @include \"fifo\"", "a FIFO");
        /* libconfig 1.5 puts the include directory before absolute names. */
        expect_error(PLUGIN "@include \"/etc/hostname\"\n", "@include \"/etc/hostname\": libconfig", "absolute");
        /* A cycle stops at the depth cap. */
        write_file("self.conf", "@include \"self.conf\"\n");
        expect_error(PLUGIN "@include \"self.conf\"\n", "self.conf:1: @include \"self.conf\": nested more than 8 deep",
                     NULL);
}
END_TEST

/* The scan sees an @include exactly where libconfig's lexer does: at the
 * start of a line outside comments and strings, with the lexer's state
 * carried out of an included file into the file that included it. */
START_TEST(test_include_lexer_states) {
        struct vm_config *cfg = NULL;
        char path[192], *errors = NULL;

        snprintf(path, sizeof(path), "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        /* Not directives: libconfig would not open these. */
        ck_assert_msg(load(PLUGIN "/*\n@include \"fifo\"\n*/\nkvm_device = \"/x\n@include \\\"fifo\\\"\n\";\n# @include \"fifo\"\n",
                           NULL, 0, &cfg, &errors) == 0,
                      "%s", errors);
        config_free(cfg);
        free(errors);
        cfg = NULL;
        /* Directives: indented, tab-separated, after a closed comment. */
        expect_error(PLUGIN " \t@include\t\"fifo\"\n", "@include \"fifo\"", "a FIFO");
        expect_error(PLUGIN "/* x */\n@include \"fifo\"\n", "@include \"fifo\"", "a FIFO");
        expect_error(PLUGIN "@include \"fi\\\\fo\"\n", "@include \"fi\\fo\"", "No such file");
        /* An included file that ends inside a string: the parent's next
         * quote closes it, and the line after is a directive again. */
        write_file("open.conf", "name = \"");
        expect_error(PLUGIN "@include \"open.conf\"\n\"\n@include \"fifo\"\n;\n", "vm.conf:4: @include \"fifo\"",
                     "a FIFO");
        /* ... and one that ends inside a comment hides the parent's. */
        write_file("comment.conf", "/*");
        ck_assert_msg(load(PLUGIN "@include \"comment.conf\"\n@include \"fifo\"\n*/\n", NULL, 0, &cfg, &errors) == 0, "%s",
                      errors);
        config_free(cfg);
        free(errors);
}
END_TEST

/* config_load_buffer: text from memory, named as asked, relative paths
 * against the given directory or the current one. */
START_TEST(test_load_buffer) {
        static const char text[] = "plugin = { path = \"plugin\"; };\nvcpus = 2;\n@include \"inc.conf\"\n";
        struct vm_config *cfg = NULL;
        char *errors = NULL, cwd[4096];
        size_t len = 0;
        FILE *e;

        write_file("inc.conf", "hugepages = true;\n");
        ck_assert_int_eq(config_load_buffer(text, strlen(text), "mem", dir, NULL, 0, NULL, &cfg), 0);
        ck_assert_uint_eq(cfg->vcpus, 2);
        ck_assert(cfg->hugepages);
        ck_assert_str_eq(cfg->plugin.path, plugin);
        ck_assert_str_eq(cfg->name, "mem");
        config_free(cfg);
        cfg = NULL;

        /* NULL: the current directory. */
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
        ck_assert_int_eq(chdir(dir), 0);
        ck_assert_int_eq(config_load_buffer(text, strlen(text), "mem", NULL, NULL, 0, NULL, &cfg), 0);
        ck_assert_int_eq(chdir(cwd), 0);
        ck_assert(cfg->hugepages);
        config_free(cfg);
        cfg = NULL;

        /* Not NUL-terminated: only len bytes count.  Errors name the
         * display name; --set works as for a file. */
        e = open_memstream(&errors, &len);
        ck_assert_int_eq(config_load_buffer("vcpus = 0;\nvcpus = 1;", 10, "<memory>", dir, (char *[]){ "lane=1" }, 1, e, &cfg),
                         -EINVAL);
        fclose(e);
        ck_assert_msg(strstr(errors, "<memory>:1: vcpus: must be between 1 and 4096"), "%s", errors);
        ck_assert_msg(strstr(errors, "--set lane=1: lane: expected true or false"), "%s", errors);
        ck_assert_msg(strstr(errors, "plugin: missing"), "%s", errors);
        free(errors);
        errors = NULL;

        /* A NUL byte inside the text is an error, not the end of it. */
        e = open_memstream(&errors, &len);
        ck_assert_int_eq(config_load_buffer("plugin = { path = \"plugin\"; };\n\0vcpus = 0;\n", 44, "mem", dir, NULL, 0, e,
                                            &cfg),
                         -EINVAL);
        fclose(e);
        ck_assert_msg(strstr(errors, "mem:2: a NUL byte"), "%s", errors);
        free(errors);
}
END_TEST

/* libconfig 1.5 keeps the low 32 bits of a wider integer without the L
 * suffix, silently: such a literal is an error naming it. */
START_TEST(test_wide_integers) {
        struct vm_config *cfg = NULL;
        char *errors = NULL;

        expect_error(PLUGIN "vcpus = 4294967297;\n", "vm.conf:2: 4294967297: libconfig", "write 4294967297L");
        expect_error(PLUGIN "limits = { memory_mib = 2147483648; };\n", "vm.conf:2: 2147483648:", NULL);
        expect_error(PLUGIN "vcpus = -2147483649;\n", "vm.conf:2: -2147483649:", NULL);
        expect_error(PLUGIN "vcpus = 0x100000001;\n", "vm.conf:2: 0x100000001:", NULL);
        write_file("wide.conf", "\nvcpus = 4294967297;\n");
        expect_error(PLUGIN "@include \"wide.conf\"\n", "/wide.conf:2: 4294967297:", NULL);
        /* Not integers, or written right. */
        ck_assert_msg(load(PLUGIN "limits = { memory_mib = 4294967312L; };\nname = \"n4294967297\";\n"
                                  "# 4294967297\nkvm_device = \"/dev/4294967297\";\n",
                           NULL, 0, &cfg, &errors) == 0,
                      "%s", errors);
        ck_assert_uint_eq(cfg->limits.memory_mib, 4294967312ull);
        config_free(cfg);
        free(errors);
        cfg = NULL;
        ck_assert_int_eq(load(PLUGIN "vcpus = 2147483647;\n", NULL, 0, &cfg, &errors), -EINVAL);
        ck_assert_msg(strstr(errors, "vcpus: must be between 1 and 4096, got 2147483647"), "%s", errors);
        free(errors);
}
END_TEST

START_TEST(test_print_round_trip) {
        struct vm_config *a = NULL, *b = NULL;
        char *errors = NULL, *printed = NULL, text[2048];
        size_t len = 0;
        FILE *f;

        snprintf(text, sizeof(text),
                 "name = \"q\\\"uote\"; vcpus = 2; lane = false;\n"
                 "plugin = { path = \"plugin\"; args = [ \"a\\\\b\" ]; mounts = ( { src = \"/usr\"; } );\n"
                 "  env = [ \"A=\\\"q\\\" \\\\x\", \"B=\" ];\n"
                 "  gid_maps = ( { inner = 5; outer = 6; count = 2; }, { inner = 4294967294L; count = 4294967295L; } ); };\n"
                 "network = { tap_name = \"vmtap0\"; };\n"
                 "limits = { tasks = 0; memory_mib = 1099511627776L; cgroup_parent = \"/x.slice\"; nofile = 17;\n"
                 "  connections = 2; memory_regions = 3; guest_memory_mib = 16777216; ranges = 5; irq_events = 6; };\n");
        ck_assert_msg(load(text, NULL, 0, &a, &errors) == 0, "%s", errors);
        free(errors);
        f = open_memstream(&printed, &len);
        ck_assert_int_eq(config_print(a, f), 0);
        fclose(f);
        ck_assert_msg(load(printed, NULL, 0, &b, &errors) == 0, "%s\n%s", errors, printed);
        ck_assert_str_eq(a->name, b->name);
        ck_assert_uint_eq(a->vcpus, b->vcpus);
        ck_assert(!b->lane);
        ck_assert_str_eq(a->plugin.path, b->plugin.path);
        ck_assert_str_eq(a->plugin.args[0], b->plugin.args[0]);
        ck_assert_str_eq(a->plugin.mounts[0].dst, b->plugin.mounts[0].dst);
        ck_assert_uint_eq(b->plugin.gid_maps[0].count, 2);
        ck_assert_uint_eq(b->plugin.gid_maps[1].outer, 4294967294u);
        ck_assert_uint_eq(b->plugin.gid_maps[1].count, 4294967295u);
        ck_assert_int_eq(b->network.mode, VM_NET_TAP_NAME);
        ck_assert_str_eq(b->network.tap_name, "vmtap0");
        ck_assert_uint_eq(b->plugin.n_env, 2);
        ck_assert_str_eq(b->plugin.env[0], "A=\"q\" \\x");
        ck_assert_str_eq(b->plugin.env[1], "B=");
        ck_assert_uint_eq(b->limits.tasks, 0);
        ck_assert_uint_eq(b->limits.memory_mib, 1ull << 40);
        ck_assert_str_eq(b->limits.cgroup_parent, "/x.slice");
        ck_assert_uint_eq(b->limits.nofile, 17);
        ck_assert_uint_eq(b->limits.connections, 2);
        ck_assert_uint_eq(b->limits.memory_regions, 3);
        ck_assert_uint_eq(b->limits.guest_memory_mib, 16777216);
        ck_assert_uint_eq(b->limits.ranges, 5);
        ck_assert_uint_eq(b->limits.irq_events, 6);
        config_free(a);
        config_free(b);
        free(errors);
        free(printed);
}
END_TEST

/* Every allocation of a load, failed in turn: the load fails with
 * -ENOMEM and says "out of memory", never returns a config that silently
 * lacks an argument, a mount, a gid map or a tap fd.  The run where no injected
 * failure is reached loads everything. */
START_TEST(test_allocation_failures) {
        static const char text[] =
                "plugin = {\n"
                "  path = \"/bin/sh\";\n"
                "  args = [ \"-c\", \"exit 0\", \"third\" ];\n"
                "  env = [ \"A=1\", \"B=2\" ];\n"
                "  mounts = ( { src = \"/tmp\"; dst = \"/mnt/t\"; writable = true; }, { src = \"/usr/\"; } );\n"
                "  gid_maps = ( { inner = 1000; }, { inner = 5; outer = 6; count = 2; } );\n"
                "};\n"
                "network = { tap_fds = [ 5, 6 ]; };\n";
        long n;

        for (n = 0; n < 10000; n++) {
                struct vm_config *c = NULL;
                char errors[4096] = "";
                FILE *f = tmpfile();
                size_t len;
                int r;

                ck_assert_ptr_nonnull(f);
                alloc_failed = false;
                alloc_countdown = n;
                r = config_load_buffer(text, sizeof(text) - 1, "alloc.conf", "/", NULL, 0, f, &c);
                alloc_countdown = -1;
                rewind(f);
                len = fread(errors, 1, sizeof(errors) - 1, f);
                errors[len] = '\0';
                fclose(f);
                if (!alloc_failed) {
                        ck_assert_msg(r == 0, "load: %d: %s", r, errors);
                        ck_assert_uint_eq(c->plugin.n_args, 3);
                        ck_assert_str_eq(c->plugin.args[2], "third");
                        ck_assert_uint_eq(c->plugin.n_env, 2);
                        ck_assert_uint_eq(c->plugin.n_mounts, 2);
                        ck_assert_str_eq(c->plugin.mounts[1].dst, "/usr");
                        ck_assert_uint_eq(c->plugin.n_gid_maps, 2);
                        ck_assert_uint_eq(c->plugin.gid_maps[1].count, 2);
                        ck_assert_uint_eq(c->network.n_tap_fds, 2);
                        ck_assert_int_eq(c->network.tap_fds[1], 6);
                        config_free(c);
                        break;
                }
                ck_assert_msg(r == -ENOMEM, "allocation %ld failed: the load returned %d (%s)", n, r, errors);
                ck_assert_ptr_null(c);
        }
        /* The config code's own allocations were all reached. */
        ck_assert_int_gt(n, 20);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("config");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_defaults_and_relative_plugin);
        tcase_add_test(tc, test_full_schema);
        tcase_add_test(tc, test_poll_env_default);
        tcase_add_test(tc, test_each_error_class);
        tcase_add_test(tc, test_all_problems_reported);
        tcase_add_test(tc, test_overrides);
        tcase_add_test(tc, test_env);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_set_every_scalar);
        tcase_add_test(tc, test_set_malformed);
        tcase_add_test(tc, test_mount_targets);
        tcase_add_test(tc, test_name);
        tcase_add_test(tc, test_default_name_checked);
        tcase_add_test(tc, test_include_errors_name_the_file);
        tcase_add_test(tc, test_include_relative_to_config);
        tcase_add_test(tc, test_include_not_regular);
        tcase_add_test(tc, test_include_lexer_states);
        tcase_add_test(tc, test_load_buffer);
        tcase_add_test(tc, test_wide_integers);
        tcase_add_test(tc, test_print_round_trip);
        tcase_add_test(tc, test_allocation_failures);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
