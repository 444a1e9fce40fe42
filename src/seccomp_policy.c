#include "seccomp_policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define MAX_INCLUDE_DEPTH 8
#define MAX_ALTERNATIVES 64     /* conjunctions one line may expand to */
#define MAX_ARGS 6

struct ctx {
        scmp_filter_ctx filter;
        FILE *errors;
        unsigned n_errors;
};

static const struct {
        const char *name;
        unsigned long long value;
} constants[] = {
#define C(x) { #x, (unsigned long long)(x) }
        C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC),
        C(MAP_SHARED), C(MAP_PRIVATE), C(MAP_FIXED), C(MAP_ANONYMOUS), C(MAP_NORESERVE), C(MAP_STACK),
        C(MAP_POPULATE), C(MAP_FIXED_NOREPLACE), C(MAP_HUGETLB),
        C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_CREAT), C(O_EXCL), C(O_TRUNC), C(O_APPEND), C(O_NONBLOCK),
        C(O_CLOEXEC), C(O_DIRECTORY), C(O_NOFOLLOW), C(O_PATH), C(O_LARGEFILE),
        C(F_DUPFD), C(F_DUPFD_CLOEXEC), C(F_GETFD), C(F_SETFD), C(F_GETFL), C(F_SETFL), C(F_ADD_SEALS),
        C(F_GET_SEALS), C(F_SETPIPE_SZ), C(F_GETPIPE_SZ), C(FD_CLOEXEC),
        C(FIONREAD), C(FIOCLEX), C(FIONBIO), C(TCGETS), C(TIOCGWINSZ), C(TUNGETIFF), C(TUNGETFEATURES),
        C(AF_UNIX), C(AF_INET), C(AF_NETLINK), C(SOCK_STREAM), C(SOCK_DGRAM), C(SOCK_SEQPACKET), C(SOCK_CLOEXEC),
        C(SOCK_NONBLOCK), C(MSG_CMSG_CLOEXEC), C(MSG_NOSIGNAL), C(MSG_DONTWAIT), C(MSG_PEEK),
        C(FUTEX_WAIT), C(FUTEX_WAKE), C(FUTEX_WAIT_BITSET), C(FUTEX_WAKE_BITSET), C(FUTEX_PRIVATE_FLAG),
        C(FUTEX_CLOCK_REALTIME), C(FUTEX_WAIT_PRIVATE), C(FUTEX_WAKE_PRIVATE), C(FUTEX_REQUEUE),
        C(FUTEX_CMP_REQUEUE), C(FUTEX_CMP_REQUEUE_PRIVATE),
        C(CLONE_VM), C(CLONE_FS), C(CLONE_FILES), C(CLONE_SIGHAND), C(CLONE_THREAD), C(CLONE_SYSVSEM),
        C(CLONE_SETTLS), C(CLONE_PARENT_SETTID), C(CLONE_CHILD_CLEARTID), C(CLONE_CHILD_SETTID),
        C(EFD_CLOEXEC), C(EFD_NONBLOCK), C(EFD_SEMAPHORE),
        C(MFD_CLOEXEC), C(MFD_ALLOW_SEALING), C(MFD_HUGETLB),
        C(MADV_DONTNEED), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE), C(MADV_DONTDUMP), C(MADV_WILLNEED),
        C(PR_SET_NAME), C(PR_GET_NAME), C(PR_SET_VMA), C(PR_GET_DUMPABLE),
#undef C
};

/* seccomp_policy.h: allowed by every compiled policy. */
static const int always_allowed[] = { SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(execve), SCMP_SYS(exit_group) };

static void report(struct ctx *c, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
static void report(struct ctx *c, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        c->n_errors++;
        if (!c->errors)
                return;
        fprintf(c->errors, "%s:%u: ", file, line);
        va_start(ap, fmt);
        vfprintf(c->errors, fmt, ap);
        va_end(ap);
        fputc('\n', c->errors);
}

static char *trim(char *s) {
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* "A|B|0x10", each term optionally "~X". */
static int parse_value(const char *text, unsigned long long *ret, const char **ret_bad) {
        char buf[256], *save = NULL;
        unsigned long long v = 0;

        snprintf(buf, sizeof(buf), "%s", text);
        for (char *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
                bool neg = false;
                unsigned long long t;
                char *end;
                size_t i;

                tok = trim(tok);
                if (*tok == '~') {
                        neg = true;
                        tok = trim(tok + 1);
                }
                if (!*tok) {
                        *ret_bad = text;
                        return -EINVAL;
                }
                if (isdigit((unsigned char)*tok)) {
                        errno = 0;
                        t = strtoull(tok, &end, 0);
                        if (errno || *end) {
                                *ret_bad = tok;
                                return -EINVAL;
                        }
                } else {
                        for (i = 0; i < ARRAY_SIZE(constants); i++)
                                if (strcmp(constants[i].name, tok) == 0)
                                        break;
                        if (i == ARRAY_SIZE(constants)) {
                                static char bad[128];

                                snprintf(bad, sizeof(bad), "%s", tok);
                                *ret_bad = bad;
                                return -ENOENT;
                        }
                        t = constants[i].value;
                }
                v |= neg ? ~t : t;
        }
        *ret = v;
        return 0;
}

/* One conjunction: up to one comparison per argument. */
struct conj {
        unsigned n;
        struct scmp_arg_cmp cmp[MAX_ARGS];
};

/* Parses "argN OP VALUE" into the alternatives it stands for (an `&` with
 * several bits is "any of these bits", one comparison per bit). */
static int parse_atom(struct ctx *c, const char *file, unsigned line, char *atom, struct scmp_arg_cmp *alts,
                      unsigned *ret_n) {
        static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">", "&", " in " };
        char *op = NULL;
        const char *bad = NULL;
        unsigned long long v;
        size_t which = 0;
        unsigned arg;
        int r;

        atom = trim(atom);
        if (strncmp(atom, "arg", 3) != 0 || !isdigit((unsigned char)atom[3])) {
                report(c, file, line, "expected argN, got \"%s\"", atom);
                return -EINVAL;
        }
        arg = (unsigned)(atom[3] - '0');
        if (arg >= MAX_ARGS || isdigit((unsigned char)atom[4])) {
                report(c, file, line, "no such argument \"%.5s\" (arg0 .. arg5)", atom);
                return -EINVAL;
        }
        /* The operator comes right after argN and blanks. */
        op = atom + 4;
        while (isspace((unsigned char)*op))
                op++;
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                const char *o = ops[i][0] == ' ' ? ops[i] + 1 : ops[i];
                size_t len = ops[i][0] == ' ' ? 2 : strlen(ops[i]);

                if (strncmp(op, o, len) == 0 && (ops[i][0] != ' ' || isspace((unsigned char)op[2]))) {
                        which = i;
                        op += len;
                        break;
                }
                if (i + 1 == ARRAY_SIZE(ops)) {
                        report(c, file, line, "expected an operator (==, !=, <, <=, >, >=, &, in) in \"%s\"", atom);
                        return -EINVAL;
                }
        }
        r = parse_value(op, &v, &bad);
        if (r < 0) {
                report(c, file, line, r == -ENOENT ? "unknown constant \"%s\"" : "bad value \"%s\"", bad);
                return r;
        }
        *ret_n = 1;
        switch (which) {
        case 0:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_EQ, v);
                break;
        case 1:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_NE, v);
                break;
        case 2:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_LE, v);
                break;
        case 3:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_GE, v);
                break;
        case 4:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_LT, v);
                break;
        case 5:
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_GT, v);
                break;
        case 6: {
                unsigned n = 0;

                /* Some bit of v set: one alternative per bit. */
                for (unsigned b = 0; b < 64; b++)
                        if (v & (1ull << b)) {
                                if (n == MAX_ALTERNATIVES) {
                                        report(c, file, line, "mask with too many bits");
                                        return -EINVAL;
                                }
                                alts[n++] = SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, 1ull << b, 1ull << b);
                        }
                if (n == 0) {
                        report(c, file, line, "\"& 0\" can never be true");
                        return -EINVAL;
                }
                *ret_n = n;
                break;
        }
        default:
                /* in: no bit outside v. */
                alts[0] = SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, ~v, 0);
                break;
        }
        return 0;
}

static int add_rule(struct ctx *c, const char *file, unsigned line, uint32_t action, int nr, const struct conj *k) {
        int r = seccomp_rule_add_exact_array(c->filter, action, nr, k->n, k->cmp);

        if (r < 0 && r != -EEXIST) {
                report(c, file, line, "libseccomp refused the rule: %s", strerror(-r));
                return r;
        }
        return 0;
}

static int parse_file(struct ctx *c, const char *path, unsigned depth);

static int parse_line(struct ctx *c, const char *file, unsigned line, char *text, unsigned depth) {
        char *colon, *expr, *save = NULL;
        struct conj alts[MAX_ALTERNATIVES];
        unsigned n_alts = 0;
        int nr;

        if (text[0] == '@') {
                if (strncmp(text, "@frequency", 10) == 0)
                        return 0;
                if (strncmp(text, "@include", 8) == 0 && isspace((unsigned char)text[8])) {
                        char *inc = trim(text + 8), full[4096];

                        if (inc[0] == '/')
                                snprintf(full, sizeof(full), "%s", inc);
                        else {
                                const char *slash = strrchr(file, '/');

                                snprintf(full, sizeof(full), "%.*s%s", slash ? (int)(slash - file + 1) : 0, file, inc);
                        }
                        if (depth >= MAX_INCLUDE_DEPTH) {
                                report(c, file, line, "@include nested too deep");
                                return -EINVAL;
                        }
                        if (access(full, R_OK) < 0) {
                                report(c, file, line, "@include %s: %s", full, strerror(errno));
                                return -EINVAL;
                        }
                        return parse_file(c, full, depth + 1);
                }
                report(c, file, line, "unknown directive \"%s\"", text);
                return -EINVAL;
        }
        colon = strchr(text, ':');
        if (!colon) {
                report(c, file, line, "expected \"syscall: rule\"");
                return -EINVAL;
        }
        *colon = '\0';
        nr = seccomp_syscall_resolve_name(trim(text));
        if (nr == __NR_SCMP_ERROR) {
                report(c, file, line, "unknown syscall \"%s\"", trim(text));
                return -EINVAL;
        }
        expr = trim(colon + 1);
        if (strcmp(expr, "1") == 0) {
                struct conj none = { 0 };

                return add_rule(c, file, line, SCMP_ACT_ALLOW, nr, &none);
        }
        if (strncmp(expr, "return", 6) == 0 && isspace((unsigned char)expr[6])) {
                const char *bad = NULL;
                unsigned long long e;
                struct conj none = { 0 };
                char *name = trim(expr + 7);
                static const struct {
                        const char *n;
                        int v;
                } errnos[] = { { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EACCES", EACCES }, { "EINVAL", EINVAL },
                               { "ENOSYS", ENOSYS }, { "ENOTTY", ENOTTY }, { "EAGAIN", EAGAIN } };

                e = 0;
                for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
                        if (strcmp(errnos[i].n, name) == 0)
                                e = (unsigned long long)errnos[i].v;
                if (e == 0 && (parse_value(name, &e, &bad) < 0 || e == 0 || e > 4095)) {
                        report(c, file, line, "bad errno \"%s\"", name);
                        return -EINVAL;
                }
                return add_rule(c, file, line, SCMP_ACT_ERRNO((uint16_t)e), nr, &none);
        }
        /* A disjunction of conjunctions; each atom may fan out. */
        for (char *p = expr; (p = strstr(p, "||")); p += 2)
                p[0] = '\x02', p[1] = '\x02';
        for (char *clause = strtok_r(expr, "\x02", &save); clause; clause = strtok_r(NULL, "\x02", &save)) {
                struct conj cur[MAX_ALTERNATIVES];
                unsigned n_cur = 1;
                char *save2 = NULL, *p;

                cur[0].n = 0;
                for (p = clause; (p = strstr(p, "&&")); p += 2)
                        p[0] = '\x01', p[1] = '\x01';
                for (char *atom = strtok_r(clause, "\x01", &save2); atom; atom = strtok_r(NULL, "\x01", &save2)) {
                        struct scmp_arg_cmp a[MAX_ALTERNATIVES];
                        unsigned n_a = 0, n_next = 0;
                        struct conj next[MAX_ALTERNATIVES];

                        if (!*trim(atom))
                                continue;
                        if (parse_atom(c, file, line, atom, a, &n_a) < 0)
                                return -EINVAL;
                        for (unsigned i = 0; i < n_cur; i++)
                                for (unsigned k = 0; k < n_a; k++) {
                                        if (n_next == MAX_ALTERNATIVES || cur[i].n == MAX_ARGS) {
                                                report(c, file, line, "expression too large");
                                                return -EINVAL;
                                        }
                                        next[n_next] = cur[i];
                                        next[n_next].cmp[next[n_next].n++] = a[k];
                                        n_next++;
                                }
                        memcpy(cur, next, n_next * sizeof(*cur));
                        n_cur = n_next;
                }
                for (unsigned i = 0; i < n_cur; i++) {
                        if (n_alts == MAX_ALTERNATIVES) {
                                report(c, file, line, "expression too large");
                                return -EINVAL;
                        }
                        alts[n_alts++] = cur[i];
                }
        }
        if (n_alts == 0) {
                report(c, file, line, "empty rule");
                return -EINVAL;
        }
        for (unsigned i = 0; i < n_alts; i++)
                if (add_rule(c, file, line, SCMP_ACT_ALLOW, nr, &alts[i]) < 0)
                        return -EINVAL;
        return 0;
}

static int parse_file(struct ctx *c, const char *path, unsigned depth) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t cap = 0;
        unsigned line = 0;

        if (!f) {
                int r = -errno;

                c->n_errors++;
                if (c->errors)
                        fprintf(c->errors, "%s: %s\n", path, strerror(-r));
                return r;
        }
        while (getline(&buf, &cap, f) >= 0) {
                char *hash, *text;

                line++;
                hash = strchr(buf, '#');
                if (hash)
                        *hash = '\0';
                text = trim(buf);
                if (*text)
                        parse_line(c, path, line, text, depth);
        }
        free(buf);
        fclose(f);
        return c->n_errors ? -EINVAL : 0;
}

int seccomp_policy_compile(const char *path, bool log_failures, FILE *errors, struct sock_fprog *ret_prog) {
        return seccomp_policy_compile_with_base(path, NULL, log_failures, errors, ret_prog);
}

int seccomp_policy_compile_with_base(const char *path, const char *base, bool log_failures, FILE *errors,
                                     struct sock_fprog *ret_prog) {
        struct ctx c = { .errors = errors };
        _cleanup_close_ int fd = -1;
        struct sock_filter *insns = NULL;
        off_t size;
        int r;

        c.filter = seccomp_init(log_failures ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
        if (!c.filter)
                return -ENOMEM;
        /* A syscall through another ABI (x32, i386) is a violation too. */
        r = seccomp_attr_set(c.filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                goto out;
        /* The jail's child makes these between loading the filter and
         * exec (jail.c hands the listener over then); a plugin cannot run
         * without them anyway.  Unconditional, and first, so that
         * a rule of the file for them is refused (-EEXIST) and ignored. */
        for (size_t i = 0; i < ARRAY_SIZE(always_allowed); i++) {
                r = seccomp_rule_add(c.filter, SCMP_ACT_ALLOW, always_allowed[i], 0);
                if (r < 0 && r != -EEXIST)
                        goto out;
        }
        /* The policy first, the base after it: libseccomp keeps the first
         * unconditional rule of a syscall and refuses a later one with
         * another action (-EEXIST, ignored), so a policy's "return
         * ERRNO" stands against the base's allow; an allow, conditional
         * or not, merges with the base's into their union. */
        r = parse_file(&c, path, 0);
        if (r >= 0 && base)
                r = parse_file(&c, base, 0);
        if (r < 0 || c.n_errors) {
                r = -EINVAL;
                goto out;
        }
        fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = seccomp_export_bpf(c.filter, fd);
        if (r < 0)
                goto out;
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % (off_t)sizeof(struct sock_filter) || size / (off_t)sizeof(struct sock_filter) > 0xffff) {
                r = -EINVAL;
                goto out;
        }
        insns = malloc((size_t)size);
        if (!insns || pread(fd, insns, (size_t)size, 0) != size) {
                free(insns);
                r = insns ? -EIO : -ENOMEM;
                goto out;
        }
        ret_prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
        ret_prog->filter = insns;
        r = 0;
out:
        seccomp_release(c.filter);
        return r;
}

void seccomp_policy_free(struct sock_fprog *prog) {
        free(prog->filter);
        prog->filter = NULL;
        prog->len = 0;
}
