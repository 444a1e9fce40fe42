#include "tui.h"

#include <curses.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

#define TUI_LINES 2000          /* output kept for scrollback */
#define TUI_LINE_MAX 512        /* longer lines are cut on screen */
#define TUI_TICK_MS 250

enum tui_state { ST_STARTING, ST_RUNNING, ST_STOPPING, ST_EXITED };

struct line {
        bool launcher;          /* a vmlaunch log line, not the plugin's */
        char text[TUI_LINE_MAX];
};

struct tui {
        struct monitor mon;
        SCREEN *screen;
        bool active;

        enum tui_state state;
        char name[64], tap[32];
        unsigned vcpus;
        pid_t pid;
        uint64_t start_usec, deadline_usec, last_tick_usec;
        char stop_reason[160];

        /* Counters seen at the last tick, and the rates since. */
        uint64_t (*prev)[_VCPU_STAT_MAX];
        double *rate;
        unsigned n_stats;
        const struct vm *vm;

        pthread_mutex_t lock;   /* guards the ring: the log sink runs anywhere */
        struct line *ring;
        size_t head, count;

        int scroll;             /* output lines scrolled back */
        int vscroll;            /* first vCPU row shown */
        bool help;
};

static struct termios saved_termios;
static bool have_saved_termios;

/* A crash in vmlaunch: only async-signal-safe calls, then die as before. */
static void crash_handler(int sig) {
        static const char reset[] = "\033[?1049l\033[?25h\033[0m\r\n";

        if (have_saved_termios)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        if (write(STDOUT_FILENO, reset, sizeof(reset) - 1) < 0) {
                /* Nothing else to try. */
        }
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Keeps the screen safe from whatever the plugin wrote: printable ASCII
 * stays, a tab becomes a space, anything else a '?'. */
static void push_line(struct tui *t, bool launcher, const char *s, size_t len) {
        struct line *l;
        size_t i;

        pthread_mutex_lock(&t->lock);
        l = &t->ring[(t->head + t->count) % TUI_LINES];
        if (t->count == TUI_LINES)
                t->head = (t->head + 1) % TUI_LINES;
        else
                t->count++;
        l->launcher = launcher;
        for (i = 0; i < len && i < TUI_LINE_MAX - 1; i++) {
                unsigned char c = (unsigned char)s[i];

                l->text[i] = c == '\t' ? ' ' : (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        l->text[i] = '\0';
        pthread_mutex_unlock(&t->lock);
}

static void log_sink(enum log_level level, const char *line, void *userdata) {
        char buf[TUI_LINE_MAX];
        static const char *const prefix[] = {
                [LOG_LEVEL_ERROR] = "error: ",
                [LOG_LEVEL_WARNING] = "warning: ",
                [LOG_LEVEL_INFO] = "",
                [LOG_LEVEL_DEBUG] = "debug: ",
        };
        int n = snprintf(buf, sizeof(buf), "vmlaunch: %s%s", prefix[level], line);

        push_line(userdata, true, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *state_name(enum tui_state s) {
        switch (s) {
        case ST_STARTING:
                return "starting";
        case ST_RUNNING:
                return "running";
        case ST_STOPPING:
                return "stopping";
        case ST_EXITED:
                return "exited";
        }
        return "?";
}

static void draw(struct tui *t) {
        uint64_t now = monitor_now_usec(), up = (now - t->start_usec) / 1000000u;
        unsigned n = t->vm ? t->vm->n_vcpus : 0, rows, out_top, out_rows;
        uint64_t total[_VCPU_STAT_MAX + 1] = { 0 };
        double total_rate = 0;
        int y = 0;

        if (!t->active)
                return;
        erase();
        attron(A_REVERSE);
        mvprintw(y++, 0, " vmlaunch  %s  %s  up %02llu:%02llu:%02llu  vCPUs %u  plugin pid %d%s%s ", t->name,
                 state_name(t->state), (unsigned long long)(up / 3600), (unsigned long long)(up / 60 % 60),
                 (unsigned long long)(up % 60), t->vcpus, t->pid, t->tap[0] ? "  tap " : "", t->tap);
        clrtoeol();
        attroff(A_REVERSE);
        attron(A_BOLD);
        mvprintw(y++, 0, "%5s %10s %10s %10s %10s %8s %8s %8s %12s %10s", "vCPU", "IO in", "IO out", "MMIO rd",
                 "MMIO wr", "Hyper-V", "paused", "other", "total", "exits/s");
        attroff(A_BOLD);

        /* Half the screen at most for the table; it scrolls. */
        rows = n;
        if (LINES > 8 && rows > (unsigned)(LINES - 4) / 2)
                rows = (unsigned)(LINES - 4) / 2;
        if (t->vscroll > (int)(n - rows))
                t->vscroll = (int)(n - rows);
        if (t->vscroll < 0)
                t->vscroll = 0;
        for (unsigned i = 0; i < n; i++) {
                uint64_t c[_VCPU_STAT_MAX], sum = 0;

                for (int k = 0; k < _VCPU_STAT_MAX; k++) {
                        c[k] = vcpu_stat_get(t->vm->vcpus[i], (enum vcpu_stat)k);
                        sum += c[k];
                        total[k] += c[k];
                }
                total[_VCPU_STAT_MAX] += sum;
                total_rate += i < t->n_stats ? t->rate[i] : 0;
                if (i < (unsigned)t->vscroll || i >= (unsigned)t->vscroll + rows)
                        continue;
                mvprintw(y++, 0, "%5u %10llu %10llu %10llu %10llu %8llu %8llu %8llu %12llu %10.0f", i,
                         (unsigned long long)c[VCPU_STAT_IO_IN], (unsigned long long)c[VCPU_STAT_IO_OUT],
                         (unsigned long long)c[VCPU_STAT_MMIO_READ], (unsigned long long)c[VCPU_STAT_MMIO_WRITE],
                         (unsigned long long)c[VCPU_STAT_HYPERV], (unsigned long long)c[VCPU_STAT_USER],
                         (unsigned long long)c[VCPU_STAT_OTHER], (unsigned long long)sum,
                         i < t->n_stats ? t->rate[i] : 0.0);
        }
        attron(A_BOLD);
        mvprintw(y++, 0, "%5s %10llu %10llu %10llu %10llu %8llu %8llu %8llu %12llu %10.0f", "total",
                 (unsigned long long)total[VCPU_STAT_IO_IN], (unsigned long long)total[VCPU_STAT_IO_OUT],
                 (unsigned long long)total[VCPU_STAT_MMIO_READ], (unsigned long long)total[VCPU_STAT_MMIO_WRITE],
                 (unsigned long long)total[VCPU_STAT_HYPERV], (unsigned long long)total[VCPU_STAT_USER],
                 (unsigned long long)total[VCPU_STAT_OTHER], (unsigned long long)total[_VCPU_STAT_MAX], total_rate);
        attroff(A_BOLD);
        if (rows < n)
                mvprintw(y - 1, COLS > 30 ? COLS - 24 : 0, "rows %u-%u of %u (j/k)", t->vscroll,
                         t->vscroll + rows - 1, n);
        mvhline(y++, 0, '-', COLS);
        mvprintw(y - 1, 2, " output (arrows, PgUp/PgDn)%s ", t->scroll ? " [scrolled back]" : "");

        out_top = (unsigned)y;
        out_rows = LINES > y + 1 ? (unsigned)(LINES - y - 1) : 0;
        pthread_mutex_lock(&t->lock);
        if (t->scroll > (int)t->count - (int)out_rows)
                t->scroll = (int)t->count > (int)out_rows ? (int)t->count - (int)out_rows : 0;
        for (unsigned r = 0; r < out_rows; r++) {
                long idx = (long)t->count - (long)out_rows - t->scroll + (long)r;
                const struct line *l;

                if (idx < 0)
                        continue;
                l = &t->ring[(t->head + (size_t)idx) % TUI_LINES];
                if (l->launcher)
                        attron(A_BOLD);
                mvaddnstr((int)(out_top + r), 0, l->text, COLS);
                if (l->launcher)
                        attroff(A_BOLD);
        }
        pthread_mutex_unlock(&t->lock);

        attron(A_REVERSE);
        if (t->state == ST_STOPPING) {
                double left = t->deadline_usec > now ? (double)(t->deadline_usec - now) / 1e6 : 0;

                mvprintw(LINES - 1, 0, " stopping: %s -- SIGKILL in %.1f s  (K: kill now) ", t->stop_reason, left);
        } else
                mvprintw(LINES - 1, 0, " q stop   K kill now   ? help ");
        clrtoeol();
        attroff(A_REVERSE);
        if (t->help) {
                static const char *const text[] = {
                        "  q          stop gracefully (the plugin gets its shutdown eventfd)  ",
                        "  K          kill the plugin now                                      ",
                        "  Up/Down    scroll the output one line                               ",
                        "  PgUp/PgDn  scroll the output one page                               ",
                        "  j/k        scroll the vCPU rows                                     ",
                        "  ?          close this help                                          ",
                };

                for (size_t i = 0; i < ARRAY_SIZE(text); i++)
                        mvaddstr(3 + (int)i, 4, text[i]);
        }
        refresh();
}

static void on_started(struct monitor *m, const struct monitor_info *info) {
        struct tui *t = m->userdata;

        snprintf(t->name, sizeof(t->name), "%s", info->name);
        snprintf(t->tap, sizeof(t->tap), "%s", info->tap ? info->tap : "");
        t->vcpus = info->vcpus;
        t->pid = info->plugin_pid;
        draw(t);
}

static void on_running(struct monitor *m) {
        struct tui *t = m->userdata;

        t->state = ST_RUNNING;
        draw(t);
}

static void on_output(struct monitor *m, enum monitor_stream stream, const char *line, size_t len) {
        (void)stream;
        push_line(m->userdata, false, line, len);
}

/* A marker in the output pane where the plugin's lines were dropped (over
 * the output budget, output.h), in the launcher's bold. */
static void on_output_dropped(struct monitor *m, enum monitor_stream stream, uint64_t lines, uint64_t bytes) {
        char buf[160];
        int n = snprintf(buf, sizeof(buf), "[... %llu lines (%llu bytes) of plugin %s dropped: over the output budget ...]",
                         (unsigned long long)lines, (unsigned long long)bytes,
                         stream == MONITOR_STDOUT ? "stdout" : "stderr");

        push_line(m->userdata, true, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void on_stopping(struct monitor *m, const char *reason, uint64_t deadline_usec) {
        struct tui *t = m->userdata;

        t->state = ST_STOPPING;
        t->deadline_usec = deadline_usec;
        snprintf(t->stop_reason, sizeof(t->stop_reason), "%s", reason);
        draw(t);
}

static void on_tick(struct monitor *m, const struct vm *vm) {
        struct tui *t = m->userdata;
        uint64_t now = monitor_now_usec();

        t->vm = vm;
        if (!t->prev && vm->n_vcpus) {
                t->prev = calloc(vm->n_vcpus, sizeof(*t->prev));
                t->rate = calloc(vm->n_vcpus, sizeof(*t->rate));
                t->n_stats = t->prev && t->rate ? vm->n_vcpus : 0;
        }
        for (unsigned i = 0; i < t->n_stats; i++) {
                uint64_t delta = 0;

                for (int k = 0; k < _VCPU_STAT_MAX; k++) {
                        uint64_t c = vcpu_stat_get(vm->vcpus[i], (enum vcpu_stat)k);

                        delta += c - t->prev[i][k];
                        t->prev[i][k] = c;
                }
                t->rate[i] = t->last_tick_usec ? (double)delta * 1e6 / (double)(now - t->last_tick_usec) : 0;
        }
        t->last_tick_usec = now;
        draw(t);
}

static void on_resize(struct monitor *m) {
        struct tui *t = m->userdata;
        struct winsize ws;

        if (!t->active || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        resizeterm(ws.ws_row, ws.ws_col);
        draw(t);
}

static enum monitor_action on_input(struct monitor *m) {
        struct tui *t = m->userdata;
        enum monitor_action a = MONITOR_ACTION_NONE;
        int page = LINES > 10 ? LINES / 2 : 5;
        int c;

        while ((c = getch()) != ERR) {
                switch (c) {
                case 'q':
                        a = MONITOR_ACTION_STOP;
                        break;
                case 'K':
                        a = MONITOR_ACTION_KILL;
                        break;
                case KEY_UP:
                        t->scroll++;
                        break;
                case KEY_DOWN:
                        t->scroll = t->scroll > 0 ? t->scroll - 1 : 0;
                        break;
                case KEY_PPAGE:
                        t->scroll += page;
                        break;
                case KEY_NPAGE:
                        t->scroll = t->scroll > page ? t->scroll - page : 0;
                        break;
                case 'j':
                        t->vscroll++;
                        break;
                case 'k':
                        t->vscroll = t->vscroll > 0 ? t->vscroll - 1 : 0;
                        break;
                case '?':
                        t->help = !t->help;
                        break;
                default:
                        break;
                }
        }
        draw(t);
        return a;
}

static void restore(struct tui *t) {
        if (!t->active)
                return;
        t->active = false;
        endwin();
        log_set_sink(NULL, NULL);
}

static void on_exited(struct monitor *m, int exit_code, const char *reason, const char *plugin_status) {
        struct tui *t = m->userdata;

        (void)exit_code;
        (void)reason;
        (void)plugin_status;
        t->state = ST_EXITED;
        /* The terminal is given back now, so the last log line lands on a
         * sane screen. */
        restore(t);
}

int tui_new(struct tui **ret) {
        static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
        struct sigaction sa = { .sa_handler = crash_handler };
        struct tui *t;

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
                return -ENOTTY;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->ring = calloc(TUI_LINES, sizeof(*t->ring));
        if (!t->ring) {
                free(t);
                return -ENOMEM;
        }
        pthread_mutex_init(&t->lock, NULL);
        if (tcgetattr(STDIN_FILENO, &saved_termios) == 0)
                have_saved_termios = true;
        t->screen = newterm(NULL, stdout, stdin);
        if (!t->screen) {
                pthread_mutex_destroy(&t->lock);
                free(t->ring);
                free(t);
                return -ENOTTY;
        }
        set_term(t->screen);
        cbreak();
        noecho();
        nodelay(stdscr, TRUE);
        keypad(stdscr, TRUE);
        curs_set(0);
        t->active = true;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++)
                sigaction(crash_signals[i], &sa, NULL);
        t->start_usec = monitor_now_usec();
        t->mon = (struct monitor){
                .userdata = t,
                .tick_ms = TUI_TICK_MS,
                .input_fd = STDIN_FILENO,
                .shows_plugin_output = true,
                .started = on_started,
                .running = on_running,
                .plugin_output = on_output,
                .plugin_output_dropped = on_output_dropped,
                .stopping = on_stopping,
                .tick = on_tick,
                .resize = on_resize,
                .input = on_input,
                .exited = on_exited,
        };
        log_set_sink(log_sink, t);
        *ret = t;
        return 0;
}

struct monitor *tui_monitor(struct tui *t) {
        return &t->mon;
}

void tui_free(struct tui *t) {
        static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

        if (!t)
                return;
        restore(t);
        for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++)
                signal(crash_signals[i], SIG_DFL);
        delscreen(t->screen);
        pthread_mutex_destroy(&t->lock);
        free(t->prev);
        free(t->rate);
        free(t->ring);
        free(t);
}
