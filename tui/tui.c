#include "tui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "tui_table.h"
#include "tui_text.h"
#include "stats.h"
#include "util.h"

#define TUI_LINES 2000          /* output kept for scrollback */
#define TUI_LINE_MAX 512        /* longer lines are kept cut, and marked so */
#define TUI_TICK_MS 250
#define TUI_ESC_DELAY_MS 50     /* a lone Esc is a key after this long */
#define TUI_PAIR_STDERR 1

enum tui_state { ST_STARTING, ST_RUNNING, ST_STOPPING, ST_EXITED };

enum line_kind { LINE_STDOUT, LINE_STDERR, LINE_LAUNCHER };

struct line {
        enum line_kind kind;
        bool cut;               /* longer than TUI_LINE_MAX: shown with the cut marker */
        char text[TUI_LINE_MAX];
};

struct tui {
        struct monitor mon;
        SCREEN *screen;
        bool active;
        bool utf8;              /* LC_CTYPE is UTF-8: plugin text is shown as such */
        bool colour;            /* else stderr lines get a marker */
        bool alt_screen;        /* the terminal has one: the TUI leaves no trace */
        /* The terminal's own sequences, for the output printed after the
         * screen is given back (empty where the terminal has none). */
        char seq_stderr[32], seq_bold[32], seq_reset[32];

        enum tui_state state;
        char name[64], tap[32];
        unsigned vcpus;
        pid_t pid;
        uint64_t start_usec, deadline_usec;
        char stop_reason[160];

        const struct vm_stats *st;      /* the last tick's snapshot (the launcher's) */

        pthread_mutex_t lock;   /* guards the ring and scroll: the log sink runs anywhere */
        struct line *ring;
        size_t head, count;
        uint64_t total_lines;   /* ever pushed, the ring's dropped ones too */

        /* Output lines scrolled back from the newest; a new line moves it
         * on by one so the lines in view stay where the user left them. */
        int scroll;
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

/* Keeps the screen safe from whatever the plugin wrote (tui_text.h says
 * what is kept), and keeps a scrolled-back view on the same lines. */
static void push_line(struct tui *t, enum line_kind kind, const char *s, size_t len) {
        struct line *l;

        pthread_mutex_lock(&t->lock);
        l = &t->ring[(t->head + t->count) % TUI_LINES];
        if (t->count == TUI_LINES)
                t->head = (t->head + 1) % TUI_LINES;
        else
                t->count++;
        t->total_lines++;
        if (t->scroll > 0)
                t->scroll++;
        l->kind = kind;
        l->cut = tui_text_sanitize(s, len, t->utf8, l->text, sizeof(l->text));
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

        push_line(userdata, LINE_LAUNCHER, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
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

/* Writes s at (y, x), cut at the screen's edge: curses would wrap it onto
 * the next row. */
static void put_clipped(const struct tui *t, int y, int x, const char *s) {
        if (x >= COLS)
                return;
        mvaddnstr(y, x, s, (int)tui_text_fit(s, t->utf8, COLS - x, NULL));
}

/* The part of a line that fits in `cols` columns, and whether the cut
 * marker follows it (in the last column, which the text then leaves). */
static size_t line_fit(const struct tui *t, const struct line *l, int cols, bool *ret_marker) {
        int w;
        size_t n = tui_text_fit(l->text, t->utf8, cols, &w);

        *ret_marker = l->cut || l->text[n] != '\0';
        if (*ret_marker && cols > 0)
                n = tui_text_fit(l->text, t->utf8, cols - 1, NULL);
        return n;
}

/* Without colours, a gutter tells the streams apart: "! " for stderr. */
static const char *gutter(const struct tui *t, const struct line *l) {
        if (t->colour)
                return "";
        return l->kind == LINE_STDERR ? "! " : "  ";
}

static const char *cut_marker(const struct tui *t) {
        return t->utf8 ? "\u2026" : ">";
}

static void draw_line(const struct tui *t, int y, const struct line *l) {
        const char *g = gutter(t, l);
        attr_t attr = l->kind == LINE_LAUNCHER ? A_BOLD
                      : l->kind == LINE_STDERR && t->colour ? COLOR_PAIR(TUI_PAIR_STDERR)
                                                             : A_NORMAL;
        bool marker;
        size_t n = line_fit(t, l, COLS - (int)strlen(g), &marker);

        mvaddstr(y, 0, g);
        attron(attr);
        addnstr(l->text, (int)n);
        attroff(attr);
        if (marker) {
                attron(A_REVERSE);
                addstr(cut_marker(t));
                attroff(A_REVERSE);
        }
}

static void draw_table(struct tui *t, int *y) {
        static const enum tui_col stat_col[_VCPU_STAT_MAX] = {
                [VCPU_STAT_IO_IN] = TUI_COL_IO_IN,         [VCPU_STAT_IO_OUT] = TUI_COL_IO_OUT,
                [VCPU_STAT_MMIO_READ] = TUI_COL_MMIO_READ, [VCPU_STAT_MMIO_WRITE] = TUI_COL_MMIO_WRITE,
                [VCPU_STAT_HYPERV] = TUI_COL_HYPERV,       [VCPU_STAT_USER] = TUI_COL_USER,
                [VCPU_STAT_OTHER] = TUI_COL_OTHER,
        };
        unsigned n = t->st ? t->st->n_vcpus : 0, rows;
        uint64_t total[_TUI_COL_MAX] = { 0 };
        struct tui_table tb;
        char buf[256];

        /* Half the screen at most for the table, one row on a tiny one, so
         * the totals stay in view; it scrolls. */
        rows = n;
        if (rows > (LINES > 5 ? (unsigned)(LINES - 4) / 2 : 1u))
                rows = LINES > 5 ? (unsigned)(LINES - 4) / 2 : 1u;
        if (t->vscroll > (int)(n - rows))
                t->vscroll = (int)(n - rows);
        if (t->vscroll < 0)
                t->vscroll = 0;
        /* The totals first: no row has a wider number, so they size the
         * columns. */
        if (t->st) {
                for (int k = 0; k < _VCPU_STAT_MAX; k++)
                        total[stat_col[k]] = t->st->total.count[k];
                total[TUI_COL_TOTAL] = t->st->total.exits;
                total[TUI_COL_RATE] = (uint64_t)(t->st->total.rate + 0.5);
        }
        total[TUI_COL_VCPU] = n ? n - 1 : 0;
        tui_table_layout(&tb, COLS, total);

        tui_table_header(&tb, buf, sizeof(buf));
        attron(A_BOLD);
        put_clipped(t, (*y)++, 0, buf);
        attroff(A_BOLD);
        for (unsigned i = (unsigned)t->vscroll; i < n && i < (unsigned)t->vscroll + rows; i++) {
                uint64_t v[_TUI_COL_MAX] = { 0 };
                char label[16];

                for (int k = 0; k < _VCPU_STAT_MAX; k++)
                        v[stat_col[k]] = t->st->vcpus[i].count[k];
                v[TUI_COL_TOTAL] = t->st->vcpus[i].exits;
                v[TUI_COL_RATE] = (uint64_t)(t->st->vcpus[i].rate + 0.5);
                snprintf(label, sizeof(label), "%u", i);
                tui_table_row(&tb, label, v, buf, sizeof(buf));
                put_clipped(t, (*y)++, 0, buf);
        }
        tui_table_row(&tb, "total", total, buf, sizeof(buf));
        attron(A_BOLD);
        put_clipped(t, (*y)++, 0, buf);
        attroff(A_BOLD);

        /* The separator says which rows are shown: on a line of its own
         * it cannot cover a number. */
        mvhline(*y, 0, '-', COLS);
        if (rows < n) {
                int len = snprintf(buf, sizeof(buf), " rows %u-%u of %u (j/k) ", t->vscroll, t->vscroll + rows - 1, n);

                if (len > 0 && COLS - len - 2 > 0)
                        put_clipped(t, *y, COLS - len - 2, buf);
        }
}

static void draw_help(const struct tui *t) {
        static const char *const text[] = {
                "                                                                        ",
                "  q, F10     stop gracefully (the plugin gets its shutdown eventfd)     ",
                "  K          kill the plugin now                                        ",
                "  Up/Down    scroll the output one line                                 ",
                "  PgUp/PgDn  scroll the output one page                                 ",
                "  Home/End   the oldest output kept / follow the newest                 ",
                "  j/k        scroll the vCPU rows                                       ",
                "  ?, Esc     close this help                                            ",
                "                                                                        ",
        };

        attron(A_REVERSE);
        for (size_t i = 0; i < ARRAY_SIZE(text); i++)
                put_clipped(t, 3 + (int)i, COLS > 76 ? 4 : 0, text[i]);
        attroff(A_REVERSE);
}

static void draw(struct tui *t) {
        uint64_t now = monitor_now_usec(), up = (now - t->start_usec) / 1000000u;
        unsigned out_top, out_rows;
        char buf[320];
        int y = 0, scroll;

        if (!t->active)
                return;
        erase();
        attron(A_REVERSE);
        mvhline(y, 0, ' ', COLS);
        snprintf(buf, sizeof(buf), " vmlaunch  %s  %s  up %02llu:%02llu:%02llu  vCPUs %u  plugin pid %d%s%s ", t->name,
                 state_name(t->state), (unsigned long long)(up / 3600), (unsigned long long)(up / 60 % 60),
                 (unsigned long long)(up % 60), t->vcpus, t->pid, t->tap[0] ? "  tap " : "", t->tap);
        put_clipped(t, y++, 0, buf);
        attroff(A_REVERSE);
        draw_table(t, &y);
        y++;

        out_top = (unsigned)y;
        out_rows = LINES > y + 1 ? (unsigned)(LINES - y - 1) : 0;
        pthread_mutex_lock(&t->lock);
        if (t->scroll > (int)t->count - (int)out_rows)
                t->scroll = (int)t->count > (int)out_rows ? (int)t->count - (int)out_rows : 0;
        scroll = t->scroll;
        for (unsigned r = 0; r < out_rows; r++) {
                long idx = (long)t->count - (long)out_rows - scroll + (long)r;

                if (idx >= 0)
                        draw_line(t, (int)(out_top + r), &t->ring[(t->head + (size_t)idx) % TUI_LINES]);
        }
        pthread_mutex_unlock(&t->lock);
        if (scroll)
                snprintf(buf, sizeof(buf), " output: %d lines back (End: follow) ", scroll);
        else
                snprintf(buf, sizeof(buf), " output (arrows, PgUp/PgDn) ");
        put_clipped(t, (int)out_top - 1, 2, buf);

        attron(A_REVERSE);
        mvhline(LINES - 1, 0, ' ', COLS);
        if (t->state == ST_STOPPING) {
                double left = t->deadline_usec > now ? (double)(t->deadline_usec - now) / 1e6 : 0;

                snprintf(buf, sizeof(buf), " stopping: %s -- SIGKILL in %.1f s  (K: kill now) ", t->stop_reason, left);
        } else
                snprintf(buf, sizeof(buf), " q stop   K kill now   ? help ");
        put_clipped(t, LINES - 1, 0, buf);
        attroff(A_REVERSE);
        if (t->help)
                draw_help(t);
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
        push_line(m->userdata, stream == MONITOR_STDERR ? LINE_STDERR : LINE_STDOUT, line, len);
}

/* A marker in the output pane where the plugin's lines were dropped (over
 * the output budget, output.h), in the launcher's bold. */
static void on_output_dropped(struct monitor *m, enum monitor_stream stream, uint64_t lines, uint64_t bytes) {
        char buf[160];
        int n = snprintf(buf, sizeof(buf), "[... %llu lines (%llu bytes) of plugin %s dropped: over the output budget ...]",
                         (unsigned long long)lines, (unsigned long long)bytes,
                         stream == MONITOR_STDOUT ? "stdout" : "stderr");

        push_line(m->userdata, LINE_LAUNCHER, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void on_stopping(struct monitor *m, const char *reason, uint64_t deadline_usec) {
        struct tui *t = m->userdata;

        t->state = ST_STOPPING;
        t->deadline_usec = deadline_usec;
        snprintf(t->stop_reason, sizeof(t->stop_reason), "%s", reason);
        draw(t);
}

static void on_tick(struct monitor *m, const struct vm_stats *st) {
        struct tui *t = m->userdata;

        t->st = st;
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
                pthread_mutex_lock(&t->lock);
                switch (c) {
                case 'q':
                case KEY_F(10):
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
                case KEY_HOME:
                        t->scroll = TUI_LINES;  /* draw() stops it at the oldest */
                        break;
                case KEY_END:
                        t->scroll = 0;
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
                case 27:        /* Esc, alone: a sequence would be a KEY_ code */
                        t->help = false;
                        break;
                default:
                        break;
                }
                pthread_mutex_unlock(&t->lock);
        }
        draw(t);
        return a;
}

/* Writes one retained line to the terminal given back: the same text and
 * cut as on the screen, the stream told by the terminal's colour or the
 * gutter. */
static void print_line(const struct tui *t, FILE *f, const struct line *l) {
        const char *g = gutter(t, l);
        const char *on = l->kind == LINE_LAUNCHER ? t->seq_bold : l->kind == LINE_STDERR ? t->seq_stderr : "";
        bool marker;
        size_t n = line_fit(t, l, COLS - (int)strlen(g), &marker);

        fprintf(f, "%s%s%.*s%s%s\n", g, on, (int)n, l->text, *on ? t->seq_reset : "", marker ? cut_marker(t) : "");
}

/* The run's last screenful of output stays on the terminal when the
 * screen is given back (a VM that lives 5 ms would otherwise leave
 * nothing to read), after a note of how many lines came before it. */
static void print_retained(struct tui *t) {
        size_t n, first;
        uint64_t before;

        if (!t->alt_screen)
                fputs("\n", stdout);
        pthread_mutex_lock(&t->lock);
        /* A screenful, less the rows of the note, the exit line, and the
         * shell's prompt after it. */
        n = t->count;
        if (LINES > 5 && n > (size_t)LINES - 4)
                n = (size_t)LINES - 4;
        first = t->count - n;
        before = t->total_lines - n;
        if (before)
                fprintf(stdout, "[vmlaunch: %llu earlier line%s of output not shown]\n", (unsigned long long)before,
                        before == 1 ? "" : "s");
        for (size_t i = first; i < t->count; i++)
                print_line(t, stdout, &t->ring[(t->head + i) % TUI_LINES]);
        pthread_mutex_unlock(&t->lock);
        fflush(stdout);
}

static void restore(struct tui *t) {
        if (!t->active)
                return;
        t->active = false;
        endwin();
        log_set_sink(NULL, NULL);
        print_retained(t);
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

/* Copies a terminfo string capability, empty where the terminal lacks it
 * or it does not fit.  Its padding ("$<2>") is left out: that is a note
 * for tputs, not bytes for the terminal, and a terminal that needs the
 * delay does not exist any more. */
static void copy_cap(char *out, size_t size, const char *cap) {
        size_t o = 0;

        out[0] = '\0';
        if (!cap || cap == (const char *)-1)
                return;
        for (const char *p = cap; *p; p++) {
                if (p[0] == '$' && p[1] == '<' && strchr(p, '>')) {
                        p = strchr(p, '>');
                        continue;
                }
                if (o + 1 >= size) {
                        out[0] = '\0';
                        return;
                }
                out[o++] = *p;
        }
        out[o] = '\0';
}

static void term_sequences(struct tui *t) {
        const char *setaf = tigetstr("setaf");

        if (t->colour && setaf && setaf != (const char *)-1)
                copy_cap(t->seq_stderr, sizeof(t->seq_stderr), tiparm(setaf, COLOR_RED));
        copy_cap(t->seq_bold, sizeof(t->seq_bold), tigetstr("bold"));
        copy_cap(t->seq_reset, sizeof(t->seq_reset), tigetstr("sgr0"));
        /* Without an alternate screen the last frame stays, and the cursor
         * is left on its bottom bar. */
        t->alt_screen = tigetstr("smcup") && tigetstr("smcup") != (const char *)-1;
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
        /* The user's character set, for ncursesw and wcwidth, when it is
         * UTF-8; else plain ASCII is shown, in the C locale.  Only
         * LC_CTYPE: numbers keep their form.  In a UTF-8 locale no single
         * byte >= 0x80 is a space or printable, as in C, so the byte
         * parsers elsewhere (the seccomp policy's isspace) read the same. */
        setlocale(LC_CTYPE, "");
        t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
        if (!t->utf8)
                setlocale(LC_CTYPE, "C");
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
        set_escdelay(TUI_ESC_DELAY_MS);
        if (has_colors() && start_color() == OK) {
                use_default_colors();
                t->colour = init_pair(TUI_PAIR_STDERR, COLOR_RED, -1) == OK;
        }
        term_sequences(t);
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
        free(t->ring);
        free(t);
}
