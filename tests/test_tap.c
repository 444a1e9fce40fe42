/* Taps for real: created, configured through libnl, read back with
 * iproute2, gone when closed; fds and persistent taps validated.  Needs
 * root (CAP_NET_ADMIN) and /dev/net/tun. */
#include <check.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "test_util.h"

/* `ip -o ... dev NAME` output, for checking from outside our code. */
static char *ip_show(const char *what, const char *name) {
        static char out[4096];
        char cmd[128];
        size_t n;
        FILE *p;

        snprintf(cmd, sizeof(cmd), "ip -o %s show dev %s 2>&1", what, name);
        p = popen(cmd, "r");
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        return out;
}

START_TEST(test_create_configure_close) {
        struct tap t = TAP_INIT;
        struct log_err step = LOG_ERR_INIT;
        struct in_addr ip, mask;
        static const uint8_t mac[6] = { 0xde, 0x21, 0xe8, 0x47, 0x6b, 0x6a };
        char name[IFNAMSIZ];

        inet_pton(AF_INET, "192.168.250.1", &ip);
        inet_pton(AF_INET, "255.255.255.0", &mask);
        ck_assert_msg(tap_create(&t, &step) == 0, "%s", step.msg);
        ck_assert_int_eq(fcntl(t.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_msg(tap_configure(&t, ip, mask, mac, &step) == 0, "%s", step.msg);
        ck_assert_ptr_nonnull(strstr(ip_show("-4 addr", t.name), "inet 192.168.250.1/24"));
        ck_assert_ptr_nonnull(strstr(ip_show("link", t.name), "de:21:e8:47:6b:6a"));
        ck_assert_ptr_nonnull(strstr(ip_show("link", t.name), ",UP"));
        snprintf(name, sizeof(name), "%s", t.name);
        ck_assert_uint_ne(if_nametoindex(name), 0);
        tap_close(&t);
        ck_assert_int_eq(t.fd, -1);
        ck_assert_uint_eq(if_nametoindex(name), 0);    /* not persistent: gone */
}
END_TEST

START_TEST(test_from_fd) {
        struct tap made = TAP_INIT, t = TAP_INIT;
        struct log_err step = LOG_ERR_INIT;
        struct in_addr ip, mask;
        static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x42 };
        int p[2];
        char want[64];

        inet_pton(AF_INET, "10.77.0.1", &ip);
        inet_pton(AF_INET, "255.255.0.0", &mask);
        ck_assert_msg(tap_create(&made, &step) == 0, "%s", step.msg);
        ck_assert_msg(tap_configure(&made, ip, mask, mac, &step) == 0, "%s", step.msg);
        ck_assert_msg(tap_from_fd(made.fd, &t, &step) == 0, "%s", step.msg);
        ck_assert_int_ne(t.fd, made.fd);
        ck_assert_int_eq(fcntl(t.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_str_eq(t.name, made.name);
        ck_assert_int_eq(t.host_ip.s_addr, ip.s_addr);
        ck_assert_int_eq(t.netmask.s_addr, mask.s_addr);
        ck_assert(memcmp(t.mac, mac, 6) == 0);
        snprintf(want, sizeof(want), "%s", made.name);
        tap_close(&made);
        ck_assert_uint_ne(if_nametoindex(want), 0);    /* our dup keeps it */
        tap_close(&t);
        ck_assert_uint_eq(if_nametoindex(want), 0);

        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_lt(tap_from_fd(p[0], &t, &step), 0);
        ck_assert_ptr_nonnull(strstr(step.msg, "is a tap"));
        ck_assert_int_eq(t.fd, -1);
        close(p[0]);
        close(p[1]);
        ck_assert_int_eq(tap_from_fd(999, &t, &step), -EBADF);
}
END_TEST

START_TEST(test_persistent_by_name) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        struct tap t = TAP_INIT;
        struct log_err step = LOG_ERR_INIT;
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        char name[IFNAMSIZ];

        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vmlt%d", getpid() % 100000);
        ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
        ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
        snprintf(name, sizeof(name), "%s", ifr.ifr_name);
        close(fd);

        ck_assert_msg(tap_open_name(name, &t, &step) == 0, "%s", step.msg);
        ck_assert_str_eq(t.name, name);
        tap_close(&t);
        ck_assert_uint_ne(if_nametoindex(name), 0);    /* persistent: still there */

        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
        ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 0), 0);
        close(fd);
        ck_assert_uint_eq(if_nametoindex(name), 0);
        ck_assert_int_lt(tap_open_name("vmlaunch-none0", &t, &step), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("tap");
        TCase *tc = tcase_create("tap");

        test_require(test_is_root(), "root (CAP_NET_ADMIN)");
        test_require(access("/dev/net/tun", R_OK | W_OK) == 0, "/dev/net/tun");
        tcase_add_test(tc, test_create_configure_close);
        tcase_add_test(tc, test_from_fd);
        tcase_add_test(tc, test_persistent_by_name);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
