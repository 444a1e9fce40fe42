/* vmlaunch: parse the command line, load the config, run the launcher. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control_client.h"
#include "launcher.h"
#include "log.h"
#include "seccomp_policy.h"
#include "sink.h"
#include "status.h"
#include "tui.h"
#include "util.h"

static void usage(FILE *f) {
        fputs("Usage: vmlaunch -c FILE [OPTIONS]\n"
              "       vmlaunch list [--json]\n"
              "       vmlaunch ctl NAME status|stats|stop|kill|pause|resume|events [--json]\n"
              "       vmlaunch top NAME\n"
              "Run a KVM VM whose device model is a crosvm-protocol plugin.\n"
              "\n"
              "  -c, --config FILE         the VM's config file (libconfig syntax)\n"
              "      --check               validate, print the resolved config, run nothing\n"
              "  -s, --set KEY=VALUE       override a scalar config key (repeatable)\n"
              "      --headless            status as JSON Lines on stdout; never touch the terminal\n"
              "      --tui                 the terminal monitor (default when stdout is a terminal)\n"
              "      --stats-interval SEC  headless: a stats event every SEC seconds, fractions too\n"
              "                            (0.01 .. 86400; default: only the final one)\n"
              "      --echo-plugin-output  headless: plugin lines on stderr too, not only in the status\n"
              "  -v, --verbose             debug logging\n"
              "  -h, --help                this text\n"
              "  -V, --version             the version\n"
              "\n"
              "list: the running VMs this user can see; ctl: ask one (by name, or a socket path)\n"
              "over its control socket; top: its monitor, attached (q detaches, K twice stops it).\n"
              "\n"
              "Exit status: 0 clean stop, 1 failure, 2 usage or config error,\n"
              "32 reset requested, 33 crash.\n",
              f);
}

/* What the log queues at most for a stderr nobody reads. */
#define LOG_QUEUE_MAX (256 * 1024)

/* The shortest --stats-interval: a stats event a vCPU JSON array long,
 * a hundred times a second, is already more than a reader wants. */
#define STATS_INTERVAL_MIN_MS 10

/* --stats-interval SEC: seconds with an optional fraction, to the
 * millisecond; 0 is off.  Returns the milliseconds, or -EINVAL. */
static long parse_interval(const char *text) {
        char *end;
        double v;

        errno = 0;
        v = strtod(text, &end);
        if (errno || end == text || *end || !(v >= 0 && v <= 86400))
                return -EINVAL;
        if (v == 0)
                return 0;
        if (v * 1000 < STATS_INTERVAL_MIN_MS)
                return -EINVAL;
        return (long)(v * 1000 + 0.5);
}

/* A run that ends before the launcher starts: headless, the status
 * stream still ends with its `exited` line, which carries the reason. */
static int exit_early(bool headless, int code, const char *reason) {
        struct sink *out_sink = NULL;
        struct status *status = NULL;
        struct monitor *mon;

        if (!headless)
                return code;
        signal(SIGPIPE, SIG_IGN);
        if (sink_open(STDOUT_FILENO, STATUS_QUEUE_MAX, &out_sink) < 0 ||
            status_new(out_sink, 0, false, &status) < 0) {
                sink_free(out_sink);
                return code;
        }
        mon = status_monitor(status);
        mon->stop_cause = code == EXIT_VM_CONFIG ? LAUNCHER_CAUSE_CONFIG : LAUNCHER_CAUSE_ERROR;
        mon->exited(mon, code, reason, "not started");
        status_free(status);
        sink_drain_all(monitor_now_usec() + SINK_DRAIN_MS * 1000u);
        sink_free(out_sink);
        return code;
}

/* The config's errors, one a line in `text`, as one reason line. */
static void errors_to_reason(const char *text, char *reason, size_t size) {
        size_t o = (size_t)snprintf(reason, size, "config:");

        for (const char *p = text; *p && o + 1 < size; p++) {
                if (*p == '\n') {
                        if (p[1])
                                reason[o++] = ';';
                        continue;
                }
                if (p == text || p[-1] == '\n')
                        reason[o++] = ' ';
                if (o + 1 < size)
                        reason[o++] = *p;
        }
        reason[o < size ? o : size - 1] = '\0';
}

/* The last lines get SINK_DRAIN_MS to reach their readers, then whatever
 * is still queued is given up; after a requested stop, no longer than
 * its deadline allows (but a moment at least, to try). */
static void finish(struct sink *err_sink, struct sink *out_sink, uint64_t drain_by_usec) {
        uint64_t now = monitor_now_usec(), by = now + SINK_DRAIN_MS * 1000u;

        if (drain_by_usec && drain_by_usec < by)
                by = drain_by_usec > now + SINK_DRAIN_MIN_MS * 1000u ? drain_by_usec : now + SINK_DRAIN_MIN_MS * 1000u;
        sink_drain_all(by);
        log_set_stream(NULL);
        sink_free(out_sink);
        sink_free(err_sink);
}

int main(int argc, char **argv) {
        enum { OPT_CHECK = 0x100, OPT_HEADLESS, OPT_TUI, OPT_STATS, OPT_ECHO };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, OPT_CHECK },
                { "set", required_argument, NULL, 's' },
                { "headless", no_argument, NULL, OPT_HEADLESS },
                { "tui", no_argument, NULL, OPT_TUI },
                { "stats-interval", required_argument, NULL, OPT_STATS },
                { "echo-plugin-output", no_argument, NULL, OPT_ECHO },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        _cleanup_(config_freep) struct vm_config *config = NULL;
        _cleanup_free_ char **sets = NULL;
        struct launch_result res;
        struct status *status = NULL;
        struct sink *out_sink = NULL, *err_sink = NULL;
        struct tui *monitor_tui = NULL;
        const char *path = NULL;
        bool check = false, headless = false, tui = false, echo = false, bound_headless;
        _cleanup_free_ char *errors = NULL;
        char usage_error[256] = "", reason[1024];
        long stats_interval_ms = 0;
        size_t errors_len = 0;
        FILE *errf;
        size_t n_sets = 0;
        int c, r;

        /* Subcommands: the client of a running VM's control socket. */
        if (argc > 1 && strcmp(argv[1], "list") == 0)
                return control_client_list(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "ctl") == 0)
                return control_client_ctl(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "top") == 0)
                return control_client_top(argc - 1, argv + 1);

        sets = calloc((size_t)argc, sizeof(*sets));
        if (!sets)
                return EXIT_VM_FAILED;
        /* getopt's own messages off: every usage error is said once,
         * below, and headless also in the exited line. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "c:s:vhV", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 's':
                        sets[n_sets++] = optarg;
                        break;
                case OPT_CHECK:
                        check = true;
                        break;
                case OPT_HEADLESS:
                        headless = true;
                        break;
                case OPT_TUI:
                        tui = true;
                        break;
                case OPT_STATS:
                        stats_interval_ms = parse_interval(optarg);
                        if (stats_interval_ms < 0)
                                snprintf(usage_error, sizeof(usage_error),
                                         "--stats-interval: expected seconds, 0 (off) or 0.01 .. 86400 (e.g. "
                                         "0.25), got '%s'",
                                         optarg);
                        break;
                case OPT_ECHO:
                        echo = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("vmlaunch %s (crosvm plugin API 0.22)\n", VMLAUNCH_VERSION);
                        return 0;
                default:
                        if (!usage_error[0])
                                snprintf(usage_error, sizeof(usage_error),
                                         "'%s': an unknown option, or one without its value", argv[optind - 1]);
                        break;
                }
        }
        /* Where the run's end would be told: a status stream unless a
         * person watches a terminal (or --check prints the config). */
        bound_headless = !check && !tui && (headless || !isatty(STDOUT_FILENO));
        if (!usage_error[0] && optind < argc)
                snprintf(usage_error, sizeof(usage_error), "unexpected argument '%s'", argv[optind]);
        if (!usage_error[0] && !path)
                snprintf(usage_error, sizeof(usage_error), "no config file: use -c FILE");
        if (!usage_error[0] && headless && tui)
                snprintf(usage_error, sizeof(usage_error), "--headless and --tui exclude each other");
        if (usage_error[0]) {
                fprintf(stderr, "vmlaunch: %s\n", usage_error);
                usage(stderr);
                snprintf(reason, sizeof(reason), "usage: %s", usage_error);
                return exit_early(bound_headless, EXIT_VM_CONFIG, reason);
        }

        /* The errors go to stderr, and, headless, into the exited line. */
        errf = open_memstream(&errors, &errors_len);
        r = config_load(path, sets, n_sets, errf ? errf : stderr, &config);
        if (errf) {
                fclose(errf);
                if (errors)
                        fputs(errors, stderr);
        }
        if (r < 0) {
                errors_to_reason(errors && errors[0] ? errors : "invalid\n", reason, sizeof(reason));
                return exit_early(bound_headless, EXIT_VM_CONFIG, reason);
        }
        if (check) {
                if (config->sandbox.enabled) {
                        struct sock_fprog prog = { 0 };

                        r = launcher_compile_policy(config, stderr, &prog);
                        seccomp_policy_free(&prog);
                        if (r < 0)
                                return EXIT_VM_CONFIG;
                }
                return config_print(config, stdout) < 0 ? EXIT_VM_FAILED : 0;
        }

        /* The monitor when asked for, or when stdout is a terminal and stdin
         * is one too (keys); otherwise headless. */
        if (!headless && (tui || isatty(STDOUT_FILENO)) && (r = tui_new(&monitor_tui)) < 0 && tui) {
                fprintf(stderr, "vmlaunch: --tui: stdin and stdout must be a terminal\n");
                return EXIT_VM_CONFIG;
        }
        /* From here on nothing vmlaunch writes may block it: a reader that
         * stops reading its stdout or stderr must not stop the VM, nor a
         * SIGTERM.  The sinks queue a bounded amount and drop the rest. */
        signal(SIGPIPE, SIG_IGN);
        if (sink_open(STDERR_FILENO, LOG_QUEUE_MAX, &err_sink) < 0) {
                tui_free(monitor_tui);
                return EXIT_VM_FAILED;
        }
        log_set_stream(err_sink);
        if (monitor_tui) {
                launcher_run(config, tui_monitor(monitor_tui), &res);
                tui_free(monitor_tui);
        } else {
                /* Headless: a hang-up from a closing terminal is no stop. */
                signal(SIGHUP, SIG_IGN);
                if (sink_open(STDOUT_FILENO, STATUS_QUEUE_MAX, &out_sink) < 0 ||
                    status_new(out_sink, (unsigned)stats_interval_ms, echo, &status) < 0) {
                        finish(err_sink, out_sink, 0);
                        return EXIT_VM_FAILED;
                }
                launcher_run(config, status_monitor(status), &res);
                status_free(status);
        }
        if (res.exit_code == 0)
                log_final(LOG_LEVEL_INFO, "exit 0: %s", res.reason);
        else
                log_final(LOG_LEVEL_ERROR, "exit %d: %s", res.exit_code, res.reason);
        finish(err_sink, out_sink, res.drain_by_usec);
        return res.exit_code;
}
