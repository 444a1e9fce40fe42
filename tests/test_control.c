/* The control socket end to end: real VMs started headless, steered from
 * another process with `vmlaunch list` and `vmlaunch ctl` (and, for what
 * the client cannot send, a raw socket).  Needs /dev/kvm and root. */
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_proto.h"
#include "test_util.h"
#include "util.h"

/* The emulated test machine is slow: a VM may take many seconds to run. */
#ifndef WAIT_MS
#define WAIT_MS 90000
#endif

struct vm_proc {
        pid_t pid;
        char name[128];
        char out[256], err[256];        /* its stdout and stderr, in files */
};

static char tmpdir[64];

static const char *plugin_path(const char *name) {
        static char path[512];

        snprintf(path, sizeof(path), "%s/%s", TEST_PLUGIN_DIR, name);
        return path;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_tmpdir(void) {
        if (tmpdir[0])
                return;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_control.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        /* Another uid must reach a socket in it (test_other_uid). */
        ck_assert_int_eq(chmod(tmpdir, 0755), 0);
}

/* Starts vmlaunch headless on a config of `plugin` `args`, named `name`,
 * with `extra` config text; does not wait.  vmlaunch dies with the test
 * (a failed test leaves no VM behind, only a stale socket). */
static void start_vm(struct vm_proc *vm, const char *name, const char *plugin, const char *args, unsigned vcpus,
                     unsigned timeout_ms, const char *extra) {
        char conf[512];
        FILE *f;

        make_tmpdir();
        snprintf(vm->name, sizeof(vm->name), "%s", name);
        snprintf(conf, sizeof(conf), "%s/%s.%d.conf", tmpdir, name, (int)getpid());
        snprintf(vm->out, sizeof(vm->out), "%s/%s.%d.out", tmpdir, name, (int)getpid());
        snprintf(vm->err, sizeof(vm->err), "%s/%s.%d.err", tmpdir, name, (int)getpid());
        f = fopen(conf, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "name = \"%s\";\nvcpus = %u;\nshutdown_timeout_ms = %u;\n"
                "plugin = {\n  path = \"%s\";\n  args = [ %s ];\n%s};\n"
                "sandbox = { seccomp_policy = \"%s\"; };\n%s",
                name, vcpus, timeout_ms, plugin_path(plugin), args, test_plugin_env(), TEST_SECCOMP_POLICY, extra ? extra : "");
        fclose(f);
        vm->pid = fork();
        ck_assert_int_ge(vm->pid, 0);
        if (vm->pid == 0) {
                int out = open(vm->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int err = open(vm->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
                    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                execl(VMLAUNCH_BIN, "vmlaunch", "--headless", "-c", conf, (char *)NULL);
                _exit(127);
        }
}

static char *slurp(const char *path) {
        static char buf[1 << 16];
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f)
                fclose(f);
        buf[n] = '\0';
        return buf;
}

/* Waits for the VM's end: its exit status, or -1 after `ms`. */
static int wait_vm(struct vm_proc *vm, int ms) {
        double end = now_s() + ms / 1000.0;
        int st;

        while (now_s() < end) {
                pid_t p = waitpid(vm->pid, &st, WNOHANG);

                if (p == vm->pid) {
                        vm->pid = 0;
                        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
                usleep(20000);
        }
        return -1;
}

static void kill_vm(struct vm_proc *vm) {
        if (vm->pid > 0) {
                kill(vm->pid, SIGKILL);
                waitpid(vm->pid, NULL, 0);
                vm->pid = 0;
        }
}

/* Runs the vmlaunch client with `args` (NULL-terminated): its exit status,
 * its stdout in out (NUL-terminated). */
static int client(char *out, size_t size, const char *const *args) {
        const char *argv[16] = { "vmlaunch" };
        int p[2], st;
        size_t len = 0, k = 1;
        pid_t pid;

        for (; args[k - 1] && k < ARRAY_SIZE(argv) - 1; k++)
                argv[k] = args[k - 1];
        argv[k] = NULL;
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(p[1], 1);
                execv(VMLAUNCH_BIN, (char **)argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], out + len, size - 1 - len);

                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len == size - 1)
                        break;
        }
        out[len] = '\0';
        close(p[0]);
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define CLIENT(out, ...) client(out, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

static const char *json_str(json_object *o, const char *key) {
        json_object *v = NULL;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static json_object *json_get(json_object *o, const char *key) {
        json_object *v = NULL;

        json_object_object_get_ex(o, key, &v);
        return v;
}

/* `ctl NAME stats --json`, parsed (the caller puts it). */
static json_object *stats_of(const char *name) {
        char out[65536];

        ck_assert_int_eq(CLIENT(out, "ctl", name, "stats", "--json"), 0);
        return json_tokener_parse(out);
}

static uint64_t total_exits(const char *name) {
        json_object *st = stats_of(name);
        uint64_t n;

        ck_assert_ptr_nonnull(st);
        n = json_object_get_uint64(json_get(json_get(st, "total"), "exits"));
        json_object_put(st);
        return n;
}

/* Waits until the VM says it runs (its control socket answers). */
static void wait_state(struct vm_proc *vm, const char *state) {
        double end = now_s() + WAIT_MS / 1000.0;
        char out[8192];

        while (now_s() < end) {
                if (CLIENT(out, "ctl", vm->name, "status", "--json") == 0) {
                        json_object *o = json_tokener_parse(out);
                        bool ok = o && strcmp(json_str(o, "state"), state) == 0;

                        json_object_put(o);
                        if (ok)
                                return;
                }
                ck_assert_msg(vm->pid <= 0 || waitpid(vm->pid, NULL, WNOHANG) == 0, "vmlaunch ended early:\n%s",
                              slurp(vm->err));
                usleep(100000);
        }
        ck_abort_msg("%s never reached state %s:\n%s", vm->name, state, slurp(vm->err));
}

static bool socket_exists(const char *name) {
        char path[128];
        struct stat st;

        ck_assert_int_eq(control_socket_path(name, path, sizeof(path)), 0);
        return stat(path, &st) == 0;
}

/* A raw connection to a socket path; -errno on failure. */
static int raw_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* Reads one line (or what comes before EOF) within 20 s; its length, 0 at
 * EOF. */
static size_t raw_line(int fd, char *buf, size_t size) {
        size_t len = 0;

        while (len < size - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                ck_assert_int_eq(poll(&p, 1, 20000), 1);
                n = read(fd, buf + len, 1);
                if (n <= 0)
                        break;
                len++;
                if (buf[len - 1] == '\n')
                        break;
        }
        buf[len] = '\0';
        return len;
}

/* list, status and stats see the running VM; stop ends it as SIGTERM
 * would, and the socket goes with it. */
START_TEST(test_list_stats_stop) {
        struct vm_proc vm;
        char out[65536];
        json_object *all, *st, *row, *vcpus, *tot;
        bool found = false;
        uint64_t sum = 0;

        start_vm(&vm, "ctl-list", "busy", "\"1000\"", 2, 3000, NULL);
        wait_state(&vm, "running");

        ck_assert_int_eq(CLIENT(out, "list", "--json"), 0);
        all = json_tokener_parse(out);
        ck_assert_ptr_nonnull(all);
        for (size_t i = 0; i < json_object_array_length(all); i++) {
                json_object *o = json_object_array_get_idx(all, i);

                if (strcmp(json_str(o, "name"), "ctl-list") != 0)
                        continue;
                found = true;
                ck_assert_int_eq(json_object_get_int(json_get(o, "pid")), vm.pid);
                ck_assert_int_eq(json_object_get_int(json_get(o, "vcpus")), 2);
                ck_assert_str_eq(json_str(o, "state"), "running");
                ck_assert(json_object_get_double(json_get(o, "uptime_s")) > 0);
        }
        json_object_put(all);
        ck_assert_msg(found, "list does not show the VM:\n%s", out);
        ck_assert_int_eq(CLIENT(out, "list"), 0);
        ck_assert_ptr_nonnull(strstr(out, "ctl-list"));
        ck_assert_ptr_nonnull(strstr(out, "running"));

        /* The busy guest writes port 0x10: io_out grows on both vCPUs. */
        while (total_exits("ctl-list") < 20)
                usleep(100000);
        st = stats_of("ctl-list");
        ck_assert_ptr_nonnull(st);
        vcpus = json_get(st, "vcpus");
        tot = json_get(st, "total");
        ck_assert_uint_eq(json_object_array_length(vcpus), 2);
        for (size_t i = 0; i < 2; i++) {
                row = json_object_array_get_idx(vcpus, i);
                ck_assert_int_eq(json_object_get_int(json_get(row, "id")), (int)i);
                ck_assert_ptr_nonnull(json_get(row, "user"));
                ck_assert_ptr_null(json_get(row, "paused"));
                sum += json_object_get_uint64(json_get(row, "io_out"));
        }
        ck_assert_uint_eq(json_object_get_uint64(json_get(tot, "io_out")), sum);
        ck_assert_uint_ge(json_object_get_uint64(json_get(tot, "exits")), sum);
        ck_assert_ptr_nonnull(json_get(tot, "rate"));
        ck_assert_str_eq(json_str(st, "state"), "running");
        json_object_put(st);
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-list", "stats"), 0);
        ck_assert_ptr_nonnull(strstr(out, "io_out"));
        ck_assert_ptr_nonnull(strstr(out, "total"));

        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-list", "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
        ck_assert_ptr_nonnull(strstr(slurp(vm.out), "stop requested over the control socket"));
        ck_assert(!socket_exists("ctl-list"));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-list", "status"), 1);
}
END_TEST

/* kill: as K in the TUI, the plugin dies now even if it ignores the stop. */
START_TEST(test_kill) {
        struct vm_proc vm;
        char out[4096];

        start_vm(&vm, "ctl-kill", "ignore_shutdown", "", 1, 600000, NULL);
        wait_state(&vm, "running");
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-kill", "kill"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 1);
        ck_assert_ptr_nonnull(strstr(slurp(vm.out), "killed on request"));
        ck_assert(!socket_exists("ctl-kill"));
}
END_TEST

/* pause holds every vCPU: the counters stand still until resume. */
START_TEST(test_pause_resume) {
        struct vm_proc vm;
        char out[4096];
        uint64_t a, b;

        start_vm(&vm, "ctl-pause", "busy", "\"1000\"", 2, 3000, NULL);
        wait_state(&vm, "running");
        while (total_exits("ctl-pause") < 10)
                usleep(100000);
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "pause"), 0);
        ck_assert_ptr_nonnull(strstr(out, "paused"));
        /* A vCPU that was waiting for the plugin's answer is held once it
         * has it: give it a moment, then the counters must not move. */
        usleep(500000);
        a = total_exits("ctl-pause");
        usleep(1500000);
        b = total_exits("ctl-pause");
        ck_assert_uint_eq(a, b);
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "status", "--json"), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"paused\""));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "pause"), 1);
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "resume"), 0);
        for (int i = 0; i < 600 && total_exits("ctl-pause") <= b; i++)
                usleep(100000);
        ck_assert_uint_gt(total_exits("ctl-pause"), b);
        /* A stop while paused still ends the VM cleanly. */
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "pause"), 0);
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-pause", "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
}
END_TEST

/* events: the headless JSON Lines from the moment of connection, to the
 * last one. */
START_TEST(test_events) {
        struct vm_proc vm;
        char out[4096], path[300], epath[300], line[4096];
        bool stopping = false, exited = false, started = false, output = false;
        FILE *f;
        pid_t ev;
        int st;

        start_vm(&vm, "ctl-events", "busy", "\"1000\"", 1, 3000, NULL);
        wait_state(&vm, "running");
        snprintf(path, sizeof(path), "%s/events.%d", tmpdir, (int)getpid());
        snprintf(epath, sizeof(epath), "%s/events-err.%d", tmpdir, (int)getpid());
        ev = fork();
        ck_assert_int_ge(ev, 0);
        if (ev == 0) {
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int efd = open(epath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                if (fd < 0 || efd < 0 || dup2(fd, 1) < 0 || dup2(efd, 2) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                execl(VMLAUNCH_BIN, "vmlaunch", "ctl", "ctl-events", "events", "--json", (char *)NULL);
                _exit(127);
        }
        /* The follower says on stderr when the VM's reply came. */
        for (int i = 0; i < 600 && !strstr(slurp(epath), "following"); i++)
                usleep(100000);
        ck_assert_ptr_nonnull(strstr(slurp(epath), "following the events of ctl-events"));
        ck_assert_str_eq(slurp(path), "");
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-events", "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
        ck_assert_int_eq(waitpid(ev, &st, 0), ev);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f)) {
                json_object *o = json_tokener_parse(line);
                const char *e;

                ck_assert_msg(o != NULL, "not JSON: %s", line);
                e = json_str(o, "event");
                stopping |= strcmp(e, "stopping") == 0 && strstr(json_str(o, "reason"), "control socket");
                exited |= strcmp(e, "exited") == 0 && json_object_get_int(json_get(o, "exit_code")) == 0;
                started |= strcmp(e, "started") == 0;
                /* The plugin's lines too: busy says so when it stops. */
                output |= strcmp(e, "plugin_output") == 0 && strstr(json_str(o, "line"), "busy: stopping");
                json_object_put(o);
        }
        fclose(f);
        ck_assert_msg(stopping && exited && output, "events missing:\n%s", slurp(path));
        /* From the moment of connection: not what came before. */
        ck_assert(!started);
}
END_TEST

/* A second VM with a live name: exit 2 before anything starts; the first
 * runs on. */
START_TEST(test_duplicate_name) {
        struct vm_proc a, b;
        char out[4096];

        start_vm(&a, "ctl-dup", "busy", "\"1000\"", 1, 3000, NULL);
        wait_state(&a, "running");
        start_vm(&b, "ctl-dup", "busy", "\"1000\"", 1, 3000, NULL);
        ck_assert_int_eq(wait_vm(&b, WAIT_MS), 2);
        ck_assert_ptr_nonnull(strstr(slurp(b.err), "a VM of that name is running"));
        /* Nothing started: no plugin, no running event. */
        ck_assert_ptr_null(strstr(slurp(b.out), "\"running\""));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-dup", "status", "--json"), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"running\""));
        ck_assert(socket_exists("ctl-dup"));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-dup", "stop"), 0);
        ck_assert_int_eq(wait_vm(&a, WAIT_MS), 0);
}
END_TEST

/* A vmlaunch SIGKILLed leaves its socket: the client calls it stale, list
 * leaves it out, and the next VM of that name replaces it. */
START_TEST(test_stale_socket) {
        struct vm_proc vm;
        char out[8192];
        json_object *o;
        pid_t plugin;

        start_vm(&vm, "ctl-stale", "busy", "\"1000\"", 1, 3000, NULL);
        wait_state(&vm, "running");
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-stale", "status", "--json"), 0);
        o = json_tokener_parse(out);
        plugin = json_object_get_int(json_get(o, "plugin_pid"));
        json_object_put(o);
        kill_vm(&vm);
        if (plugin > 0)
                kill(plugin, SIGKILL);
        ck_assert(socket_exists("ctl-stale"));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-stale", "status"), 1);
        ck_assert_int_eq(CLIENT(out, "list"), 0);
        ck_assert_ptr_null(strstr(out, "ctl-stale"));

        start_vm(&vm, "ctl-stale", "busy", "\"1000\"", 1, 3000, NULL);
        wait_state(&vm, "running");
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-stale", "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
        ck_assert(!socket_exists("ctl-stale"));
}
END_TEST

/* The socket is 0600; where that was loosened, SO_PEERCRED still refuses
 * another uid with an error reply, and the VM runs on. */
START_TEST(test_other_uid_refused) {
        struct vm_proc vm;
        char extra[512], sock[100], out[4096];
        struct stat sb;
        pid_t child;
        int st;

        make_tmpdir();
        snprintf(sock, sizeof(sock), "%s/other.sock", tmpdir);
        snprintf(extra, sizeof(extra), "control = { socket = \"%s\"; };\n", sock);
        start_vm(&vm, "ctl-uid", "busy", "\"1000\"", 1, 3000, extra);
        snprintf(vm.name, sizeof(vm.name), "%s", sock);        /* ctl takes the path */
        wait_state(&vm, "running");
        ck_assert_int_eq(stat(sock, &sb), 0);
        ck_assert_uint_eq(sb.st_mode & 07777, 0600);
        ck_assert_int_eq(chmod(sock, 0666), 0);

        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char buf[1024];
                int fd;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                fd = raw_connect(sock);
                if (fd < 0)
                        _exit(11);
                /* MSG_NOSIGNAL: the VM may have refused and closed before
                 * the request arrives, and a plain write() would then die
                 * of SIGPIPE (seen: raw status 13 in 2 of 10 runs). */
                if (send(fd, "{\"version\":1,\"command\":\"stop\"}\n", 31, MSG_NOSIGNAL) < 0) {
                        /* Closed already: the refusal is read below. */
                }
                if (raw_line(fd, buf, sizeof(buf)) == 0 || !strstr(buf, "\"ok\":false") ||
                    !strstr(buf, "permission denied")) {
                        fprintf(stderr, "the other uid's client read: \"%s\"\n", buf);
                        _exit(12);
                }
                /* Then the VM closes the connection. */
                if (raw_line(fd, buf, sizeof(buf)) != 0) {
                        fprintf(stderr, "the other uid's client read after the refusal: \"%s\"\n", buf);
                        _exit(13);
                }
                _exit(0);
        }
        ck_assert_int_eq(waitpid(child, &st, 0), child);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other uid's client: %s %d",
                      WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        /* The refused stop did nothing. */
        ck_assert_int_eq(CLIENT(out, "ctl", sock, "status", "--json"), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"running\""));
        ck_assert_int_eq(CLIENT(out, "ctl", sock, "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
        ck_assert_int_eq(stat(sock, &sb), -1);
}
END_TEST

/* Malformed and oversized requests: an error reply each, and the VM runs
 * on undisturbed. */
START_TEST(test_bad_requests) {
        static const char *const bad[] = {
                "not json\n",
                "{\"version\":1}\n",
                "{\"version\":2,\"command\":\"status\"}\n",
                "{\"version\":1,\"command\":\"reboot\"}\n",
                "{\"version\":1,\"command\":\"stop\",\"extra\":1}\n",
                "{\"version\":1,\"command\":\"stop\"} trailing\n",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
                "{\"version\":\"1\",\"command\":\"stop\"}\n",
        };
        struct vm_proc vm;
        char path[128], buf[8192], out[4096];
        char *big;
        int fd;

        start_vm(&vm, "ctl-bad", "busy", "\"1000\"", 1, 3000, NULL);
        wait_state(&vm, "running");
        ck_assert_int_eq(control_socket_path("ctl-bad", path, sizeof(path)), 0);
        fd = raw_connect(path);
        ck_assert_int_ge(fd, 0);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                ck_assert_int_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
                ck_assert_uint_gt(raw_line(fd, buf, sizeof(buf)), 0);
                ck_assert_msg(strstr(buf, "\"ok\":false") && strstr(buf, "\"version\":1") && strstr(buf, "\"error\""),
                              "request %zu: reply %s", i, buf);
        }
        /* The same connection still serves a good request. */
        ck_assert_int_eq(write(fd, "{\"version\":1,\"command\":\"status\"}\n", 34), 34);
        ck_assert_uint_gt(raw_line(fd, buf, sizeof(buf)), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\"ok\":true"));

        /* Oversized: an error reply, then the connection is closed. */
        big = malloc(3 * CONTROL_LINE_MAX);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', 3 * CONTROL_LINE_MAX);
        if (send(fd, big, 3 * CONTROL_LINE_MAX, MSG_NOSIGNAL) < 0) {
                /* The VM may close before it all went: the reply is read. */
        }
        free(big);
        ck_assert_uint_gt(raw_line(fd, buf, sizeof(buf)), 0);
        ck_assert_msg(strstr(buf, "\"ok\":false") && strstr(buf, "too long"), "reply %s", buf);
        ck_assert_uint_eq(raw_line(fd, buf, sizeof(buf)), 0);
        close(fd);

        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-bad", "status", "--json"), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"running\""));
        ck_assert_int_eq(CLIENT(out, "ctl", "ctl-bad", "stop"), 0);
        ck_assert_int_eq(wait_vm(&vm, WAIT_MS), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("control");
        TCase *tc = tcase_create("control");

        test_require(test_have_kvm(), "/dev/kvm (KVM API 12)");
        test_require(test_is_root(), "root (the jail's gid maps; another uid for the SO_PEERCRED check)");
        /* The socket directory of these runs: root's. */
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_list_stats_stop);
        tcase_add_test(tc, test_kill);
        tcase_add_test(tc, test_pause_resume);
        tcase_add_test(tc, test_events);
        tcase_add_test(tc, test_duplicate_name);
        tcase_add_test(tc, test_stale_socket);
        tcase_add_test(tc, test_other_uid_refused);
        tcase_add_test(tc, test_bad_requests);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
