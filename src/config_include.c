#include "config_include.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util.h"

/* Before 1.7, libconfig puts its include directory in front of every
 * name, an absolute one too ("/etc/vm" + "/" + "/etc/common.conf"). */
#define LIBCONFIG_JOINS_ABSOLUTE (LIBCONFIG_VER_MAJOR == 1 && LIBCONFIG_VER_MINOR < 7)

/* Before 1.7, libconfig reads an integer literal without the L suffix
 * into an int: one that does not fit keeps its low 32 bits (4294967297
 * reads 1), silently. */
#define LIBCONFIG_NARROW_INTEGERS (LIBCONFIG_VER_MAJOR == 1 && LIBCONFIG_VER_MINOR < 7)

/* libconfig's scanner states that decide whether an "@include" is one:
 * it is only seen at the start of a line outside comments and strings. */
enum lex_state { LEX_INITIAL, LEX_COMMENT, LEX_STRING };

struct scan {
        enum lex_state state;   /* shared by all files, as libconfig's is */
        const char *include_dir;
        const char *display_prefix;
        FILE *errors;
        unsigned n_errors;
        size_t n_seen;          /* directives met, for CONFIG_INCLUDES_MAX */
        bool stop;              /* over a cap, or out of memory */
        bool oom;
        struct config_includes incs;
};

static void problem(struct scan *sc, const char *display, unsigned line, const char *fmt, ...) _printf_(4, 5);
static void problem(struct scan *sc, const char *display, unsigned line, const char *fmt, ...) {
        va_list ap;

        sc->n_errors++;
        if (!sc->errors)
                return;
        fprintf(sc->errors, "%s:%u: ", display, line);
        va_start(ap, fmt);
        vfprintf(sc->errors, fmt, ap);
        va_end(ap);
        fputc('\n', sc->errors);
}

static int read_fd(int fd, char **ret_text, size_t *ret_len) {
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (len == cap - 1) {
                        size_t bigger = cap * 2 > CONFIG_TEXT_MAX_BYTES + 1 ? CONFIG_TEXT_MAX_BYTES + 1 : cap * 2;
                        char *p, extra;

                        if (cap > CONFIG_TEXT_MAX_BYTES) {
                                /* Full: one byte more means too large. */
                                while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
                                        ;
                                if (n < 0)
                                        return -errno;
                                if (n > 0)
                                        return -EFBIG;
                                break;
                        }
                        p = realloc(buf, bigger);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = bigger;
                }
                n = read(fd, buf + len, cap - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *ret_text = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int config_read_text(const char *path, char **ret_text, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        return read_fd(fd, ret_text, ret_len);
}

static const char *file_type(mode_t mode) {
        if (S_ISDIR(mode))
                return "a directory";
        if (S_ISFIFO(mode))
                return "a FIFO";
        if (S_ISCHR(mode))
                return "a character device";
        if (S_ISBLK(mode))
                return "a block device";
        if (S_ISSOCK(mode))
                return "a socket";
        return "not a regular file";
}

/* Opens and reads an included file that must be a regular file.  On
 * -EINVAL, `why` says what is wrong with it. */
static int read_include(const char *path, char **ret_text, size_t *ret_len, char *why, size_t why_len) {
        _cleanup_close_ int fd = -1;
        struct statfs sfs;
        struct stat st;
        int r;

        /* stat before open: opening a FIFO blocks, and opening a device
         * can have effects of its own. */
        if (stat(path, &st) < 0) {
                snprintf(why, why_len, "%s", strerror(errno));
                return -EINVAL;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, why_len, "not a regular file (%s)", file_type(st.st_mode));
                return -EINVAL;
        }
        /* O_NONBLOCK and a second look: it may have been replaced since. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                snprintf(why, why_len, "%s", strerror(errno));
                return -EINVAL;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, why_len, "not a regular file (%s)", file_type(st.st_mode));
                return -EINVAL;
        }
        /* procfs and sysfs files look regular, but reading one may block
         * (/proc/kmsg) or never end. */
        if (fstatfs(fd, &sfs) == 0 && (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC)) {
                snprintf(why, why_len, "a procfs or sysfs file, not a config file");
                return -EINVAL;
        }
        r = read_fd(fd, ret_text, ret_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(why, why_len, "%s", r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
                return -EINVAL;
        }
        return 0;
}

static void scan_text(struct scan *sc, const char *text, size_t len, const char *display, unsigned depth);

static int remember(struct scan *sc, const char *name, const char *shown) {
        struct config_include *v;

        if (config_includes_display(&sc->incs, name))
                return 0;
        v = realloc(sc->incs.v, (sc->incs.n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        sc->incs.v = v;
        v[sc->incs.n].name = strdup(name);
        v[sc->incs.n].display = strdup(shown);
        sc->incs.n++;
        if (!v[sc->incs.n - 1].name || !v[sc->incs.n - 1].display)
                return -ENOMEM;
        return 0;
}

/* One @include "name" met in `display` at `line`: check the file, then
 * scan it in the lexer state libconfig will be in. */
static void visit(struct scan *sc, const char *name, const char *display, unsigned line, unsigned depth) {
        _cleanup_free_ char *path = NULL, *shown = NULL, *text = NULL;
        char why[160];
        size_t len;
        int r;

        if (++sc->n_seen > CONFIG_INCLUDES_MAX) {
                problem(sc, display, line, "@include \"%s\": more than %u @include directives in one config", name,
                        CONFIG_INCLUDES_MAX);
                sc->stop = true;
                return;
        }
        if (depth + 1 > CONFIG_INCLUDE_DEPTH_MAX) {
                problem(sc, display, line, "@include \"%s\": nested more than %u deep (does it include itself?)",
                        name, CONFIG_INCLUDE_DEPTH_MAX);
                sc->stop = true;
                return;
        }
        if (name[0] == '/' && LIBCONFIG_JOINS_ABSOLUTE) {
                problem(sc, display, line,
                        "@include \"%s\": libconfig %d.%d cannot include an absolute path (it puts the include "
                        "directory %s in front of it); write it relative to that directory",
                        name, LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, sc->include_dir);
                return;
        }
        if (name[0] == '/') {
                path = strdup(name);
                shown = strdup(name);
        } else if (asprintf(&path, "%s/%s", sc->include_dir, name) < 0 ||
                   asprintf(&shown, "%s%s", sc->display_prefix, name) < 0) {
                path = shown = NULL;
        }
        if (!path || !shown) {
                sc->oom = sc->stop = true;
                return;
        }
        r = read_include(path, &text, &len, why, sizeof(why));
        if (r == -ENOMEM || (r == 0 && remember(sc, name, shown) < 0)) {
                sc->oom = sc->stop = true;
                return;
        }
        if (r < 0) {
                problem(sc, display, line, "@include \"%s\": %s: %s", name, path, why);
                return;
        }
        scan_text(sc, text, len, shown, depth + 1);
}

/* At the start of a line in the initial state: libconfig's
 * ^[ \t]*@include[ \t]+" followed by the name up to an unescaped quote
 * (only \\ and \" are escapes there).  Returns false, touching nothing,
 * when there is no directive at *pos; otherwise handles it and moves *pos
 * past its closing quote. */
static bool include_at(struct scan *sc, const char *text, size_t len, size_t *pos, unsigned *line,
                       const char *display, unsigned depth) {
        static const char kw[] = "@include";
        const size_t kw_len = sizeof(kw) - 1;
        unsigned start_line = *line;
        _cleanup_free_ char *name = NULL;
        size_t i = *pos, n = 0;
        bool bad = false;

        while (i < len && (text[i] == ' ' || text[i] == '\t'))
                i++;
        if (len - i < kw_len || memcmp(text + i, kw, kw_len) != 0)
                return false;
        i += kw_len;
        if (i >= len || (text[i] != ' ' && text[i] != '\t'))
                return false;
        while (i < len && (text[i] == ' ' || text[i] == '\t'))
                i++;
        if (i >= len || text[i] != '"')
                return false;
        i++;
        name = malloc(len - i + 1);
        if (!name) {
                sc->oom = sc->stop = true;
                return true;
        }
        for (;;) {
                if (i >= len) {
                        problem(sc, display, start_line, "@include: the file name has no closing '\"'");
                        *pos = len;
                        return true;
                }
                if (text[i] == '"')
                        break;
                if (text[i] == '\\' && i + 1 < len && (text[i + 1] == '"' || text[i + 1] == '\\')) {
                        name[n++] = text[i + 1];
                        i += 2;
                        continue;
                }
                if (text[i] == '\\' || text[i] == '\0') {
                        /* libconfig would drop a lone backslash (echoing it
                         * to stdout) and stop a name at a NUL. */
                        bad = true;
                        i++;
                        continue;
                }
                if (text[i] == '\n')
                        (*line)++;
                name[n++] = text[i++];
        }
        name[n] = '\0';
        *pos = i + 1;
        if (bad)
                problem(sc, display, start_line,
                        "@include \"%s\": a file name may hold no NUL and no backslash but in \\\\ and \\\"", name);
        else
                visit(sc, name, display, start_line, depth);
        return true;
}

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static bool is_hex_digit(char ch) {
        return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* In the initial state at text[i]: when libconfig's lexer starts an
 * integer token here that is too wide for the int it will be read into,
 * reports it.  Returns the bytes that need no second look (0: no number
 * starts here). */
static size_t number_at(struct scan *sc, const char *text, size_t len, size_t i, unsigned line,
                        const char *display) {
        const unsigned long long limit = 1ull << 32;
        unsigned long long v = 0;
        size_t j = i;
        bool hex, negative = false;
        char prev = i > 0 ? text[i - 1] : ' ';

        /* Inside a name ([A-Za-z*][-A-Za-z0-9_*]*) or a float's tail. */
        if (is_digit(prev) || (prev >= 'A' && prev <= 'Z') || (prev >= 'a' && prev <= 'z') || prev == '_' ||
            prev == '-' || prev == '+' || prev == '*' || prev == '.')
                return 0;
        if ((text[j] == '-' || text[j] == '+') && j + 1 < len && is_digit(text[j + 1]))
                negative = text[j++] == '-';
        if (j >= len || !is_digit(text[j]))
                return 0;
        hex = !negative && text[i] == '0' && j + 2 < len && (text[j + 1] == 'x' || text[j + 1] == 'X') &&
              is_hex_digit(text[j + 2]);
        if (hex)
                j += 2;
        for (; j < len && (hex ? is_hex_digit(text[j]) : is_digit(text[j])); j++)
                if (v < limit)
                        v = v * (hex ? 16 : 10) + (unsigned long long)(is_digit(text[j]) ? text[j] - '0'
                                                                      : (text[j] | 0x20) - 'a' + 10);
        /* A float, or the L of a 64-bit integer: read in full. */
        if (j < len && !hex && (text[j] == '.' || text[j] == 'e' || text[j] == 'E'))
                return j - i;
        if (j < len && text[j] == 'L')
                return j - i;
        if (LIBCONFIG_NARROW_INTEGERS && (v > (negative ? 0x80000000ull : 0x7fffffffull)))
                problem(sc, display, line,
                        "%.*s: libconfig %d.%d keeps only the low 32 bits of an integer this wide; write %.*sL",
                        (int)(j - i), text + i, LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, (int)(j - i), text + i);
        return j - i;
}

static void scan_text(struct scan *sc, const char *text, size_t len, const char *display, unsigned depth) {
        unsigned line = 1;
        size_t i = 0, skip;

        while (i < len && !sc->stop) {
                char ch = text[i];

                switch (sc->state) {
                case LEX_COMMENT:
                        if (ch == '*' && i + 1 < len && text[i + 1] == '/') {
                                sc->state = LEX_INITIAL;
                                i += 2;
                                continue;
                        }
                        break;
                case LEX_STRING:
                        if (ch == '\\' && i + 1 < len && (text[i + 1] == '"' || text[i + 1] == '\\')) {
                                i += 2;
                                continue;
                        }
                        if (ch == '"')
                                sc->state = LEX_INITIAL;
                        break;
                case LEX_INITIAL:
                        /* flex's ^: the previous character read from this
                         * file was a newline (or there was none).  After
                         * an include's closing quote it is that quote. */
                        if ((i == 0 || text[i - 1] == '\n') &&
                            include_at(sc, text, len, &i, &line, display, depth))
                                continue;
                        if ((is_digit(ch) || ch == '-' || ch == '+') &&
                            (skip = number_at(sc, text, len, i, line, display)) > 0) {
                                i += skip;
                                continue;
                        }
                        if (ch == '"')
                                sc->state = LEX_STRING;
                        else if (ch == '/' && i + 1 < len && text[i + 1] == '*') {
                                sc->state = LEX_COMMENT;
                                i += 2;
                                continue;
                        } else if (ch == '#' || (ch == '/' && i + 1 < len && text[i + 1] == '/')) {
                                while (i < len && text[i] != '\n')
                                        i++;
                                continue;
                        }
                        break;
                }
                if (ch == '\n')
                        line++;
                i++;
        }
}

int config_include_scan(const char *text, size_t len, const char *display, const char *include_dir,
                        const char *display_prefix, FILE *errors, struct config_includes *ret) {
        struct scan sc = {
                .state = LEX_INITIAL,
                .include_dir = include_dir,
                .display_prefix = display_prefix,
                .errors = errors,
        };

        scan_text(&sc, text, len, display, 0);
        if (sc.oom) {
                config_includes_free(&sc.incs);
                return -ENOMEM;
        }
        if (sc.n_errors) {
                config_includes_free(&sc.incs);
                return -EINVAL;
        }
        *ret = sc.incs;
        return 0;
}

const char *config_includes_display(const struct config_includes *incs, const char *name) {
        for (size_t i = 0; name && i < incs->n; i++)
                if (incs->v[i].name && strcmp(incs->v[i].name, name) == 0)
                        return incs->v[i].display;
        return NULL;
}

void config_includes_free(struct config_includes *incs) {
        if (!incs)
                return;
        for (size_t i = 0; i < incs->n; i++) {
                free(incs->v[i].name);
                free(incs->v[i].display);
        }
        free(incs->v);
        incs->v = NULL;
        incs->n = 0;
}
