/* config_load: the schema, the defaults, and one clear line per problem
 * naming the file, the line and the key. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test_util.h"

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
                 "sandbox = { enabled = true; seccomp_log_failures = true; };\n"
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

START_TEST(test_print_round_trip) {
        struct vm_config *a = NULL, *b = NULL;
        char *errors = NULL, *printed = NULL, text[2048];
        size_t len = 0;
        FILE *f;

        snprintf(text, sizeof(text),
                 "name = \"q\\\"uote\"; vcpus = 2; lane = false;\n"
                 "plugin = { path = \"plugin\"; args = [ \"a\\\\b\" ]; mounts = ( { src = \"/usr\"; } );\n"
                 "  gid_maps = ( { inner = 5; outer = 6; count = 2; } ); };\n"
                 "network = { tap_name = \"vmtap0\"; };\n");
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
        ck_assert_int_eq(b->network.mode, VM_NET_TAP_NAME);
        ck_assert_str_eq(b->network.tap_name, "vmtap0");
        config_free(a);
        config_free(b);
        free(errors);
        free(printed);
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
        tcase_add_test(tc, test_print_round_trip);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
