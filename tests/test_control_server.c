/* The control socket's server (control.c) without a VM: a stand-in
 * launcher answers its callbacks, and the test turns the event loop by
 * hand.  What a real VM adds is in test_control.c; here are the bounds
 * that are hard to reach through one: a client that never reads, too
 * many clients, the peer check, names taken or stale. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "control_proto.h"
#include "stats.h"
#include "status.h"
#include "test_util.h"
#include "util.h"

static char dir[64], sock_path[100];
static struct vm_config *config;
static struct vm_stats *snapshot;
static int stops, kills, pauses;

static const struct vm_stats *fake_stats(void *u) {
        (void)u;
        stats_take(snapshot, NULL, STATS_RUNNING, 1000000, 2000000);
        return snapshot;
}

static pid_t fake_plugin_pid(void *u) {
        (void)u;
        return 4242;
}

static int fake_stop(void *u) {
        (void)u;
        return stops++ ? -EALREADY : 0;
}

static int fake_kill(void *u) {
        (void)u;
        kills++;
        return 0;
}

static int fake_pause(void *u, bool pause) {
        (void)u;
        pauses += pause ? 1 : -1;
        return 0;
}

static const struct control_ops ops = {
        .stats = fake_stats,
        .plugin_pid = fake_plugin_pid,
        .stop = fake_stop,
        .kill = fake_kill,
        .pause = fake_pause,
};

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup(void) {
        char text[512];

        snprintf(dir, sizeof(dir), "/tmp/test_control_server.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0755), 0);
        snprintf(sock_path, sizeof(sock_path), "%s/unit.sock", dir);
        snprintf(text, sizeof(text), "name = \"unit\";\nplugin = { path = \"/bin/true\"; };\ncontrol = { socket = \"%s\"; };\n",
                 sock_path);
        ck_assert_int_eq(config_load_buffer(text, strlen(text), "unit.conf", NULL, NULL, 0, stderr, &config), 0);
        ck_assert_int_eq(stats_new(1, &snapshot), 0);
        stops = kills = pauses = 0;
}

static void teardown(void) {
        config_free(config);
        stats_free(snapshot);
        rmdir(dir);
}

static struct control *server(int *ret_epoll) {
        struct control *c = NULL;
        char err[256] = "";
        int ep = epoll_create1(EPOLL_CLOEXEC);

        ck_assert_int_ge(ep, 0);
        ck_assert_msg(control_new(config, ep, &ops, NULL, err, sizeof(err), &c) == 0, "control_new: %s", err);
        *ret_epoll = ep;
        return c;
}

/* One loop turn, as the launcher's: handle what is ready, then reap. */
static void turn(struct control *c, int ep, int ms) {
        struct epoll_event evs[32];
        int n = epoll_wait(ep, evs, 32, ms);

        for (int i = 0; i < n; i++)
                control_handle(c, evs[i].data.ptr, evs[i].events);
        control_reap(c);
}

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -errno;
        }
        return fd;
}

/* Turns the loop until a whole line (or EOF: length 0) is read. */
static size_t reply_line(struct control *c, int ep, int fd, char *buf, size_t size) {
        size_t len = 0;
        double end = now_s() + 5;

        while (len < size - 1 && now_s() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                turn(c, ep, 0);
                if (poll(&p, 1, 10) <= 0)
                        continue;
                n = read(fd, buf + len, 1);
                if (n <= 0)
                        break;
                if (buf[len++] == '\n')
                        break;
        }
        buf[len] = '\0';
        return len;
}

static void ask(struct control *c, int ep, int fd, const char *req, char *buf, size_t size) {
        ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        ck_assert_uint_gt(reply_line(c, ep, fd, buf, size), 0);
}

START_TEST(test_requests) {
        struct control *c;
        char buf[8192];
        struct stat st;
        int ep, fd;

        c = server(&ep);
        ck_assert_int_eq(stat(sock_path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        fd = connect_to(sock_path);
        ck_assert_int_ge(fd, 0);
        ask(c, ep, fd, "{\"version\":1,\"command\":\"status\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"ok\":true"));
        ck_assert_ptr_nonnull(strstr(buf, "\"name\":\"unit\""));
        ck_assert_ptr_nonnull(strstr(buf, "\"plugin_pid\":4242"));
        ask(c, ep, fd, "{\"version\":1,\"command\":\"stats\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"total\""));
        ask(c, ep, fd, "garbage\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"ok\":false"));
        ck_assert_ptr_nonnull(strstr(buf, "not JSON"));
        ask(c, ep, fd, "{\"version\":1,\"command\":\"stop\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"ok\":true"));
        ask(c, ep, fd, "{\"version\":1,\"command\":\"stop\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "already stopping"));
        ck_assert_int_eq(stops, 2);
        ask(c, ep, fd, "{\"version\":1,\"command\":\"kill\"}\n", buf, sizeof(buf));
        ask(c, ep, fd, "{\"version\":1,\"command\":\"pause\"}\n", buf, sizeof(buf));
        ck_assert_int_eq(kills, 1);
        ck_assert_int_eq(pauses, 1);
        close(fd);
        control_free(c, 0);
        close(ep);
        /* The socket goes with the server. */
        ck_assert_int_eq(stat(sock_path, &st), -1);
}
END_TEST

/* A line longer than CONTROL_LINE_MAX: an error reply, then the close. */
START_TEST(test_oversized) {
        char *big = malloc(2 * CONTROL_LINE_MAX), buf[1024];
        struct control *c;
        int ep, fd;

        c = server(&ep);
        fd = connect_to(sock_path);
        memset(big, 'a', 2 * CONTROL_LINE_MAX);
        ck_assert_int_eq(write(fd, big, 2 * CONTROL_LINE_MAX), 2 * CONTROL_LINE_MAX);
        ck_assert_uint_gt(reply_line(c, ep, fd, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "too long"));
        ck_assert_uint_eq(reply_line(c, ep, fd, buf, sizeof(buf)), 0);
        free(big);
        close(fd);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* A client following events that never reads is dropped once its queue
 * is full; the writer never waits for it. */
START_TEST(test_slow_client_dropped) {
        struct control *c;
        struct monitor *m;
        char line[1000], buf[256];
        size_t total = 0;
        double t0;
        int ep, fd;
        ssize_t n;

        c = server(&ep);
        m = control_monitor(c);
        fd = connect_to(sock_path);
        ask(c, ep, fd, "{\"version\":1,\"command\":\"events\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"events\":\"follow\""));
        memset(line, 'x', sizeof(line));
        t0 = now_s();
        /* 4 MiB of plugin output: far past the socket buffer and the
         * client's queue. */
        for (int i = 0; i < 4000; i++) {
                m->plugin_output(m, MONITOR_STDOUT, line, sizeof(line));
                turn(c, ep, 0);
        }
        ck_assert_msg(now_s() - t0 < 3.0, "the writer waited: %.3f s", now_s() - t0);
        /* Dropped: the client reads what was sent, then the end. */
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                total += (size_t)n;
        ck_assert_uint_lt(total, 4000u * sizeof(line));
        close(fd);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* A follower gets the status stream's events from then on, through the
 * monitor the launcher calls; a client that did not ask gets none. */
START_TEST(test_events_follow) {
        struct control *c;
        struct monitor *m;
        char buf[1024];
        int ep, fd, other;

        c = server(&ep);
        m = control_monitor(c);
        fd = connect_to(sock_path);
        other = connect_to(sock_path);
        ask(c, ep, other, "{\"version\":1,\"command\":\"status\"}\n", buf, sizeof(buf));
        ask(c, ep, fd, "{\"version\":1,\"command\":\"events\"}\n", buf, sizeof(buf));
        m->plugin_output(m, MONITOR_STDERR, "hello there", 11);
        m->stopping(m, "stop requested over the control socket", monitor_now_usec() + 1000000);
        m->exited(m, 0, "shutdown: done", "exited 0");
        ck_assert_uint_gt(reply_line(c, ep, fd, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"plugin_output\""));
        ck_assert_ptr_nonnull(strstr(buf, "\"line\":\"hello there\""));
        ck_assert_uint_gt(reply_line(c, ep, fd, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"stopping\""));
        ck_assert_uint_gt(reply_line(c, ep, fd, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"exited\""));
        /* The other client asked for no events. */
        ck_assert_int_eq(recv(other, buf, sizeof(buf), MSG_DONTWAIT), -1);
        close(fd);
        close(other);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* One client past CONTROL_CLIENTS_MAX is refused with a reason. */
START_TEST(test_too_many_clients) {
        int fds[CONTROL_CLIENTS_MAX + 1], ep;
        struct control *c;
        char buf[512];

        c = server(&ep);
        for (int i = 0; i <= CONTROL_CLIENTS_MAX; i++) {
                fds[i] = connect_to(sock_path);
                ck_assert_int_ge(fds[i], 0);
                for (int k = 0; k < 5; k++)
                        turn(c, ep, 1);
        }
        ck_assert_uint_gt(reply_line(c, ep, fds[CONTROL_CLIENTS_MAX], buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "too many control clients"));
        /* The others are served. */
        ask(c, ep, fds[0], "{\"version\":1,\"command\":\"status\"}\n", buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\"ok\":true"));
        for (int i = 0; i <= CONTROL_CLIENTS_MAX; i++)
                close(fds[i]);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* A client gone while a forked child still holds a copy of the server's
 * end (the launcher forks; a fork holds every fd until its exec): once
 * reaped, the client is out of the epoll set and is never reported again.
 * Left in, its hang-up came back on every turn with a freed pointer. */
START_TEST(test_gone_while_forked) {
        struct epoll_event evs[8];
        struct control *c;
        char buf[512];
        int ep, fd, st, p[2];
        pid_t pid;

        c = server(&ep);
        fd = connect_to(sock_path);
        ck_assert_int_ge(fd, 0);
        ask(c, ep, fd, "{\"version\":1,\"command\":\"status\"}\n", buf, sizeof(buf));
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* It keeps the server's end, not the client's. */
                close(fd);
                close(p[0]);
                close(p[1]);
                pause();
                _exit(0);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], buf, 1), 0);
        close(p[0]);
        close(fd);
        for (int k = 0; k < 5; k++)
                turn(c, ep, 10);
        ck_assert_int_eq(epoll_wait(ep, evs, 8, 50), 0);
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* Another uid that reaches the socket (its mode loosened) is refused by
 * SO_PEERCRED, and its stop does nothing. */
START_TEST(test_other_uid) {
        struct control *c;
        pid_t child;
        int ep, st = 0;

        if (!test_is_root()) {
                fprintf(stderr, "test_other_uid: not root, nothing to check\n");
                return;
        }
        c = server(&ep);
        ck_assert_int_eq(chmod(sock_path, 0666), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char buf[512] = "";
                size_t len = 0;
                int fd;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                fd = connect_to(sock_path);
                if (fd < 0)
                        _exit(11);
                if (write(fd, "{\"version\":1,\"command\":\"stop\"}\n", 31) < 0) {
                        /* Refused before it was read: the reply tells. */
                }
                for (ssize_t n; len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0;)
                        len += (size_t)n;
                _exit(strstr(buf, "permission denied") && strstr(buf, "\"ok\":false") ? 0 : 12);
        }
        for (int i = 0; i < 500 && waitpid(child, &st, WNOHANG) == 0; i++)
                turn(c, ep, 10);
        if (waitpid(child, &st, WNOHANG) == 0) {
                /* Still waiting for a close that did not come. */
                kill(child, SIGKILL);
                waitpid(child, &st, 0);
        }
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other uid's client: status %d", st);
        ck_assert_int_eq(stops, 0);
        control_free(c, 0);
        close(ep);
}
END_TEST

/* A live name refuses a second server; a stale socket is replaced. */
START_TEST(test_live_and_stale) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct control *c, *d = NULL;
        char err[256] = "";
        int ep, fd;

        c = server(&ep);
        ck_assert_int_eq(control_new(config, ep, &ops, NULL, err, sizeof(err), &d), -EEXIST);
        ck_assert_ptr_nonnull(strstr(err, "a VM of that name is running"));
        /* The refused one left the live one's socket alone. */
        fd = connect_to(sock_path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        control_free(c, 0);

        /* What a SIGKILLed vmlaunch leaves: a socket nobody listens on. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
        ck_assert_int_eq(connect_to(sock_path), -ECONNREFUSED);
        err[0] = '\0';
        ck_assert_msg(control_new(config, ep, &ops, NULL, err, sizeof(err), &d) == 0, "%s", err);
        fd = connect_to(sock_path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        control_free(d, 0);
        close(ep);
}
END_TEST

/* Runs `vmlaunch ARGS...` against the server, turning its loop while the
 * client waits: the client's exit status and stdout. */
static int run_client(struct control *c, int ep, char *out, size_t size, const char *const *args) {
        const char *argv[8] = { "vmlaunch" };
        size_t len = 0, k = 1;
        int p[2], st = 0;
        pid_t pid, r;

        for (; args[k - 1] && k < 7; k++)
                argv[k] = args[k - 1];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(p[1], 1);
                execv(VMLAUNCH_BIN, (char **)argv);
                _exit(127);
        }
        close(p[1]);
        /* Bounded by the clock, not by turns: a loop with a ready fd in it
         * turns without waiting, and the client may not have run yet. */
        for (double end = now_s() + 10; (r = waitpid(pid, &st, WNOHANG)) == 0 && now_s() < end;) {
                ssize_t n = read(p[0], out + len, size - 1 - len);

                if (n > 0)
                        len += (size_t)n;
                turn(c, ep, 5);
        }
        if (r == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                ck_abort_msg("vmlaunch %s did not exit within 10 s", args[0]);
        }
        ck_assert_int_eq(r, pid);
        for (ssize_t n; (n = read(p[0], out + len, size - 1 - len)) > 0;)
                len += (size_t)n;
        out[len] = '\0';
        close(p[0]);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(out, ...) run_client(c, ep, out, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

/* The client's answers: JSON with --json, tables without. */
START_TEST(test_client) {
        struct control *c;
        char out[8192];
        json_object *o;
        int ep;

        c = server(&ep);
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "status", "--json"), 0);
        o = json_tokener_parse(out);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "name")), "unit");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "state")), "running");
        json_object_put(o);
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "status"), 0);
        ck_assert_ptr_nonnull(strstr(out, "plugin pid  4242"));
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "stats"), 0);
        ck_assert_ptr_nonnull(strstr(out, "exits/s"));
        ck_assert_ptr_nonnull(strstr(out, "total"));
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "pause"), 0);
        ck_assert_int_eq(pauses, 1);
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "stop"), 0);
        /* A refusal: exit 1. */
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "stop"), 1);
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "reboot"), 2);
        control_free(c, 0);
        c = NULL;       /* the loop turns on, with nothing in it */
        ck_assert_int_eq(RUN(out, "ctl", sock_path, "status"), 1);
        close(ep);
}
END_TEST

int main(void) {
        Suite *s = suite_create("control_server");
        TCase *tc = tcase_create("control_server");

        signal(SIGPIPE, SIG_IGN);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_requests);
        tcase_add_test(tc, test_oversized);
        tcase_add_test(tc, test_slow_client_dropped);
        tcase_add_test(tc, test_events_follow);
        tcase_add_test(tc, test_too_many_clients);
        tcase_add_test(tc, test_other_uid);
        tcase_add_test(tc, test_live_and_stale);
        tcase_add_test(tc, test_client);
        tcase_add_test(tc, test_gone_while_forked);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
