/* vmlaunch: parse the command line, load the config, run the launcher. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "launcher.h"
#include "log.h"
#include "seccomp_policy.h"
#include "sink.h"
#include "status.h"
#include "tui.h"
#include "util.h"

static void usage(FILE *f) {
        fputs("Usage: vmlaunch -c FILE [OPTIONS]\n"
              "Run a KVM VM whose device model is a crosvm-protocol plugin.\n"
              "\n"
              "  -c, --config FILE         the VM's config file (libconfig syntax)\n"
              "      --check               validate, print the resolved config, run nothing\n"
              "  -s, --set KEY=VALUE       override a scalar config key (repeatable)\n"
              "      --headless            status as JSON Lines on stdout; never touch the terminal\n"
              "      --tui                 the terminal monitor (default when stdout is a terminal)\n"
              "      --stats-interval SEC  headless: a stats event every SEC seconds (default off)\n"
              "  -v, --verbose             debug logging\n"
              "  -h, --help                this text\n"
              "  -V, --version             the version\n"
              "\n"
              "Exit status: 0 clean stop, 1 failure, 2 usage or config error,\n"
              "32 reset requested, 33 crash.\n",
              f);
}

/* What the log queues at most for a stderr nobody reads. */
#define LOG_QUEUE_MAX (256 * 1024)

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
        enum { OPT_CHECK = 0x100, OPT_HEADLESS, OPT_TUI, OPT_STATS };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, OPT_CHECK },
                { "set", required_argument, NULL, 's' },
                { "headless", no_argument, NULL, OPT_HEADLESS },
                { "tui", no_argument, NULL, OPT_TUI },
                { "stats-interval", required_argument, NULL, OPT_STATS },
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
        bool check = false, headless = false, tui = false;
        unsigned long stats_interval = 0;
        size_t n_sets = 0;
        int c, r;

        sets = calloc((size_t)argc, sizeof(*sets));
        if (!sets)
                return EXIT_VM_FAILED;
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
                case OPT_STATS: {
                        char *end;

                        errno = 0;
                        stats_interval = strtoul(optarg, &end, 10);
                        if (errno || *end || end == optarg || stats_interval > 86400) {
                                fprintf(stderr, "vmlaunch: --stats-interval: expected seconds (0..86400), got '%s'\n",
                                        optarg);
                                return EXIT_VM_CONFIG;
                        }
                        break;
                }
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
                        usage(stderr);
                        return EXIT_VM_CONFIG;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vmlaunch: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EXIT_VM_CONFIG;
        }
        if (!path) {
                fprintf(stderr, "vmlaunch: no config file: use -c FILE\n");
                usage(stderr);
                return EXIT_VM_CONFIG;
        }
        if (headless && tui) {
                fprintf(stderr, "vmlaunch: --headless and --tui exclude each other\n");
                return EXIT_VM_CONFIG;
        }

        r = config_load(path, sets, n_sets, stderr, &config);
        if (r < 0)
                return EXIT_VM_CONFIG;
        if (check) {
                if (config->sandbox.enabled) {
                        struct sock_fprog prog = { 0 };

                        r = seccomp_policy_compile(launcher_default_policy(config), false, stderr, &prog);
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
                    status_new(out_sink, (unsigned)stats_interval, &status) < 0) {
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
