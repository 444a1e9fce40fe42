/* End to end: the real vmlaunch binary, real KVM VMs, real plugin
 * processes built against our SDK.  Needs /dev/kvm. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "test_util.h"
#include "vmrun.h"

static char config_buf[4096];

/* A config for `plugin` (a path) with `args` (libconfig list items, may be
 * empty) and the given vCPU count and countdown. */
static const char *config(const char *plugin, const char *args, unsigned vcpus, unsigned timeout_ms) {
        snprintf(config_buf, sizeof(config_buf),
                 "name = \"e2e\";\n"
                 "vcpus = %u;\n"
                 "shutdown_timeout_ms = %u;\n"
                 "plugin = {\n"
                 "  path = \"%s\";\n"
                 "  args = [ %s ];\n"
                 "%s"
                 "};\n"
                 "sandbox = { seccomp_policy = \"%s\"; };\n",
                 vcpus, timeout_ms, plugin, args, test_plugin_env(), TEST_SECCOMP_POLICY);
        return config_buf;
}

static const char *test_plugin(const char *name) {
        static char path[512];

        snprintf(path, sizeof(path), "%s/%s", TEST_PLUGIN_DIR, name);
        return path;
}

/* The contract of every run: all stdout lines are JSON, the first event
 * is "started", the last is "exited" with the process's exit status. */
static void check_envelope(const struct vmrun *r) {
        json_object *last;

        ck_assert_msg(r->all_json, "a stdout line is not JSON:\n%s", r->out);
        ck_assert_uint_ge(r->n_events, 2);
        ck_assert_str_eq(vmrun_str(r->events[0], "event"), "started");
        last = r->events[r->n_events - 1];
        ck_assert_str_eq(vmrun_str(last, "event"), "exited");
        ck_assert_int_eq(atoi(vmrun_str(last, "exit_code")), r->status);
}

static void dump(const struct vmrun *r) {
        fprintf(stderr, "--- status %d, %.3f s\n--- stdout:\n%s--- stderr:\n%s---\n", r->status, r->seconds,
                r->out, r->err);
}

START_TEST(test_hello) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(HELLO_PLUGIN, "", 1, 2000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        ck_assert(vmrun_output_has(&r, "Hello from the guest!"));
        ck_assert_ptr_nonnull(vmrun_event(&r, "running", 0));
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "shutdown"));
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "plugin"), "exited 0");
        vmrun_free(&r);
}
END_TEST

/* A closed stdout (the status reader went away) stops the VM as SIGTERM
 * does, and stderr says why (test_headless.c: a reader that leaves). */
START_TEST(test_closed_stdout) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(HELLO_PLUGIN, "", 1, 2000), .close_stdout = true };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.err, "status output failed"));
        ck_assert_ptr_nonnull(strstr(r.err, "stdout was closed by its reader"));
        ck_assert_ptr_nonnull(strstr(r.err, "exit 0: shutdown"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_plugin_error_exit) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("exit_code"), "\"3\"", 1, 1000) };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 1);
        check_envelope(&r);
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "status 3"));
        ck_assert_ptr_nonnull(strstr(r.err, "exit 1: error: the plugin exited with status 3"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_plugin_reset_exit) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("exit_code"), "\"32\"", 1, 1000) };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 32);
        check_envelope(&r);
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "reset"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_plugin_crash) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("crash"), "", 1, 1000) };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 33);
        check_envelope(&r);
        ck_assert(vmrun_output_has(&r, "about to crash"));
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "SIGSEGV"));
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "plugin"), "killed by SIGSEGV");
        vmrun_free(&r);
}
END_TEST

START_TEST(test_hung_plugin_killed_at_deadline) {
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config(test_plugin("ignore_shutdown"), "", 1, 500),
                .signal = SIGTERM,
        };
        json_object *stopping;

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 1);
        check_envelope(&r);
        stopping = vmrun_event(&r, "stopping", 0);
        ck_assert_ptr_nonnull(stopping);
        ck_assert_ptr_nonnull(strstr(vmrun_str(stopping, "reason"), "SIGTERM"));
        ck_assert_int_le(atoi(vmrun_str(stopping, "deadline_ms")), 500);
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "hung plugin killed"));
        /* Killed at the deadline: 500 ms after the stop, within a margin. */
        {
                double waited = vmrun_time(vmrun_event(&r, "exited", 0)) - vmrun_time(stopping);

                ck_assert_msg(waited >= 0.45 && waited < 0.5 + 2.0, "died %.3f s after the stop", waited);
        }
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "plugin"), "killed by SIGKILL");
        vmrun_free(&r);
}
END_TEST

START_TEST(test_second_sigterm_kills_now) {
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config(test_plugin("ignore_shutdown"), "", 1, 60000),
                .signal = SIGTERM,
                .signal_again_ms = 200,
                .timeout_s = 30,
        };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 1);
        check_envelope(&r);
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "killed on request"));
        /* Far sooner than the 60 s countdown. */
        ck_assert(r.seconds < 20);
        vmrun_free(&r);
}
END_TEST

/* SIGTERM: a graceful stop within the countdown, exit 0; the events are
 * started, running, stopping, exited in that order; and a service manager
 * listening on NOTIFY_SOCKET hears READY=1 and then STOPPING=1. */
START_TEST(test_sigterm_graceful_and_sd_notify) {
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        char sock_path[sizeof(addr.sun_path)], buf[512], seen[2048] = "";
        struct vmrun r;
        /* Paced (busy's 500 us per exit): two flat-out vCPUs take every
         * CPU of a slow machine, and the stop then takes the time limit. */
        struct vmrun_opts o = {
                .config = config(test_plugin("busy"), "\"500\"", 2, 5000),
                .signal = SIGTERM,
                .signal_delay_ms = 1500,
                .notify_socket = sock_path,
                .watchdog_usec = "400000",
        };
        const char *order[] = { "started", "running", "stopping", "exited" };
        size_t next = 0;
        ssize_t n;
        int fd;

        snprintf(sock_path, sizeof(sock_path), "%s/notify.sock", vmrun_tmpdir());
        memcpy(addr.sun_path, sock_path, sizeof(addr.sun_path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        for (size_t i = 0; i < r.n_events && next < 4; i++)
                if (strcmp(vmrun_str(r.events[i], "event"), order[next]) == 0)
                        next++;
        ck_assert_msg(next == 4, "events out of order:\n%s", r.out);
        ck_assert(vmrun_time(vmrun_event(&r, "exited", 0)) - vmrun_time(vmrun_event(&r, "stopping", 0)) < 5.0);
        ck_assert(vmrun_output_has(&r, "busy: stopping"));
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "plugin"), "exited 0");
        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
                buf[n] = '\0';
                strncat(seen, buf, sizeof(seen) - strlen(seen) - 2);
                strcat(seen, "\n");
        }
        close(fd);
        ck_assert_msg(strstr(seen, "READY=1") && strstr(seen, "STOPPING=1") &&
                              strstr(seen, "READY=1") < strstr(seen, "STOPPING=1"),
                      "sd_notify messages: %s", seen);
        ck_assert_ptr_nonnull(strstr(seen, "EXTEND_TIMEOUT_USEC="));
        /* WatchdogSec=0.4 s: pings every 0.2 s while it ran. */
        ck_assert_msg(strstr(seen, "WATCHDOG=1"), "no watchdog ping: %s", seen);
        vmrun_free(&r);
}
END_TEST

/* One protocol area per run of protocol_probe (see its header), with
 * `more` appended to the config. */
static void probe_with(const char *mode, unsigned vcpus, const char *more) {
        static char text[sizeof(config_buf) + 256];
        struct vmrun r;
        char args[64];
        struct vmrun_opts o = { .config = NULL };

        snprintf(args, sizeof(args), "\"%s\"", mode);
        snprintf(text, sizeof(text), "%s%s", config(test_plugin("protocol_probe"), args, vcpus, 2000), more);
        o.config = text;
        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_msg(r.status == 0, "protocol_probe %s: exit %d", mode, r.status);
        vmrun_free(&r);
}

static void probe(const char *mode, unsigned vcpus) { probe_with(mode, vcpus, ""); }

START_TEST(test_ioeventfd) { probe("ioevent", 1); }
END_TEST
START_TEST(test_async_write) { probe("async", 1); }
END_TEST
START_TEST(test_dirty_log) { probe("dirty", 1); }
END_TEST
START_TEST(test_pause_second_connection) { probe("pause", 2); }
END_TEST
START_TEST(test_state_round_trips) { probe("state", 1); }
END_TEST
START_TEST(test_guest_reads_msr_cpuid_dr) { probe("regs", 1); }
END_TEST
START_TEST(test_bad_requests_clean_errnos) { probe("errors", 1); }
END_TEST
START_TEST(test_irq_pic_msi_routes) { probe("irq", 1); }
END_TEST
START_TEST(test_call_hint_eager_regs) { probe("hint", 1); }
END_TEST
/* The same with the SDK kept on the pipes after Init. */
START_TEST(test_call_hint_eager_regs_pipes) { probe_with("hint", 1, "lane = false;\n"); }
END_TEST
START_TEST(test_state_round_trips_pipes) { probe_with("state", 1, "lane = false;\n"); }
END_TEST

static void sigterm_hook(int pid, void *arg) {
        (void)arg;
        kill(pid, SIGTERM);
}

/* A plugin that stops taking events while the guest floods an async port:
 * the vCPU thread blocks writing to a full lane or pipe, and a stop must
 * still end the run cleanly (it wakes that thread; nobody else reads). */
static void flood(const char *more) {
        static char text[sizeof(config_buf) + 64];
        struct vmrun r;
        struct vmrun_opts o = { .config = text, .hook_when = "flood: full", .hook = sigterm_hook, .timeout_s = 30 };
        const char *reason;

        snprintf(text, sizeof(text), "%s%s", config(test_plugin("protocol_probe"), "\"flood\"", 1, 2000), more);
        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        check_envelope(&r);
        reason = vmrun_str(r.events[r.n_events - 1], "reason");
        ck_assert_msg(vmrun_output_has(&r, "flood: full"), "the plugin never saw the lane or pipe full: %s", r.err);
        ck_assert_msg(r.status == 0 && reason && strstr(reason, "stopped on request"), "exit %d: %s", r.status,
                      reason ? reason : "(no reason)");
        vmrun_free(&r);
}

START_TEST(test_stop_with_full_lane) { flood(""); }
END_TEST
START_TEST(test_stop_with_full_pipe) { flood("lane = false;\n"); }
END_TEST

/* A plugin that writes an impossible index into its lane ends the VM as
 * failed, with the reason; vmlaunch neither crashes nor hangs. */
START_TEST(test_lane_vandal) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("protocol_probe"), "\"vandal\"", 1, 2000) };
        const char *reason;

        vmrun(&o, &r);
        check_envelope(&r);
        reason = vmrun_str(r.events[r.n_events - 1], "reason");
        ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
        ck_assert_msg(reason && strstr(reason, "vCPU 0: the plugin broke the lane"), "reason: %s",
                      reason ? reason : "(none)");
        vmrun_free(&r);
}
END_TEST

/* The hash kvm_answers computes over the same fields. */
static uint64_t fnv(uint64_t h, uint32_t v) {
        for (int i = 0; i < 4; i++) {
                h ^= (v >> (8 * i)) & 0xff;
                h *= 0x100000001b3ull;
        }
        return h;
}

static void add_list(char *buf, size_t size, const char *name, int r, const struct kvm_cpuid2 *c) {
        uint64_t h = 0xcbf29ce484222325ull;
        size_t len = strlen(buf);

        if (r < 0) {
                snprintf(buf + len, size - len, "\"%s=%d\", ", name, -errno);
                return;
        }
        for (uint32_t i = 0; i < c->nent; i++) {
                const struct kvm_cpuid_entry2 *e = &c->entries[i];
                /* The host CPU's APIC id, which varies: as kvm_answers. */
                uint32_t ebx = e->function == 1 ? e->ebx & 0x00ffffff : e->ebx;
                uint32_t edx = e->function == 0xb || e->function == 0x1f ? 0 : e->edx;

                h = fnv(fnv(fnv(fnv(fnv(fnv(h, e->function), e->index), e->eax), ebx), e->ecx), edx);
        }
        snprintf(buf + len, size - len, "\"%s=%u/%016llx\", ", name, c->nent, (unsigned long long)h);
}

/* Asks KVM, on a VM set up as vmlaunch sets up its own, everything the
 * kvm_answers plugin will ask vmlaunch; returns its argument list. */
static char *kvm_expectations(void) {
        static const unsigned caps[] = {
                KVM_CAP_IRQCHIP, KVM_CAP_HLT, KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_NR_VCPUS,
                KVM_CAP_IRQFD, KVM_CAP_PIT2, KVM_CAP_IOEVENTFD, KVM_CAP_DEBUGREGS, KVM_CAP_XSAVE, KVM_CAP_XCRS,
                KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_HYPERV_SYNIC, KVM_CAP_X2APIC_API, KVM_CAP_HYPERV_CPUID, 0xffff,
        };
        static const unsigned enables[] = { KVM_CAP_HYPERV_SYNIC, KVM_CAP_HYPERV_SYNIC2 };
        size_t size = 4096, len;
        char *buf = calloc(1, size);
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 512 * sizeof(struct kvm_cpuid_entry2));
        struct kvm_msr_list *m = calloc(1, sizeof(*m) + 512 * sizeof(uint32_t));
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu, r;
        uint64_t h = 0xcbf29ce484222325ull;

        ck_assert(buf && c && m);
        ck_assert_msg(kvm >= 0, "/dev/kvm: %s", strerror(errno));
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        ck_assert_int_ge(vm, 0);
        ck_assert_int_eq(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0);
        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
                len = strlen(buf);
                r = ioctl(vm, KVM_CHECK_EXTENSION, caps[i]);
                /* has_extension is true only for exactly 1, as crosvm had it. */
                snprintf(buf + len, size - len, "\"ext:%u=%d\", ", caps[i], r == 1);
        }
        c->nent = 512;
        add_list(buf, size, "cpuid:supported", ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c), c);
        c->nent = 512;
        add_list(buf, size, "cpuid:emulated", ioctl(kvm, KVM_GET_EMULATED_CPUID, c), c);
        m->nmsrs = 512;
        ck_assert_int_eq(ioctl(kvm, KVM_GET_MSR_INDEX_LIST, m), 0);
        for (uint32_t i = 0; i < m->nmsrs; i++)
                h = fnv(h, m->indices[i]);
        len = strlen(buf);
        snprintf(buf + len, size - len, "\"msrs=%u/%016llx\", ", m->nmsrs, (unsigned long long)h);
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        ck_assert_int_ge(vcpu, 0);
        c->nent = 512;
        add_list(buf, size, "hvcpuid", ioctl(vcpu, KVM_GET_SUPPORTED_HV_CPUID, c), c);
        for (size_t i = 0; i < sizeof(enables) / sizeof(enables[0]); i++) {
                struct kvm_enable_cap cap = { .cap = enables[i] };

                r = ioctl(vcpu, KVM_ENABLE_CAP, &cap);
                len = strlen(buf);
                snprintf(buf + len, size - len, "\"enable:%u=%d\", ", enables[i], r < 0 ? -errno : 0);
        }
        /* Any other capability is refused by the host, as crosvm did. */
        len = strlen(buf);
        snprintf(buf + len, size - len, "\"enable:%u=%d\"", KVM_CAP_X2APIC_API, -EINVAL);
        close(vcpu);
        close(vm);
        close(kvm);
        free(c);
        free(m);
        return buf;
}

START_TEST(test_answers_are_kvms) {
        char *args = kvm_expectations();
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("kvm_answers"), args, 1, 2000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_msg(r.status == 0, "kvm_answers: exit %d (args %s)", r.status, args);
        vmrun_free(&r);
        free(args);
}
END_TEST

/* --stats-interval: per-vCPU counters every second, growing. */
START_TEST(test_stats_events) {
        static const char *const extra[] = { "--stats-interval", "1", NULL };
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config(test_plugin("busy"), "\"500\"", 2, 5000),
                .extra_args = extra,
                .signal = SIGTERM,
                .signal_delay_ms = 2600,
        };
        json_object *first, *last, *vcpus, *total;
        long long out1, out2;

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        /* The first and the last: on a slow machine the first may come
         * before any exit, but the counters must grow between them. */
        first = vmrun_event(&r, "stats", 0);
        last = NULL;
        for (size_t k = 1; vmrun_event(&r, "stats", k); k++)
                last = vmrun_event(&r, "stats", k);
        ck_assert_msg(first && last, "fewer than two stats events:\n%s", r.out);
        ck_assert(json_object_object_get_ex(first, "vcpus", &vcpus));
        ck_assert_int_eq((int)json_object_array_length(vcpus), 2);
        ck_assert_ptr_nonnull(vmrun_str(json_object_array_get_idx(vcpus, 1), "io_out"));
        ck_assert(json_object_object_get_ex(first, "total", &total));
        out1 = atoll(vmrun_str(total, "io_out"));
        ck_assert(json_object_object_get_ex(last, "total", &total));
        out2 = atoll(vmrun_str(total, "io_out"));
        ck_assert_msg(out2 > out1, "io_out %lld then %lld", out1, out2);
        vmrun_free(&r);
}
END_TEST

/* The jail seen from inside, through vmlaunch itself: the probe checks
 * its namespaces, capabilities, seccomp, devices and binds. */
START_TEST(test_jail_probe) {
        struct vmrun r;
        char text[8192], ro[128], rw[128];
        struct vmrun_opts o = { .config = text };

        char policy[256];
        FILE *f;

        /* This build's plugin policy (the sanitizer one under ASan) plus
         * what the probe itself calls. */
        snprintf(policy, sizeof(policy), "%s/probe.policy", vmrun_tmpdir());
        f = fopen(policy, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "@include %s\n@include %s/tests/seccomp/probe.policy\n", TEST_SECCOMP_POLICY, SOURCE_DIR);
        fclose(f);
        snprintf(ro, sizeof(ro), "%s/ro", vmrun_tmpdir());
        snprintf(rw, sizeof(rw), "%s/rw", vmrun_tmpdir());
        mkdir(ro, 0755);
        mkdir(rw, 0755);
        snprintf(text, sizeof(text),
                 "plugin = {\n"
                 "  path = \"%s\";\n"
                 "  args = [ \"--seccomp\", \"--ro\", \"/mnt/ro\", \"--rw\", \"/mnt/rw\", \"--gid-map\", \"2000 2000 3\" ];\n"
                 "  mounts = ( { src = \"%s\"; dst = \"/mnt/ro\"; }, { src = \"%s\"; dst = \"/mnt/rw\"; writable = true; } );\n"
                 "  gid_maps = ( { inner = 2000; outer = 2000; count = 3; } );\n"
                 "};\n"
                 "sandbox = { seccomp_policy = \"%s\"; };\n",
                 test_plugin("jail_probe"), ro, rw, policy);
        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(vmrun_output_has(&r, "jail_probe: all checks passed"));
        vmrun_free(&r);
}
END_TEST

/* The same round trips on the lane, polling (the default); on the pipes
 * (lane = false); with both ends blocking (poll_us = 0, crosvm's own
 * way); and with only the launcher polling while the plugin blocks and
 * ignores the lane, as a plugin built on another SDK does. */
START_TEST(test_io_roundtrip) {
        static const struct {
                const char *args, *extra;
        } runs[] = { { "\"200\"", "" },
                     { "\"200\"", "lane = false;\n" },
                     { "\"200\"", "poll_us = 0;\n" },
                     { "\"200\", \"block\"", "" } };

        for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
                char conf[8192];
                struct vmrun r;
                struct vmrun_opts o = { .config = conf };

                snprintf(conf, sizeof(conf), "%s%s", config(test_plugin("io_roundtrip"), runs[i].args, 1, 2000),
                         runs[i].extra);
                vmrun(&o, &r);
                if (r.status != 0)
                        dump(&r);
                ck_assert_msg(r.status == 0, "io_roundtrip run %zu: exit %d", i, r.status);
                check_envelope(&r);
                vmrun_free(&r);
        }
}
END_TEST

START_TEST(test_mmio) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("mmio"), "", 1, 2000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        vmrun_free(&r);
}
END_TEST

/* Five runs: the plugin ends while vCPU 1 spins in guest code, and a
 * plugin helper that destroyed the memory under it without parking it
 * first failed about one run in five (KVM internal error, exit 33). */
START_TEST(test_two_vcpus) {
        for (int i = 0; i < 5; i++) {
                struct vmrun r;
                struct vmrun_opts o = { .config = config(test_plugin("two_vcpus"), "", 2, 2000) };

                vmrun(&o, &r);
                if (r.status != 0)
                        dump(&r);
                ck_assert_int_eq(r.status, 0);
                check_envelope(&r);
                ck_assert_str_eq(vmrun_str(vmrun_event(&r, "started", 0), "vcpus"), "2");
                vmrun_free(&r);
        }
}
END_TEST

START_TEST(test_stderr_any_bytes) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("stderr_lines"), "", 1, 2000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        ck_assert(vmrun_output_has(&r, "\xef\xbf\xbd"));        /* the invalid bytes, replaced */
        ck_assert(vmrun_output_has(&r, "\x1b[31m"));
        vmrun_free(&r);
}
END_TEST

/* A reader that stalls while the plugin writes far more than a pipe holds:
 * vmlaunch blocks on its stdout, and every line still arrives, in order. */
START_TEST(test_slow_reader_loses_nothing) {
        enum { LINES = 3000 };
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("stderr_lines"), "\"3000\"", 1, 2000),
                                .stall_stdout_ms = 3000 };
        long next = 0;
        size_t bytes = 0;

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        ck_assert_ptr_null(strstr(r.err, "status output failed"));
        for (size_t i = 0; i < r.n_events; i++) {
                const char *line = vmrun_str(r.events[i], "line");
                long k, n;

                if (!line || sscanf(line, "stderr_lines: line %ld of %ld", &k, &n) != 2)
                        continue;
                ck_assert_int_eq(n, LINES);
                ck_assert_msg(k == next, "line %ld arrived where %ld was due", k, next);
                next++;
        }
        ck_assert_int_eq(next, LINES);
        bytes = strlen(r.out);
        /* More than a default pipe holds (64 KiB) went through the stall. */
        ck_assert_uint_gt(bytes, 4 * 65536);
        vmrun_free(&r);
}
END_TEST

START_TEST(test_bad_messages_drop_only_the_connection) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("bad_messages"), "", 1, 2000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        ck_assert_ptr_nonnull(strstr(r.err, "connection dropped"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_network_tap) {
        struct vmrun r;
        char text[8192];
        struct vmrun_opts o = { .config = text };
        const char *tap, *line = NULL;
        char want[128];

        snprintf(text, sizeof(text),
                 "%snetwork = { host_ip = \"192.168.77.1\"; netmask = \"255.255.255.0\"; mac = \"de:21:e8:47:6b:6a\"; };\n",
                 config(test_plugin("net_probe"), "", 1, 1000));
        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_envelope(&r);
        tap = vmrun_str(vmrun_event(&r, "started", 0), "tap");
        ck_assert_ptr_nonnull(tap);
        snprintf(want, sizeof(want), "net: %s 192.168.77.1 255.255.255.0 de:21:e8:47:6b:6a", tap);
        for (size_t i = 0; !line && vmrun_event(&r, "plugin_output", i); i++)
                if (strcmp(vmrun_str(vmrun_event(&r, "plugin_output", i), "line"), want) == 0)
                        line = want;
        ck_assert_msg(line != NULL, "no line '%s' in:\n%s", want, r.out);
        /* The tap vmlaunch created is gone with it. */
        ck_assert_uint_eq(if_nametoindex(tap), 0);
        vmrun_free(&r);
}
END_TEST

/* A plugin that crashes takes nothing with it: the tap goes too. */
START_TEST(test_tap_gone_after_crash) {
        struct vmrun r;
        char text[8192];
        struct vmrun_opts o = { .config = text };
        const char *tap;

        snprintf(text, sizeof(text),
                 "%snetwork = { host_ip = \"192.168.78.1\"; netmask = \"255.255.255.0\"; mac = \"de:21:e8:47:6b:6b\"; };\n",
                 config(test_plugin("crash"), "", 1, 1000));
        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 33);
        check_envelope(&r);
        tap = vmrun_str(vmrun_event(&r, "started", 0), "tap");
        ck_assert_ptr_nonnull(tap);
        ck_assert_msg(if_nametoindex(tap) == 0, "tap %s outlived the crash", tap);
        vmrun_free(&r);
}
END_TEST

START_TEST(test_no_network_enodata) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("net_probe"), "\"--none\"", 1, 1000) };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_null(json_object_object_get(vmrun_event(&r, "started", 0), "tap"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_seccomp_violation_kills) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("seccomp_violator"), "", 1, 1000) };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 33);
        check_envelope(&r);
        ck_assert(vmrun_output_has(&r, "opening an AF_INET socket"));
        ck_assert(!vmrun_output_has(&r, "still alive"));
        ck_assert_ptr_nonnull(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "seccomp"));
        /* As root the kernel's audit record of the kill is readable: the
         * syscall is named. */
        ck_assert_msg(strstr(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), "syscall 41, socket,"),
                      "the reason does not name the syscall: %s", vmrun_str(vmrun_event(&r, "exited", 0), "reason"));
        vmrun_free(&r);
}
END_TEST

START_TEST(test_bad_policy_is_config_error) {
        struct vmrun r;
        char text[8192], policy[256];
        struct vmrun_opts o = { .config = text };
        FILE *f;

        snprintf(policy, sizeof(policy), "%s/bad.policy", vmrun_tmpdir());
        f = fopen(policy, "w");
        fputs("read: 1\nnot_a_syscall: 1\n", f);
        fclose(f);
        snprintf(text, sizeof(text), "%s", config(HELLO_PLUGIN, "", 1, 1000));
        /* The last sandbox group wins: point it at the broken policy. */
        snprintf(strstr(text, "sandbox = {"), sizeof(text) - (size_t)(strstr(text, "sandbox = {") - text),
                 "sandbox = { seccomp_policy = \"%s\"; };\n", policy);
        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "bad.policy:2: unknown syscall"), "stderr: %s", r.err);
        vmrun_free(&r);
}
END_TEST

/* Sets vm.nr_hugepages; returns the old value. */
static long set_hugepages(long n) {
        FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r+");
        long old = -1;

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fscanf(f, "%ld", &old), 1);
        rewind(f);
        fprintf(f, "%ld\n", n);
        fclose(f);
        return old;
}

/* How many private jail roots /tmp holds. */
static size_t jail_roots(void) {
        glob_t gl;
        size_t n;

        if (glob("/tmp/vmlaunch-root-*", GLOB_NOSORT, NULL, &gl) != 0)
                return 0;
        n = gl.gl_pathc;
        globfree(&gl);
        return n;
}

static void count_roots_then_stop(int pid, void *arg) {
        *(size_t *)arg = jail_roots();
        kill(pid, SIGTERM);
}

/* The directory the jail's tmpfs was mounted on is gone once the plugin
 * runs: a launcher killed with SIGKILL leaves nothing in /tmp. */
START_TEST(test_jail_root_dir_gone_while_running) {
        size_t before = jail_roots(), during = (size_t)-1;
        struct vmrun r;
        struct vmrun_opts o = { .config = config(test_plugin("busy"), "\"1000\"", 1, 2000),
                                .hook_when = "busy: running", .hook = count_roots_then_stop, .hook_arg = &during };

        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(during == before, "%zu private jail roots in /tmp while the VM ran, %zu before", during,
                      before);
        vmrun_free(&r);
}
END_TEST

/* Selects a shmem THP mode; returns the one that was selected. */
static char *set_shmem_thp(const char *mode) {
        static const char path[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
        char line[256], *open_b, *close_b;
        FILE *f = fopen(path, "re");

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        fclose(f);
        open_b = strchr(line, '[');
        close_b = open_b ? strchr(open_b, ']') : NULL;
        ck_assert(open_b && close_b);
        *close_b = '\0';
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", mode);
        ck_assert_int_eq(fclose(f), 0);
        return strdup(open_b + 1);
}

struct thp_seen {
        bool found, advised, eligible;
};

/* vmlaunch's own mapping of the plugin's "thp-probe" region, from its
 * smaps; then the VM is stopped. */
static void thp_hook(int pid, void *arg) {
        struct thp_seen *s = arg;
        char path[64], line[1024];
        bool in = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f)) {
                /* A mapping's header starts with its address in lower-case
                 * hex; its fields start with a capitalised name. */
                if (!(line[0] >= 'A' && line[0] <= 'Z')) {
                        in = strstr(line, "/memfd:thp-probe") != NULL;
                        continue;
                }
                if (!in)
                        continue;
                s->found = true;
                if (strncmp(line, "THPeligible:", 12) == 0)
                        s->eligible = strtol(line + 12, NULL, 10) == 1;
                if (strncmp(line, "VmFlags:", 8) == 0)
                        s->advised = strstr(line, " hg") != NULL;
        }
        fclose(f);
        kill(pid, SIGTERM);
}

/* hugepages = true: the plugin's region is advised for THP in vmlaunch's
 * mapping (VmFlags hg) and, with shmem THP on "advise", THP-eligible;
 * without it, neither. */
START_TEST(test_thp_advised) {
        struct thp_seen seen[2] = { { 0 } };
        struct vmrun r[2];
        char *old = set_shmem_thp("advise");

        for (int hp = 0; hp < 2; hp++) {
                struct vmrun_opts o = { .hook_when = "thp region ready", .hook = thp_hook, .hook_arg = &seen[hp] };
                char conf[8192];

                snprintf(conf, sizeof(conf), "%shugepages = %s;\n",
                         config(test_plugin("hugepage_probe"), "\"thp\", \"4\"", 1, 2000), hp ? "true" : "false");
                o.config = conf;
                vmrun(&o, &r[hp]);
        }
        /* The host's setting goes back before any assertion can end the test. */
        free(set_shmem_thp(old));
        free(old);
        for (int hp = 0; hp < 2; hp++) {
                if (r[hp].status != 0)
                        dump(&r[hp]);
                ck_assert_int_eq(r[hp].status, 0);
                ck_assert_msg(seen[hp].found, "no thp-probe mapping in vmlaunch's smaps");
                ck_assert_msg(seen[hp].advised == hp, "hugepages = %d but VmFlags hg is %d", hp, seen[hp].advised);
                ck_assert_msg(seen[hp].eligible == hp, "hugepages = %d but THPeligible is %d", hp, seen[hp].eligible);
                vmrun_free(&r[hp]);
        }
}
END_TEST

START_TEST(test_hugetlb_memory) {
        struct vmrun ok, short_pool;
        struct vmrun_opts o1 = { .config = NULL }, o2 = { .config = NULL };
        char c1[8192], c2[8192];
        long old = set_hugepages(2);    /* 4 MiB of 2 MiB pages */

        snprintf(c1, sizeof(c1), "%s", config(test_plugin("hugepage_probe"), "\"2\", \"ok\"", 1, 1000));
        snprintf(c2, sizeof(c2), "%s", config(test_plugin("hugepage_probe"), "\"8\", \"ENOMEM\"", 1, 1000));
        o1.config = c1;
        o2.config = c2;
        vmrun(&o1, &ok);
        vmrun(&o2, &short_pool);
        set_hugepages(old);
        if (ok.status != 0)
                dump(&ok);
        ck_assert_int_eq(ok.status, 0);
        /* The pool cannot hold 8 MiB: a clean error, not a SIGBUS. */
        if (short_pool.status != 0)
                dump(&short_pool);
        ck_assert_int_eq(short_pool.status, 0);
        ck_assert(vmrun_output_has(&short_pool, "Cannot allocate memory"));
        vmrun_free(&ok);
        vmrun_free(&short_pool);
}
END_TEST

/* The vCPU limit this host's KVM reports, found the way vmlaunch finds it
 * (src/kvm.c): KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else the 4 the
 * KVM API documents. */
static unsigned kvm_max_vcpus(void) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

        ck_assert_int_ge(fd, 0);
        r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (r <= 0)
                r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
        close(fd);
        return r > 0 ? (unsigned)r : 4;
}

/* One vCPU past the host's limit is a config error (exit 2) before
 * anything starts.  A kernel built for 4096 vCPUs (CONFIG_MAXSMP) leaves
 * no count that passes the config's own ceiling and fails KVM's: then the
 * ceiling is what refuses it, and test_vm checks the KVM limit on vm_new
 * directly. */
START_TEST(test_vcpus_above_kvm_limit) {
        unsigned limit = kvm_max_vcpus();
        struct vmrun r;
        struct vmrun_opts o = { .config = config(HELLO_PLUGIN, "", limit + 1, 1000) };

        vmrun(&o, &r);
        if (r.status != 2)
                dump(&r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_ptr_nonnull(strstr(r.err, "vcpus"));
        if (limit + 1 <= CONFIG_VCPUS_CEILING)
                ck_assert_msg(strstr(r.err, "KVM_CAP_MAX_VCPUS"), "limit %u: %s", limit, r.err);
        else
                ck_assert_msg(strstr(r.err, "must be between"), "limit %u: %s", limit, r.err);
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("e2e");
        TCase *tc = tcase_create("vm");

        test_require(test_have_kvm(), "/dev/kvm (KVM API 12)");
        test_require(test_is_root(), "root (the jail's gid maps, the tap)");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_hello);
        tcase_add_test(tc, test_closed_stdout);
        tcase_add_test(tc, test_plugin_error_exit);
        tcase_add_test(tc, test_plugin_reset_exit);
        tcase_add_test(tc, test_plugin_crash);
        tcase_add_test(tc, test_hung_plugin_killed_at_deadline);
        tcase_add_test(tc, test_second_sigterm_kills_now);
        tcase_add_test(tc, test_sigterm_graceful_and_sd_notify);
        tcase_add_test(tc, test_jail_probe);
        tcase_add_test(tc, test_stats_events);
        tcase_add_test(tc, test_ioeventfd);
        tcase_add_test(tc, test_async_write);
        tcase_add_test(tc, test_dirty_log);
        tcase_add_test(tc, test_pause_second_connection);
        tcase_add_test(tc, test_state_round_trips);
        tcase_add_test(tc, test_guest_reads_msr_cpuid_dr);
        tcase_add_test(tc, test_bad_requests_clean_errnos);
        tcase_add_test(tc, test_irq_pic_msi_routes);
        tcase_add_test(tc, test_call_hint_eager_regs);
        tcase_add_test(tc, test_call_hint_eager_regs_pipes);
        tcase_add_test(tc, test_state_round_trips_pipes);
        tcase_add_test(tc, test_lane_vandal);
        tcase_add_test(tc, test_stop_with_full_lane);
        tcase_add_test(tc, test_stop_with_full_pipe);
        tcase_add_test(tc, test_answers_are_kvms);
        tcase_add_test(tc, test_io_roundtrip);
        tcase_add_test(tc, test_mmio);
        tcase_add_test(tc, test_two_vcpus);
        tcase_add_test(tc, test_stderr_any_bytes);
        tcase_add_test(tc, test_slow_reader_loses_nothing);
        tcase_add_test(tc, test_bad_messages_drop_only_the_connection);
        tcase_add_test(tc, test_vcpus_above_kvm_limit);
        tcase_add_test(tc, test_network_tap);
        tcase_add_test(tc, test_tap_gone_after_crash);
        tcase_add_test(tc, test_no_network_enodata);
        tcase_add_test(tc, test_seccomp_violation_kills);
        tcase_add_test(tc, test_bad_policy_is_config_error);
        tcase_add_test(tc, test_hugetlb_memory);
        tcase_add_test(tc, test_thp_advised);
        tcase_add_test(tc, test_jail_root_dir_gone_while_running);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
