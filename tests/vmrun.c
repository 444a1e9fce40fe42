#include "vmrun.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static void cleanup_tmpdir(void) {
        char cmd[128];

        if (tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", tmpdir);
        }
}

const char *vmrun_tmpdir(void) {
        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmlaunch-test-XXXXXX");
                ck_assert_ptr_nonnull(mkdtemp(tmpdir));
                atexit(cleanup_tmpdir);
        }
        return tmpdir;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
        char *p;
        size_t len, cap;
};

/* Whether `needle` is in b, looking only at what arrived since the last
 * call with this `scanned` (and the bytes a match could straddle): flood
 * tests make megabytes of output. */
static bool found_in(const struct buf *b, size_t *scanned, const char *needle) {
        size_t n = strlen(needle), from = *scanned >= n ? *scanned - n + 1 : 0;

        if (!b->p)
                return false;
        *scanned = b->len;
        return strstr(b->p + from, needle) != NULL;
}

/* VmHWM of `pid` in KiB, or -1. */
static long vm_hwm(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static void buf_read(struct buf *b, int *fd) {
        char chunk[65536];
        ssize_t n = read(*fd, chunk, sizeof(chunk));

        if (n <= 0) {
                if (n < 0 && errno == EINTR)
                        return;
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

/* A run that did not finish: where every thread of vmlaunch stands, on
 * stderr, before it is killed (gdb where the machine has it; the kernel's
 * wait channels in any case). */
static void dump_stacks(pid_t pid) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd),
                 "for t in /proc/%d/task/*; do echo \"$t $(cat $t/comm) $(cat $t/wchan)\"; done >&2; "
                 "command -v gdb > /dev/null && timeout 60 gdb -batch -p %d -ex 'thread apply all bt' >&2 2>&1",
                 (int)pid, (int)pid);
        fflush(stderr);
        if (system(cmd) == -1)
                fprintf(stderr, "vmrun: could not run the stack dump\n");
}

void vmrun(const struct vmrun_opts *o, struct vmrun *ret) {
        static unsigned counter;
        char conf[256];
        const char *argv[32];
        int outp[2], errp[2];
        struct buf out = { 0 }, err = { 0 };
        int timeout = o->timeout_s ? o->timeout_s : 60;
        bool signalled = false, signalled_again = false, hooked = false, exited = false;
        bool hook_found = false, triggered = false;
        size_t scan[4] = { 0 };         /* found_in: trigger in out, err; hook in out, err */
        double start, signal_time = 0, running_time = 0, exit_time = 0, sampled = 0;
        const char *bin = getenv("VMRUN_VMLAUNCH") ? getenv("VMRUN_VMLAUNCH") : VMLAUNCH_BIN;
        size_t k = 0;
        FILE *f;
        pid_t pid;
        int st;

        memset(ret, 0, sizeof(*ret));
        snprintf(conf, sizeof(conf), "%s/vm%u.conf", vmrun_tmpdir(), counter++);
        f = fopen(conf, "w");
        ck_assert_ptr_nonnull(f);
        fputs(o->config, f);
        fclose(f);

        argv[k++] = bin;
        argv[k++] = "--headless";
        argv[k++] = "-c";
        argv[k++] = conf;
        for (size_t i = 0; o->extra_args && o->extra_args[i]; i++)
                argv[k++] = o->extra_args[i];
        argv[k] = NULL;

        ck_assert_int_eq(pipe2(outp, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
        start = now();
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (o->close_stdout) {
                        int dead[2];

                        /* A reader that went away: every write gets EPIPE. */
                        if (pipe(dead) < 0)
                                _exit(127);
                        close(dead[0]);
                        dup2(dead[1], 1);
                } else
                        dup2(outp[1], 1);
                dup2(errp[1], 2);
                if (o->watchdog_usec)
                        setenv("WATCHDOG_USEC", o->watchdog_usec, 1);
                else
                        unsetenv("WATCHDOG_USEC");
                if (o->notify_socket)
                        setenv("NOTIFY_SOCKET", o->notify_socket, 1);
                else
                        unsetenv("NOTIFY_SOCKET");
                execv(argv[0], (char **)argv);
                _exit(127);
        }
        close(outp[1]);
        close(errp[1]);
        while (outp[0] >= 0 || errp[0] >= 0) {
                bool stalled = (now() - start < o->stall_stdout_ms / 1000.0) ||
                               (o->stall_stdout_until_exit && !exited);
                bool err_stalled = o->stall_stderr_until_exit && !exited;
                struct pollfd p[2] = { { stalled ? -1 : outp[0], POLLIN, 0 },
                                       { err_stalled ? -1 : errp[0], POLLIN, 0 } };

                if (poll(p, 2, exited ? 50 : 10) < 0 && errno != EINTR)
                        ck_abort_msg("poll: %s", strerror(errno));
                if (p[0].revents)
                        buf_read(&out, &outp[0]);
                if (p[1].revents)
                        buf_read(&err, &errp[0]);
                if (!exited) {
                        siginfo_t si = { 0 };

                        if (o->sample_rss && now() - sampled >= 0.02) {
                                long kib = vm_hwm(pid);

                                if (kib > ret->vm_hwm_kib)
                                        ret->vm_hwm_kib = kib;
                                sampled = now();
                        }
                        /* WNOWAIT: the zombie stays, and its pid with it,
                         * for a late signal or hook. */
                        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
                                exited = true;
                                exit_time = now();
                        }
                }
                if (o->signal && !triggered)
                        triggered = o->signal_when ? found_in(&out, &scan[0], o->signal_when) ||
                                                             found_in(&err, &scan[1], o->signal_when)
                                                   : found_in(&out, &scan[0], "\"event\":\"running\"");
                if (triggered && !running_time)
                        running_time = now();
                if (o->signal && !signalled && running_time &&
                    now() - running_time >= o->signal_delay_ms / 1000.0) {
                        kill(pid, o->signal);
                        signalled = true;
                        signal_time = now();
                }
                if (o->hook && !hook_found)
                        hook_found = found_in(&out, &scan[2], o->hook_when) || found_in(&err, &scan[3], o->hook_when);
                if (hook_found && !hooked) {
                        hooked = true;
                        o->hook(pid, o->hook_arg);
                        ret->hook_seconds = now() - start;
                }
                if (o->signal_again_ms && signalled && !signalled_again &&
                    now() - signal_time > o->signal_again_ms / 1000.0) {
                        kill(pid, o->signal);
                        signalled_again = true;
                }
                if (now() - start > timeout) {
                        dump_stacks(pid);
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        /* Short: check passes the message through a pipe. */
                        ck_abort_msg("vmlaunch did not finish within %d s (signal sent at %.3f s); stderr "
                                     "begins:\n%.2048s",
                                     timeout, signalled ? signal_time - start : 0.0, err.p ? err.p : "");
                }
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        if (!exited)
                exit_time = now();
        ret->seconds = exit_time - start;
        ret->signal_seconds = signalled ? signal_time - start : 0;
        ret->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        ret->out = out.p ? out.p : strdup("");
        ret->err = err.p ? err.p : strdup("");
        if (o->signal)
                ck_assert_msg(signalled, "never saw the running event; stderr:\n%s", ret->err);
        if (o->hook)
                ck_assert_msg(hooked, "never saw \"%s\"; stderr:\n%s", o->hook_when, ret->err);

        /* Parse every stdout line. */
        ret->all_json = true;
        {
                char *copy = strdup(ret->out), *save = NULL;

                for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        json_object *ev = json_tokener_parse(line);

                        if (!ev) {
                                ret->all_json = false;
                                continue;
                        }
                        ret->events = realloc(ret->events, (ret->n_events + 1) * sizeof(*ret->events));
                        ret->events[ret->n_events++] = ev;
                }
                free(copy);
        }
}

void vmrun_free(struct vmrun *r) {
        for (size_t i = 0; i < r->n_events; i++)
                json_object_put(r->events[i]);
        free(r->events);
        free(r->out);
        free(r->err);
}

const char *vmrun_str(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return json_object_get_string(v);
}

json_object *vmrun_event(const struct vmrun *r, const char *name, size_t nth) {
        for (size_t i = 0; i < r->n_events; i++) {
                const char *ev = vmrun_str(r->events[i], "event");

                if (ev && strcmp(ev, name) == 0 && nth-- == 0)
                        return r->events[i];
        }
        return NULL;
}

double vmrun_time(json_object *o) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, "time", &v))
                return -1;
        return json_object_get_double(v);
}

bool vmrun_output_has(const struct vmrun *r, const char *needle) {
        for (size_t i = 0; i < r->n_events; i++) {
                const char *line = vmrun_str(r->events[i], "line");

                if (line && strstr(line, needle))
                        return true;
        }
        return false;
}
