/* The load test: HOSTILE_LOAD_PARALLEL jailed VMs at once, then
 * HOSTILE_LOAD_SERIAL in a row, each run one of a fixed mix (the hello
 * plugin; the busy plugin stopped by SIGTERM mid-run; the crash plugin;
 * every fourth run with a new tap).  Every run must end in bounded time
 * with its expected exit status and `exited` as its last status line, and
 * once a phase is over nothing it made may be left: no fd of this process,
 * no process (live or zombie), no tap, no mount, no /tmp entry, no
 * vmlaunch-* cgroup.
 *
 * Other tests may run at the same time (ctest -j), so the stock counts
 * only what these runs could have made:
 *  - the test runs in a private mount namespace, which every vmlaunch
 *    inherits: every mount counted is one of ours;
 *  - /tmp entries named vmlaunch-* (but the test harness's vmlaunch-test-*)
 *    count when they appeared during the phase and are still there a
 *    second after it (another test's jail root lives for an instant);
 *  - the test is a child subreaper: a process of a run that outlives its
 *    vmlaunch (a plugin, a helper) becomes our child, so "no child left,
 *    live or zombie" covers them as well as vmlaunch.  The one process
 *    meant to outlive vmlaunch, the VM's detached closer (vm.h,
 *    VM_CLOSER_COMM), must end by itself within 10 s: it is waited for
 *    and reaped by name, never counted away;
 *  - taps carry addresses in LOAD_NET (no other test uses it), and each
 *    tap a `started` event names is followed by its ifindex (names are
 *    reused at once, ifindexes are not);
 *  - cgroups named vmlaunch-* count when they appeared during the phase
 *    and stay, empty, for a second after it (another test's live cgroup
 *    holds its plugin). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "vm.h"

/* Every fourth run has a tap, with 192.168.213.(4k+1)/30 where k counts
 * the tap runs modulo 64: distinct among the runs alive at once, and a
 * range no other test uses. */
#define LOAD_NET "192.168.213."
#define LOAD_NET_SLOTS 64u
#define LOAD_HAS_TAP(idx) ((idx) % 4 == 1)
#define LOAD_TAP_SLOT(idx) ((idx) / 4 % LOAD_NET_SLOTS)

/* Every run is killed, and the test fails, after this long. */
#define LOAD_RUN_TIMEOUT_S 60
/* A SIGTERM run is signalled this long after its "running" event. */
#define LOAD_SIGNAL_DELAY_S 0.2
/* The countdown of every run.  Not the hostile suite's 1 s: twenty VMs on
 * the emulated CPUs of the kvmhost guest, on a busy machine, took more than
 * that for a well-behaved busy plugin to see the stop and exit (it was then
 * killed: exit 1).  Stopping in time under attack is the other hostile
 * tests' check; this one wants the graceful path, within the run's bound. */
#define LOAD_DEADLINE_MS 10000u

enum load_kind {
        LOAD_HELLO,     /* exits 0 at the guest's power-off */
        LOAD_SIGTERM,   /* busy, paced, until SIGTERM: a graceful stop, 0 */
        LOAD_CRASH,     /* SIGSEGV after connecting: 33 */
        LOAD_KINDS,
};

struct load_buf {
        char *p;
        size_t len, cap;
};

struct load_run {
        unsigned idx;
        enum load_kind kind;
        bool tap;
        pid_t pid;              /* 0: the slot is free */
        int out_fd, err_fd;
        struct load_buf out, err;
        double start, running_at, signal_at;
        char tap_name[IF_NAMESIZE];
        unsigned tap_index;     /* 0: not followed */
};

/* What a phase measured, for the log. */
struct load_figures {
        double seconds;
        double max_stop;        /* the slowest SIGTERM to exit, in seconds */
        unsigned taps, taps_followed, peak;
        unsigned long min_avail_mib;   /* the lowest MemAvailable seen */
};

/* The runs alive now, killed if the test fails half-way. */
static struct load_run *load_slots;
static unsigned load_width;

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long mem_available_mib(void) {
        char line[128];
        unsigned long kib = 0;
        FILE *f = fopen("/proc/meminfo", "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemAvailable: %lu kB", &kib) == 1)
                        break;
        fclose(f);
        return kib / 1024;
}

static void load_kill_all(void) {
        for (unsigned i = 0; i < load_width; i++)
                if (load_slots[i].pid > 0) {
                        kill(load_slots[i].pid, SIGKILL);
                        waitpid(load_slots[i].pid, NULL, 0);
                        load_slots[i].pid = 0;
                }
}

/* A failed check ends every run still alive before the test fails. */
#define load_assert(cond, ...)                          \
        do {                                            \
                if (!(cond)) {                          \
                        load_kill_all();                \
                        ck_abort_msg(__VA_ARGS__);      \
                }                                       \
        } while (0)

static unsigned env_size(const char *name, unsigned def) {
        const char *v = getenv(name);
        char *end;
        unsigned long n;

        if (!v || !*v)
                return def;
        errno = 0;
        n = strtoul(v, &end, 10);
        /* Read in main(), outside any test: no ck_assert here. */
        if (errno || *end || n == 0 || n > 10000) {
                fprintf(stderr, "FAIL: %s=%s: a count 1..10000 is expected\n", name, v);
                exit(1);
        }
        return (unsigned)n;
}

/* ---- the stock: everything a run could leave behind ---- */

#define LOAD_MAX_NAMES 4096

struct load_names {
        char *name[LOAD_MAX_NAMES];
        unsigned n;
};

static void names_add(struct load_names *s, const char *name) {
        if (s->n < LOAD_MAX_NAMES)
                s->name[s->n++] = strdup(name);
}

static bool names_has(const struct load_names *s, const char *name) {
        for (unsigned i = 0; i < s->n; i++)
                if (strcmp(s->name[i], name) == 0)
                        return true;
        return false;
}

static void names_free(struct load_names *s) {
        for (unsigned i = 0; i < s->n; i++)
                free(s->name[i]);
        s->n = 0;
}

struct load_stock {
        unsigned fds, children, mounts, tmp, vmtaps, our_addrs;
        struct load_names child_list, tmp_list, cgroups, addr_list;
};

static unsigned count_dir(const char *path, const char *prefix, struct load_names *names) {
        DIR *d = opendir(path);
        struct dirent *e;
        unsigned n = 0;

        if (!d)
                return 0;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                    strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
                        n++;
                        if (names)
                                names_add(names, e->d_name);
                }
        closedir(d);
        return n;
}

/* Our children, live or zombie: "PID COMM STATE" each. */
static unsigned count_children(struct load_names *names) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                char path[300], stat[512], desc[sizeof(stat) + 8], *close_paren;
                int ppid;
                char state;
                FILE *f;

                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (!fgets(stat, sizeof(stat), f))
                        stat[0] = '\0';
                fclose(f);
                /* comm may hold spaces and parentheses: parse after the last ')'. */
                close_paren = strrchr(stat, ')');
                if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
                        continue;
                n++;
                *close_paren = '\0';
                snprintf(desc, sizeof(desc), "%s) %c", stat, state);
                names_add(names, desc);
        }
        closedir(d);
        return n;
}

static unsigned count_lines(const char *path) {
        FILE *f = fopen(path, "re");
        unsigned n = 0;
        int c;

        ck_assert_ptr_nonnull(f);
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

/* Interfaces holding an address in LOAD_NET: "NAME ADDRESS" each. */
static unsigned count_our_addresses(struct load_names *names) {
        struct ifaddrs *ifa = NULL;
        unsigned n = 0;

        ck_assert_int_eq(getifaddrs(&ifa), 0);
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                char addr[INET_ADDRSTRLEN], line[IF_NAMESIZE + INET_ADDRSTRLEN + 2];

                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                        continue;
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, sizeof(addr));
                if (strncmp(addr, LOAD_NET, strlen(LOAD_NET)) != 0)
                        continue;
                n++;
                snprintf(line, sizeof(line), "%s %s", i->ifa_name, addr);
                names_add(names, line);
        }
        freeifaddrs(ifa);
        return n;
}

/* Directories named vmlaunch-* anywhere under `dir` (cgroup trees are
 * shallow; the depth bound only guards against a loop). */
static void find_cgroups(const char *dir, unsigned depth, struct load_names *names) {
        DIR *d;
        struct dirent *e;

        if (depth > 16 || !(d = opendir(dir)))
                return;
        while ((e = readdir(d))) {
                char path[4096];

                if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (strncmp(e->d_name, "vmlaunch-", 9) == 0)
                        names_add(names, path);
                find_cgroups(path, depth + 1, names);
        }
        closedir(d);
}

static void stock_take(struct load_stock *s) {
        memset(s, 0, sizeof(*s));
        s->fds = count_dir("/proc/self/fd", "", NULL);
        s->children = count_children(&s->child_list);
        s->mounts = count_lines("/proc/self/mountinfo");
        count_dir("/tmp", "vmlaunch-", &s->tmp_list);
        for (unsigned i = 0; i < s->tmp_list.n; i++)
                s->tmp += strncmp(s->tmp_list.name[i], "vmlaunch-test-", 14) != 0;
        /* Every vmtap on the machine, other tests' too: for the log only. */
        s->vmtaps = count_dir("/sys/class/net", "vmtap", NULL);
        s->our_addrs = count_our_addresses(&s->addr_list);
        find_cgroups("/sys/fs/cgroup", 0, &s->cgroups);
}

static void stock_free(struct load_stock *s) {
        names_free(&s->child_list);
        names_free(&s->tmp_list);
        names_free(&s->cgroups);
        names_free(&s->addr_list);
}

/* False for a cgroup that went away meanwhile: it is no leak. */
static bool cgroup_empty(const char *path) {
        char procs[4200];
        FILE *f;
        int c;

        snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
        f = fopen(procs, "re");
        if (!f)
                return false;
        c = fgetc(f);
        fclose(f);
        return c == EOF;
}

static void print_names(const char *what, const struct load_names *s) {
        for (unsigned i = 0; i < s->n; i++)
                fprintf(stderr, "load: %s: %s\n", what, s->name[i]);
}

/* The pid of a child of ours named VM_CLOSER_COMM, or 0. */
static pid_t find_closer(void) {
        struct load_names kids = { 0 };
        pid_t found = 0;

        count_children(&kids);
        for (unsigned i = 0; i < kids.n && !found; i++)
                if (strstr(kids.name[i], "(" VM_CLOSER_COMM ")"))
                        found = (pid_t)atoi(kids.name[i]);
        names_free(&kids);
        return found;
}

/* The VMs' detached closers end by themselves once the kernel has
 * released their VMs: each is waited for (10 s in all) and reaped. */
static void reap_closers(void) {
        double until = now() + 10;
        pid_t pid;

        while ((pid = find_closer()) > 0) {
                int st;

                if (waitpid(pid, &st, WNOHANG) == pid)
                        continue;
                ck_assert_msg(now() < until, "the VM closer %d is still there after 10 s", (int)pid);
                usleep(10000);
        }
}

/* Asserts that nothing grew between `before` and now. */
static void stock_compare(const struct load_stock *before, const char *phase) {
        struct load_stock after;
        struct load_names suspects = { 0 };
        unsigned leaked_cgroups = 0, leaked_tmp = 0;

        reap_closers();
        stock_take(&after);
        fprintf(stderr,
                "load: %s: fds %u -> %u, children %u -> %u, mounts %u -> %u, /tmp/vmlaunch-* %u -> %u, "
                "vmtap* on the machine %u -> %u, our addresses %u -> %u, vmlaunch-* cgroups %u -> %u\n",
                phase, before->fds, after.fds, before->children, after.children, before->mounts, after.mounts,
                before->tmp, after.tmp, before->vmtaps, after.vmtaps, before->our_addrs, after.our_addrs,
                before->cgroups.n, after.cgroups.n);
        if (after.children > before->children)
                print_names("a process left behind (pid comm state)", &after.child_list);
        if (after.our_addrs > before->our_addrs)
                print_names("a tap left with its address", &after.addr_list);
        /* New (and for a cgroup, empty) now, and still so a second later. */
        for (unsigned i = 0; i < after.cgroups.n; i++) {
                const char *cg = after.cgroups.name[i];

                if (!names_has(&before->cgroups, cg) && cgroup_empty(cg))
                        names_add(&suspects, cg);
        }
        for (unsigned i = 0; i < after.tmp_list.n; i++) {
                char path[300];

                snprintf(path, sizeof(path), "/tmp/%s", after.tmp_list.name[i]);
                if (!names_has(&before->tmp_list, after.tmp_list.name[i]) &&
                    strncmp(after.tmp_list.name[i], "vmlaunch-test-", 14) != 0)
                        names_add(&suspects, path);
        }
        if (suspects.n)
                sleep(1);
        for (unsigned i = 0; i < suspects.n; i++) {
                const char *path = suspects.name[i];
                bool tmp = strncmp(path, "/tmp/", 5) == 0;

                if (access(path, F_OK) != 0 || (!tmp && !cgroup_empty(path)))
                        continue;
                fprintf(stderr, "load: left behind: %s\n", path);
                if (tmp)
                        leaked_tmp++;
                else
                        leaked_cgroups++;
        }
        names_free(&suspects);
        ck_assert_uint_le(after.fds, before->fds);
        ck_assert_uint_le(after.children, before->children);
        ck_assert_uint_le(after.mounts, before->mounts);
        ck_assert_uint_eq(leaked_tmp, 0);
        ck_assert_uint_le(after.our_addrs, before->our_addrs);
        ck_assert_uint_eq(leaked_cgroups, 0);
        stock_free(&after);
}

/* A mount namespace of our own, and orphans for us.  (Not a private /tmp:
 * the build, vmlaunch included, may live under /tmp.) */
static void load_isolate(void) {
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        /* The config directory exists before the stock is taken. */
        vmrun_tmpdir();
}

/* ---- one run ---- */

static void load_spawn(struct load_run *run, unsigned idx) {
        static const char *const plugin_args[LOAD_KINDS] = {
                [LOAD_HELLO] = "",
                /* 2 ms per exit: twenty busy VMs must leave the CPUs to the rest. */
                [LOAD_SIGTERM] = "\"2000\"",
                [LOAD_CRASH] = "",
        };
        char conf[512], plugin[512], net[256] = "";
        unsigned slot = LOAD_TAP_SLOT(idx);
        int outp[2], errp[2], null_fd;
        FILE *f;

        memset(run, 0, sizeof(*run));
        run->idx = idx;
        run->kind = (enum load_kind)(idx % LOAD_KINDS);
        run->tap = LOAD_HAS_TAP(idx);
        if (run->kind == LOAD_HELLO)
                snprintf(plugin, sizeof(plugin), "%s", HELLO_PLUGIN);
        else
                snprintf(plugin, sizeof(plugin), "%s/%s", TEST_PLUGIN_DIR,
                         run->kind == LOAD_SIGTERM ? "busy" : "crash");
        if (run->tap)
                snprintf(net, sizeof(net),
                         "network = { host_ip = \"" LOAD_NET "%u\"; netmask = \"255.255.255.252\"; "
                         "mac = \"de:21:e8:47:6c:%02x\"; };\n",
                         4 * slot + 1, slot);

        snprintf(conf, sizeof(conf), "%s/load%u.conf", vmrun_tmpdir(), idx);
        f = fopen(conf, "we");
        load_assert(f, "%s: %s", conf, strerror(errno));
        /* Each run its own name: anything keyed by name must not collide. */
        fprintf(f,
                "name = \"load-%d-%u\";\n"
                "shutdown_timeout_ms = %u;\n"
                "plugin = {\n"
                "  path = \"%s\";\n"
                "  args = [ %s ];\n"
                "%s"
                "};\n"
                "sandbox = { enabled = true; seccomp_policy = \"%s\"; };\n"
                "%s",
                (int)getpid(), idx, LOAD_DEADLINE_MS, plugin, plugin_args[run->kind], test_plugin_env(),
                TEST_SECCOMP_POLICY, net);
        load_assert(fclose(f) == 0, "%s: %s", conf, strerror(errno));

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        load_assert(null_fd >= 0 && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0,
                    "pipes: %s", strerror(errno));
        run->start = now();
        run->pid = fork();
        load_assert(run->pid >= 0, "fork: %s", strerror(errno));
        if (run->pid == 0) {
                char *argv[] = { (char *)VMLAUNCH_BIN, (char *)"--headless", (char *)"-c", conf, NULL };

                /* Every other fd of ours is CLOEXEC: vmlaunch gets 0, 1, 2. */
                dup2(null_fd, 0);
                dup2(outp[1], 1);
                dup2(errp[1], 2);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("WATCHDOG_USEC");
                execv(argv[0], argv);
                _exit(127);
        }
        close(null_fd);
        close(outp[1]);
        close(errp[1]);
        run->out_fd = outp[0];
        run->err_fd = errp[0];
        if (getenv("HOSTILE_LOAD_VERBOSE"))
                fprintf(stderr, "load: run %u (kind %d, tap %d): pid %d\n", idx, (int)run->kind, (int)run->tap,
                        (int)run->pid);
}

static void buf_read(struct load_buf *b, int *fd) {
        char chunk[4096];
        ssize_t n = read(*fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
                return;
        if (n <= 0) {
                close(*fd);
                *fd = -1;
                return;
        }
        if (b->len + (size_t)n + 1 > b->cap) {
                b->cap = (b->len + (size_t)n + 1) * 2;
                b->p = realloc(b->p, b->cap);
                ck_assert_ptr_nonnull(b->p);
        }
        memcpy(b->p + b->len, chunk, (size_t)n);
        b->len += (size_t)n;
        b->p[b->len] = '\0';
}

/* Follows the tap the "started" event names, once it is out: by ifindex,
 * and only while it holds this run's address (the name alone may already
 * be another test's tap, if this run was quick). */
static void follow_tap(struct load_run *run) {
        char want[INET_ADDRSTRLEN + IF_NAMESIZE + 2];
        struct load_names addrs = { 0 };
        json_object *ev;
        const char *tap;
        char *nl;

        if (!run->tap || run->tap_name[0] || !run->out.p || !(nl = strchr(run->out.p, '\n')))
                return;
        *nl = '\0';
        ev = json_tokener_parse(run->out.p);
        *nl = '\n';
        tap = vmrun_str(ev, "tap");
        load_assert(tap && strncmp(tap, "vmtap", 5) == 0, "run %u: no tap in its first status line:\n%s", run->idx,
                    run->out.p);
        snprintf(run->tap_name, sizeof(run->tap_name), "%s", tap);
        json_object_put(ev);
        snprintf(want, sizeof(want), "%s " LOAD_NET "%u", run->tap_name, 4 * LOAD_TAP_SLOT(run->idx) + 1);
        count_our_addresses(&addrs);
        if (names_has(&addrs, want))
                run->tap_index = if_nametoindex(run->tap_name);
        names_free(&addrs);
}

static bool str_is(const char *s, const char *want) {
        return s && strcmp(s, want) == 0;
}

static void dump_run(const struct load_run *run, int status) {
        fprintf(stderr, "--- run %u (kind %d, tap %d): status %d after %.3f s\n--- stdout:\n%.8192s\n"
                        "--- stderr:\n%.8192s\n---\n",
                run->idx, (int)run->kind, (int)run->tap, status, now() - run->start, run->out.p ? run->out.p : "",
                run->err.p ? run->err.p : "");
}

/* The run's output is complete: reap it and check how it ended. */
static void load_finish(struct load_run *run, struct load_figures *fig) {
        static const int expect_status[LOAD_KINDS] = { [LOAD_HELLO] = 0, [LOAD_SIGTERM] = 0, [LOAD_CRASH] = 33 };
        static const char *const expect_plugin[LOAD_KINDS] = {
                [LOAD_HELLO] = "exited 0",
                [LOAD_SIGTERM] = "exited 0",
                [LOAD_CRASH] = "killed by SIGSEGV",
        };
        struct vmrun r = { 0 };
        char name[IF_NAMESIZE], exit_code[16], *copy, *save = NULL;
        json_object *last;
        int st;

        load_assert(waitpid(run->pid, &st, 0) == run->pid, "waitpid: %s", strerror(errno));
        run->pid = 0;
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        snprintf(exit_code, sizeof(exit_code), "%d", r.status);
        if (getenv("HOSTILE_LOAD_VERBOSE"))
                fprintf(stderr, "load: run %u: status %d after %.3f s\n", run->idx, r.status, now() - run->start);
        if (run->signal_at > 0 && now() - run->signal_at > fig->max_stop)
                fig->max_stop = now() - run->signal_at;

        r.all_json = true;
        copy = strdup(run->out.p ? run->out.p : "");
        ck_assert_ptr_nonnull(copy);
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                json_object *ev = json_tokener_parse(line);

                if (!ev) {
                        r.all_json = false;
                        continue;
                }
                r.events = realloc(r.events, (r.n_events + 1) * sizeof(*r.events));
                r.events[r.n_events++] = ev;
        }
        free(copy);
        last = r.n_events ? r.events[r.n_events - 1] : NULL;
        if (r.status != expect_status[run->kind] || !r.all_json || !str_is(vmrun_str(last, "event"), "exited") ||
            !str_is(vmrun_str(last, "exit_code"), exit_code) ||
            !str_is(vmrun_str(last, "plugin"), expect_plugin[run->kind]) ||
            (run->kind == LOAD_SIGTERM && run->signal_at <= 0)) {
                dump_run(run, r.status);
                load_assert(false, "run %u ended wrongly: status %d (expected %d), see above", run->idx, r.status,
                            expect_status[run->kind]);
        }
        /* The tap goes with its vmlaunch, at once. */
        if (run->tap) {
                load_assert(run->tap_name[0], "run %u: no started event", run->idx);
                load_assert(!run->tap_index || !if_indextoname(run->tap_index, name),
                            "run %u: tap %s (ifindex %u) outlived its vmlaunch", run->idx, run->tap_name,
                            run->tap_index);
                fig->taps++;
                fig->taps_followed += run->tap_index != 0;
        }
        for (size_t i = 0; i < r.n_events; i++)
                json_object_put(r.events[i]);
        free(r.events);
        free(run->out.p);
        free(run->err.p);
}

/* Runs `total` runs, `width` at a time, numbered from `first`. */
static void load_phase(unsigned first, unsigned total, unsigned width, struct load_figures *fig) {
        struct pollfd *p = calloc(2 * (size_t)width, sizeof(*p));
        unsigned next = 0, active = 0;
        unsigned long avail;
        double start = now();

        load_slots = calloc(width, sizeof(*load_slots));
        load_width = width;
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(load_slots);
        memset(fig, 0, sizeof(*fig));
        while (next < total || active > 0) {
                for (unsigned i = 0; i < width && next < total; i++)
                        if (load_slots[i].pid == 0) {
                                load_spawn(&load_slots[i], first + next++);
                                active++;
                        }
                if (active > fig->peak)
                        fig->peak = active;
                avail = mem_available_mib();
                if (!fig->min_avail_mib || avail < fig->min_avail_mib)
                        fig->min_avail_mib = avail;
                for (unsigned i = 0; i < width; i++) {
                        bool live = load_slots[i].pid > 0;

                        p[2 * i] = (struct pollfd){ live ? load_slots[i].out_fd : -1, POLLIN, 0 };
                        p[2 * i + 1] = (struct pollfd){ live ? load_slots[i].err_fd : -1, POLLIN, 0 };
                }
                load_assert(poll(p, 2 * width, 50) >= 0 || errno == EINTR, "poll: %s", strerror(errno));
                for (unsigned i = 0; i < width; i++) {
                        struct load_run *run = &load_slots[i];

                        if (run->pid == 0)
                                continue;
                        if (p[2 * i].revents)
                                buf_read(&run->out, &run->out_fd);
                        if (p[2 * i + 1].revents)
                                buf_read(&run->err, &run->err_fd);
                        follow_tap(run);
                        if (!run->running_at && run->out.p && strstr(run->out.p, "\"event\":\"running\""))
                                run->running_at = now();
                        if (run->kind == LOAD_SIGTERM && run->running_at && !run->signal_at &&
                            now() - run->running_at >= LOAD_SIGNAL_DELAY_S) {
                                kill(run->pid, SIGTERM);
                                run->signal_at = now();
                        }
                        if (now() - run->start > LOAD_RUN_TIMEOUT_S) {
                                dump_run(run, -1);
                                load_assert(false, "run %u did not end within %d s", run->idx, LOAD_RUN_TIMEOUT_S);
                        }
                        if (run->out_fd < 0 && run->err_fd < 0) {
                                load_finish(run, fig);
                                active--;
                        }
                }
        }
        fig->seconds = now() - start;
        free(p);
        free(load_slots);
        load_slots = NULL;
        load_width = 0;
}

/* ---- the tests ---- */

static void load_test(const char *phase, unsigned first, unsigned total, unsigned width) {
        struct load_stock before;
        struct load_figures fig;

        load_isolate();
        stock_take(&before);
        load_phase(first, total, width, &fig);
        fprintf(stderr,
                "load: %s: %u runs, %u at most at once, %u with a tap (%u followed by ifindex): %.1f s (%.2f s a run); "
                "slowest stop after SIGTERM %.3f s; MemAvailable at least %lu MiB\n",
                phase, total, fig.peak, fig.taps, fig.taps_followed, fig.seconds, fig.seconds / total, fig.max_stop,
                fig.min_avail_mib);
        stock_compare(&before, phase);
        stock_free(&before);
}

/* The sizes: 20 at once, and 200 in a row where /dev/kvm is real.  In
 * the kvmhost guest (VMLAUNCH_KVMHOST), on emulated CPUs, 20 at once fits
 * its 2 GiB (MemAvailable stayed above 1.8 GiB; 1.5 GiB with the
 * sanitizers) and took 3 to 28 s; a run in a row took 0.5 to 5.5 s,
 * depending on what else this machine ran.  But the emulated guest itself
 * freezes (no heartbeat, nothing on its console) or panics (a soft lockup)
 * after some tens of VM launches in one boot: seen after 18, 36 and 54
 * runs in a row, and in 3 of 3 boots running 20 at once then 40 in a row,
 * never while the 20 ran.  So the guest gets 10 in a row: a freeze there
 * is the emulator's, and a longer series only makes it likelier.
 * HOSTILE_LOAD_PARALLEL and HOSTILE_LOAD_SERIAL override both. */
#define LOAD_GUEST_SERIAL 10
static unsigned load_parallel, load_serial;

START_TEST(test_load_parallel) {
        load_test("at once", 0, load_parallel, load_parallel);
}
END_TEST

START_TEST(test_load_serial) {
        load_test("in a row", 0, load_serial, 1);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_load");
        TCase *parallel = tcase_create("parallel"), *serial = tcase_create("serial");

        test_require(test_have_kvm(), "/dev/kvm (KVM API 12)");
        test_require(test_is_root(), "root (the jail's gid maps, the taps, a mount namespace)");
        load_parallel = env_size("HOSTILE_LOAD_PARALLEL", 20);
        load_serial = env_size("HOSTILE_LOAD_SERIAL", getenv("VMLAUNCH_KVMHOST") ? LOAD_GUEST_SERIAL : 200);
        /* Each run is bounded by LOAD_RUN_TIMEOUT_S; these only bound a
         * stuck harness.  (ctest's TIMEOUT bounds the default sizes.) */
        tcase_set_timeout(parallel, LOAD_RUN_TIMEOUT_S + 60);
        tcase_set_timeout(serial, (double)load_serial * LOAD_RUN_TIMEOUT_S + 60);
        tcase_add_test(parallel, test_load_parallel);
        tcase_add_test(serial, test_load_serial);
        suite_add_tcase(s, parallel);
        suite_add_tcase(s, serial);
        return test_run_suite(s);
}
