/* sd_notify on every stop path: a service manager listening on
 * NOTIFY_SOCKET hears STOPPING=1 and a final STATUS= saying how the run
 * ended, also when nobody asked for the stop (the plugin exited by
 * itself, or failed).  Runs the real vmlaunch; needs /dev/kvm. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_util.h"
#include "vmrun.h"

/* Runs `plugin` with `args` under a NOTIFY_SOCKET, checks vmlaunch's exit
 * status, and returns every message heard, one per line (static). */
static const char *run_notified(const char *plugin, const char *args, int expect_status) {
        static char seen[4096];
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        char sock_path[sizeof(addr.sun_path)], conf[2048], buf[1024];
        struct vmrun r;
        struct vmrun_opts o = { .config = conf, .notify_socket = sock_path };
        ssize_t n;
        int fd;

        snprintf(conf, sizeof(conf),
                 "name = \"notify\";\nplugin = {\n  path = \"%s\";\n  args = [ %s ];\n%s};\n"
                 "sandbox = { seccomp_policy = \"%s\"; };\n",
                 plugin, args, test_plugin_env(), TEST_SECCOMP_POLICY);
        snprintf(sock_path, sizeof(sock_path), "%s/notify.sock", vmrun_tmpdir());
        unlink(sock_path);
        memcpy(addr.sun_path, sock_path, sizeof(addr.sun_path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        vmrun(&o, &r);
        seen[0] = '\0';
        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
                buf[n] = '\0';
                strncat(seen, buf, sizeof(seen) - strlen(seen) - 2);
                strcat(seen, "\n");
        }
        close(fd);
        if (r.status != expect_status)
                fprintf(stderr, "status %d, stderr:\n%s\n", r.status, r.err);
        ck_assert_int_eq(r.status, expect_status);
        vmrun_free(&r);
        return seen;
}

/* The guest powers off, the plugin exits 0 by itself: no countdown ran,
 * yet the manager hears STOPPING=1 after READY=1, and the last STATUS=
 * is the reason. */
START_TEST(test_plugin_exits_by_itself) {
        const char *seen = run_notified(HELLO_PLUGIN, "", 0);
        const char *ready = strstr(seen, "READY=1"), *stopping = strstr(seen, "STOPPING=1");
        const char *last = strstr(seen, "STATUS=exited 0: shutdown: the plugin exited cleanly");

        ck_assert_msg(ready && stopping && ready < stopping, "sd_notify messages:\n%s", seen);
        ck_assert_msg(last && last > ready, "no final STATUS=:\n%s", seen);
        ck_assert_msg(!strstr(last + 1, "STATUS="), "a STATUS= after the final one:\n%s", seen);
}
END_TEST

/* The plugin fails (exits 3 before Start): STOPPING=1 and the failure. */
START_TEST(test_plugin_fails) {
        const char *seen = run_notified(TEST_PLUGIN_DIR "/exit_code", "\"3\"", 1);

        ck_assert_msg(strstr(seen, "STOPPING=1"), "no STOPPING=1:\n%s", seen);
        ck_assert_msg(strstr(seen, "STATUS=exited 1: error: the plugin exited with status 3"),
                      "no final STATUS=:\n%s", seen);
}
END_TEST

int main(void) {
        Suite *s = suite_create("notify");
        TCase *tc = tcase_create("stop paths");

        test_require(test_have_kvm(), "/dev/kvm (KVM API 12)");
        test_require(test_is_root(), "root (the jail's gid maps)");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_plugin_exits_by_itself);
        tcase_add_test(tc, test_plugin_fails);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
