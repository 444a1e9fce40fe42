#include "elfdeps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util.h"

/* What one object, and one resolution, may make us read and search.  Real
 * objects stay far below each: a dozen program headers, a few hundred
 * dynamic entries, tens of DT_NEEDED, tens of libraries. */
#define MAX_PHDRS 1024u
#define MAX_DYNAMIC (64u * 1024u)       /* bytes of one dynamic segment */
#define MAX_NEEDED 1024u                /* DT_NEEDED of one object */
#define MAX_NEEDED_TOTAL 8192u          /* DT_NEEDED of all objects together */
#define MAX_PROBES 16384u               /* candidate files looked at */
#define MAX_CONF_DIRS 1024u             /* ld.so.conf directories kept */
#define MAX_CONF_DEPTH 8u               /* nested ld.so.conf includes */
#define SHORT_STRING 256u               /* a string is read this far first */

#if defined(__x86_64__)
#define HOST_CLASS ELFCLASS64
#define HOST_MACHINE EM_X86_64
#define HOST_NAME "x86-64"
/* glibc's own search path as Debian builds it for x86_64 (`ld.so --help`,
 * "system search path").  Only these: a library in any other directory
 * is not found by the loader in the jail, where /etc/ld.so.cache is bound
 * only when a library needs it. */
static const char *const builtin_dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib",
                                            NULL };
#else
#error "elfdeps: the dynamic loader's search path for this architecture is not known"
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

#define LD_SO_CONF "/etc/ld.so.conf"
#define NONE SIZE_MAX

_printf_(4, 5) static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
        return r;
}

static bool libelf_ok;

static void libelf_init(void) {
        libelf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

static int libelf_ready(char *errbuf, size_t errlen) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, libelf_init);
        return libelf_ok ? 0 : fail(errbuf, errlen, -ENOSYS, "libelf does not support this ELF version");
}

/* ---- paths ---- */

/* Lexically normal: ".", "..", "//" and a trailing "/" resolved. */
static int path_normalize(const char *in, char **ret) {
        size_t len = strlen(in), o = 0;
        char *out;

        if (in[0] != '/')
                return -EINVAL;
        out = malloc(len + 2);
        if (!out)
                return -ENOMEM;
        for (const char *p = in; *p;) {
                const char *c = p + strspn(p, "/");
                size_t n = strcspn(c, "/");

                p = c + n;
                if (n == 0 || (n == 1 && c[0] == '.'))
                        continue;
                if (n == 2 && c[0] == '.' && c[1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;    /* the '/' before the dropped component */
                        continue;
                }
                out[o++] = '/';
                memcpy(out + o, c, n);
                o += n;
        }
        if (o == 0)
                out[o++] = '/';
        out[o] = '\0';
        if (o >= PATH_MAX) {
                free(out);
                return -ENAMETOOLONG;
        }
        *ret = out;
        return 0;
}

/* The length of the dynamic string token `ref` at `in` (just after the
 * '$'), plain or in braces, or 0: the loader's own rule, where a name
 * followed by an identifier character is not the token. */
static size_t dst_length(const char *in, const char *ref) {
        size_t len = strlen(ref);
        bool curly = in[0] == '{';
        char next;

        if (curly)
                in++;
        if (strncmp(in, ref, len) != 0)
                return 0;
        next = in[len];
        if (curly)
                return next == '}' ? len + 2 : 0;
        if ((next >= 'A' && next <= 'Z') || (next >= 'a' && next <= 'z') || (next >= '0' && next <= '9') ||
            next == '_')
                return 0;
        return len;
}

int elfdeps_expand(const char *element, const char *origin, char **ret) {
        size_t olen = strlen(origin), cap = 2 * PATH_MAX, o = 0;
        _cleanup_free_ char *out = malloc(cap + 1);

        if (!out)
                return -ENOMEM;
        for (const char *p = element; *p;) {
                size_t n;

                if (*p == '$' && (n = dst_length(p + 1, "ORIGIN")) > 0) {
                        if (cap - o < olen)
                                return -ENAMETOOLONG;
                        memcpy(out + o, origin, olen);
                        o += olen;
                        p += 1 + n;
                        continue;
                }
                /* The loader's values for these depend on how it was built
                 * and on the CPU: guessing could bind the wrong files. */
                if (*p == '$' && (dst_length(p + 1, "LIB") > 0 || dst_length(p + 1, "PLATFORM") > 0))
                        return -ENOTSUP;
                if (o == cap)
                        return -ENAMETOOLONG;
                out[o++] = *p++;
        }
        out[o] = '\0';
        if (out[0] != '/')
                return -EINVAL;
        return path_normalize(out, ret);
}

/* Pseudo-filesystems whose files are S_IFREG but whose reads may block,
 * consume data others wait for (/proc/kmsg, tracefs's trace_pipe) or
 * talk to firmware: no library lives there. */
static bool pseudo_fs(int fd) {
        static const unsigned long magics[] = { PROC_SUPER_MAGIC, SYSFS_MAGIC,      DEBUGFS_MAGIC,
                                                TRACEFS_MAGIC,    SECURITYFS_MAGIC, CGROUP_SUPER_MAGIC,
                                                CGROUP2_SUPER_MAGIC, EFIVARFS_MAGIC, PSTOREFS_MAGIC,
                                                BPF_FS_MAGIC,     SELINUX_MAGIC,    SMACK_MAGIC };
        struct statfs sf;

        if (fstatfs(fd, &sf) < 0)
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
                if ((unsigned long)sf.f_type == magics[i])
                        return true;
        return false;
}

/* Opens `path` for reading only if it is a regular file that can hold an
 * ELF header.  The O_PATH open, fstat and fstatfs come first so that a
 * device (a watchdog, a tape), a FIFO or a pseudo-file that a hostile
 * binary names is never opened; the same inode is then opened through
 * /proc/self/fd, so nothing swapped in between is read.  -EINVAL: not a
 * regular file; -ENOEXEC: too small, or on a pseudo-filesystem. */
static int open_regular(const char *path, struct stat *ret_st) {
        _cleanup_close_ int pfd = open(path, O_PATH | O_CLOEXEC);
        char proc[64];
        int fd;

        if (pfd < 0)
                return -errno;
        if (fstat(pfd, ret_st) < 0)
                return -errno;
        if (!S_ISREG(ret_st->st_mode))
                return -EINVAL;
        if (ret_st->st_size < (off_t)sizeof(Elf32_Ehdr) || pseudo_fs(pfd))
                return -ENOEXEC;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
        fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

/* ---- one object ---- */

/* The file offset of [vaddr, vaddr + size), which must lie in the file
 * part of one PT_LOAD: where the loader finds it once mapped. */
static int vaddr_to_offset(Elf *e, size_t phnum, uint64_t vaddr, uint64_t size, uint64_t *ret) {
        for (size_t i = 0; i < phnum; i++) {
                GElf_Phdr ph;
                uint64_t delta;

                if (!gelf_getphdr(e, (int)i, &ph))
                        return -EINVAL;
                if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr)
                        continue;
                delta = vaddr - ph.p_vaddr;
                if (delta > ph.p_filesz || size > ph.p_filesz - delta || ph.p_offset > INT64_MAX - delta)
                        continue;
                *ret = ph.p_offset + delta;
                return 0;
        }
        return -EINVAL;
}

/* A NUL-terminated string of at most `avail` bytes at file offset `off`,
 * shorter than PATH_MAX.  Most are short: a small read first. */
static int read_string(Elf *e, uint64_t off, uint64_t avail, char **ret) {
        uint64_t want = avail < SHORT_STRING ? avail : SHORT_STRING;

        if (off > INT64_MAX)
                return -EINVAL;
        for (;;) {
                Elf_Data *d = want > 0 ? elf_getdata_rawchunk(e, (int64_t)off, want, ELF_T_BYTE) : NULL;

                if (!d || !d->d_buf)
                        return -EINVAL;
                if (memchr(d->d_buf, '\0', want)) {
                        *ret = strdup(d->d_buf);
                        return *ret ? 0 : -ENOMEM;
                }
                if (want == avail || want >= PATH_MAX)
                        return -EINVAL;
                want = avail < PATH_MAX ? avail : PATH_MAX;
        }
}

/* String `idx` of the dynamic string table (`strsz` bytes at file
 * offset `str_off`). */
static int read_dynstr(Elf *e, uint64_t str_off, uint64_t strsz, uint64_t idx, char **ret) {
        return idx < strsz ? read_string(e, str_off + idx, strsz - idx, ret) : -EINVAL;
}

static const char bad_string[] = "is outside its string table, unterminated or too long";

static int read_header(Elf *e, struct elfdeps_object *o, char *errbuf, size_t errlen) {
        GElf_Ehdr eh;

        if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
                return fail(errbuf, errlen, -ENOEXEC, "not an ELF file");
        o->elf_class = eh.e_ident[EI_CLASS];
        o->data = eh.e_ident[EI_DATA];
        o->type = eh.e_type;
        o->machine = eh.e_machine;
        return 0;
}

static bool host_compatible(const struct elfdeps_object *o) {
        return o->elf_class == HOST_CLASS && o->data == HOST_DATA && o->machine == HOST_MACHINE;
}

static int read_interp(Elf *e, const GElf_Phdr *ph, struct elfdeps_object *o, char *errbuf, size_t errlen) {
        Elf_Data *d;

        /* The kernel's rule: 2 .. PATH_MAX bytes, the last one NUL. */
        if (ph->p_filesz < 2 || ph->p_filesz > PATH_MAX || ph->p_offset > INT64_MAX)
                return fail(errbuf, errlen, -EINVAL, "its PT_INTERP is %" PRIu64 " bytes long", (uint64_t)ph->p_filesz);
        d = elf_getdata_rawchunk(e, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_BYTE);
        if (!d || !d->d_buf || ((const char *)d->d_buf)[ph->p_filesz - 1] != '\0')
                return fail(errbuf, errlen, -EINVAL, "its PT_INTERP cannot be read or is not terminated");
        o->interp = strdup(d->d_buf);
        return o->interp ? 0 : -ENOMEM;
}

/* The program headers and the dynamic segment, as the loader reads them:
 * the first PT_INTERP is the kernel's, the last PT_DYNAMIC and the last
 * of each single-valued tag are the loader's. */
static int read_dynamic(Elf *e, struct elfdeps_object *o, char *errbuf, size_t errlen) {
        uint64_t dyn_vaddr = 0, dyn_size = 0, dyn_off, strtab = 0, strsz = 0, str_off = 0;
        uint64_t soname = 0, rpath = 0, runpath = 0;
        bool have_dyn = false, have_strtab = false, have_soname = false, have_rpath = false, have_runpath = false;
        size_t phnum, entsize, n, n_needed = 0;
        Elf_Data *d;
        int r;

        if (elf_getphdrnum(e, &phnum) < 0)
                return fail(errbuf, errlen, -EINVAL, "its program headers cannot be read (%s)", elf_errmsg(-1));
        if (phnum > MAX_PHDRS)
                return fail(errbuf, errlen, -E2BIG, "it has %zu program headers (at most %u are read)", phnum,
                            MAX_PHDRS);
        for (size_t i = 0; i < phnum; i++) {
                GElf_Phdr ph;

                if (!gelf_getphdr(e, (int)i, &ph))
                        return fail(errbuf, errlen, -EINVAL, "its program headers cannot be read (%s)", elf_errmsg(-1));
                if (ph.p_type == PT_INTERP && !o->interp && (r = read_interp(e, &ph, o, errbuf, errlen)) < 0)
                        return r;
                if (ph.p_type == PT_DYNAMIC) {
                        have_dyn = true;
                        dyn_vaddr = ph.p_vaddr;
                        dyn_size = ph.p_filesz;
                }
        }
        if (!have_dyn)
                return 0;
        entsize = gelf_fsize(e, ELF_T_DYN, 1, EV_CURRENT);
        if (entsize == 0)
                return fail(errbuf, errlen, -EINVAL, "its class is unknown");
        if (dyn_size > MAX_DYNAMIC)
                return fail(errbuf, errlen, -E2BIG, "its dynamic segment is %" PRIu64 " bytes (at most %u are read)",
                            dyn_size, MAX_DYNAMIC);
        dyn_size -= dyn_size % entsize;
        if (dyn_size == 0)
                return 0;
        if (vaddr_to_offset(e, phnum, dyn_vaddr, dyn_size, &dyn_off) < 0)
                return fail(errbuf, errlen, -EINVAL, "its dynamic segment lies outside its loadable segments");
        d = elf_getdata_rawchunk(e, (int64_t)dyn_off, dyn_size, ELF_T_DYN);
        if (!d)
                return fail(errbuf, errlen, -EINVAL, "its dynamic segment cannot be read (%s)", elf_errmsg(-1));
        n = dyn_size / entsize;
        for (size_t i = 0; i < n; i++) {
                GElf_Dyn dyn;

                if (!gelf_getdyn(d, (int)i, &dyn))
                        return fail(errbuf, errlen, -EINVAL, "its dynamic segment cannot be read (%s)", elf_errmsg(-1));
                if (dyn.d_tag == DT_NULL)
                        break;
                if (dyn.d_tag == DT_NEEDED)
                        n_needed++;
                else if (dyn.d_tag == DT_STRTAB)
                        strtab = dyn.d_un.d_ptr, have_strtab = true;
                else if (dyn.d_tag == DT_STRSZ)
                        strsz = dyn.d_un.d_val;
                else if (dyn.d_tag == DT_SONAME)
                        soname = dyn.d_un.d_val, have_soname = true;
                else if (dyn.d_tag == DT_RPATH)
                        rpath = dyn.d_un.d_val, have_rpath = true;
                else if (dyn.d_tag == DT_RUNPATH)
                        runpath = dyn.d_un.d_val, have_runpath = true;
                else if (dyn.d_tag == DT_FLAGS_1)
                        o->nodeflib = (dyn.d_un.d_val & DF_1_NODEFLIB) != 0;
        }
        if (n_needed > MAX_NEEDED)
                return fail(errbuf, errlen, -E2BIG, "it has %zu DT_NEEDED entries (at most %u)", n_needed, MAX_NEEDED);
        if (n_needed == 0 && !have_soname && !have_rpath && !have_runpath)
                return 0;
        if (!have_strtab || strsz == 0 || vaddr_to_offset(e, phnum, strtab, strsz, &str_off) < 0)
                return fail(errbuf, errlen, -EINVAL, "its dynamic string table is missing or lies outside its "
                                                     "loadable segments");
        if (n_needed > 0 && !(o->needed = calloc(n_needed, sizeof(*o->needed))))
                return -ENOMEM;
        for (size_t i = 0; i < n && o->n_needed < n_needed; i++) {
                GElf_Dyn dyn;

                if (!gelf_getdyn(d, (int)i, &dyn))
                        return fail(errbuf, errlen, -EINVAL, "its dynamic segment cannot be read");
                if (dyn.d_tag != DT_NEEDED)
                        continue;
                r = read_dynstr(e, str_off, strsz, dyn.d_un.d_val, &o->needed[o->n_needed]);
                if (r < 0)
                        return r == -ENOMEM ? r : fail(errbuf, errlen, r, "a DT_NEEDED string %s", bad_string);
                if (!o->needed[o->n_needed++][0])
                        return fail(errbuf, errlen, -EINVAL, "a DT_NEEDED entry is empty");
        }
        if ((have_soname && (r = read_dynstr(e, str_off, strsz, soname, &o->soname)) < 0) ||
            (have_runpath && (r = read_dynstr(e, str_off, strsz, runpath, &o->runpath)) < 0) ||
            (have_rpath && !have_runpath && (r = read_dynstr(e, str_off, strsz, rpath, &o->rpath)) < 0))
                return r == -ENOMEM ? r : fail(errbuf, errlen, r, "its DT_SONAME, DT_RPATH or DT_RUNPATH %s",
                                               bad_string);
        return 0;
}

void elfdeps_object_free(struct elfdeps_object *o) {
        for (size_t i = 0; i < o->n_needed; i++)
                free(o->needed[i]);
        free(o->needed);
        free(o->interp);
        free(o->soname);
        free(o->rpath);
        free(o->runpath);
        *o = (struct elfdeps_object){ 0 };
}

int elfdeps_read(int fd, struct elfdeps_object *ret, char *errbuf, size_t errlen) {
        struct elfdeps_object o = { 0 };
        Elf *e;
        int r;

        if ((r = libelf_ready(errbuf, errlen)) < 0)
                return r;
        /* ELF_C_READ: pread, never mmap. */
        e = elf_begin(fd, ELF_C_READ, NULL);
        if (!e)
                return fail(errbuf, errlen, -ENOEXEC, "not an ELF file (%s)", elf_errmsg(-1));
        r = read_header(e, &o, errbuf, errlen);
        if (r == 0)
                r = read_dynamic(e, &o, errbuf, errlen);
        elf_end(e);
        if (r < 0) {
                elfdeps_object_free(&o);
                return r;
        }
        *ret = o;
        return 0;
}

/* ---- the resolution ---- */

struct node {
        char *path;             /* normal, absolute: where the loader opens it */
        char *origin;           /* its directory, for $ORIGIN */
        struct elfdeps_object obj;
        dev_t dev;
        ino_t ino;
        size_t loader;          /* the node whose DT_NEEDED brought it, or NONE */
        bool traverse;          /* its DT_NEEDED are followed (not the interpreter's) */
        char **names;           /* the names it was asked for by */
        size_t n_names;
};

struct dir {
        char *path;
        bool is_default;        /* the loader searches it without the cache */
};

/* Nodes are referred to by index: the array moves as it grows (the
 * strings it points to do not). */
struct resolver {
        const struct elfdeps_search *search;
        struct node *nodes;
        size_t n_nodes;
        char **paths;
        size_t n_paths;
        struct dir *dirs;       /* ld.so.conf's, then the defaults; loaded on first use */
        size_t n_dirs;
        bool dirs_loaded;
        unsigned probes, needed_total;
        bool needs_ld_cache;
        char *errbuf;
        size_t errlen;
};

/* What one lookup looked at, for the message when nothing was found. */
struct tried {
        char dirs[1536];
        char skipped[768];
};

/* Appends to a string buffer; a full one ends in "...". */
_printf_(3, 4) static void appendf(char *buf, size_t size, const char *fmt, ...) {
        size_t len = strlen(buf);
        va_list ap;
        int n;

        if (len + 1 >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n >= size - len && size >= 4)
                memcpy(buf + size - 4, "...", 4);
}

static int add_name(char ***v, size_t *n, const char *name) {
        char **bigger;

        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i], name) == 0)
                        return 0;
        bigger = realloc(*v, (*n + 1) * sizeof(**v));
        if (!bigger)
                return -ENOMEM;
        *v = bigger;
        if (!(bigger[*n] = strdup(name)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Room for element n of an array of 8, 16, 32... elements. */
static int grow(void *array, size_t n, size_t size) {
        void **v = array, *bigger;

        if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
                return 0;
        bigger = realloc(*v, (n == 0 ? 8 : 2 * n) * size);
        if (!bigger)
                return -ENOMEM;
        *v = bigger;
        return 0;
}

static int add_path(struct resolver *R, const char *path) {
        for (size_t i = 0; i < R->n_paths; i++)
                if (strcmp(R->paths[i], path) == 0)
                        return 0;
        if (R->n_paths == ELFDEPS_MAX_OBJECTS)
                return fail(R->errbuf, R->errlen, -E2BIG, "needs more than %d files", ELFDEPS_MAX_OBJECTS);
        if (grow(&R->paths, R->n_paths, sizeof(*R->paths)) < 0)
                return -ENOMEM;
        if (!(R->paths[R->n_paths] = strdup(path)))
                return -ENOMEM;
        R->n_paths++;
        return 0;
}

/* Takes `o` (zeroed on success). */
static int add_node(struct resolver *R, const char *path, struct elfdeps_object *o, const struct stat *st,
                    size_t loader, bool traverse, const char *name) {
        struct node *nd;
        char *slash;
        int r;

        if (R->n_nodes == ELFDEPS_MAX_OBJECTS)
                return fail(R->errbuf, R->errlen, -E2BIG, "needs more than %d files", ELFDEPS_MAX_OBJECTS);
        R->needed_total += (unsigned)o->n_needed;
        if (traverse && R->needed_total > MAX_NEEDED_TOTAL)
                return fail(R->errbuf, R->errlen, -E2BIG, "has more than %u DT_NEEDED entries in all its objects",
                            MAX_NEEDED_TOTAL);
        if ((r = add_path(R, path)) < 0)
                return r;
        if (grow(&R->nodes, R->n_nodes, sizeof(*R->nodes)) < 0)
                return -ENOMEM;
        nd = &R->nodes[R->n_nodes];
        *nd = (struct node){ .dev = st->st_dev, .ino = st->st_ino, .loader = loader, .traverse = traverse };
        nd->path = strdup(path);
        nd->origin = strdup(path);
        if (!nd->path || !nd->origin) {
                free(nd->path);
                free(nd->origin);
                return -ENOMEM;
        }
        /* Normal and absolute: the last '/' exists; "/x" has origin "/". */
        slash = strrchr(nd->origin, '/');
        slash[slash == nd->origin ? 1 : 0] = '\0';
        nd->obj = *o;
        *o = (struct elfdeps_object){ 0 };
        R->n_nodes++;
        return name ? add_name(&nd->names, &nd->n_names, name) : 0;
}

/* The loaded object the loader takes `name` for without a search: its
 * path, a name it was loaded by, or its soname.  (The executable's own
 * name is "" to the loader.) */
static size_t find_by_name(const struct resolver *R, const char *name) {
        for (size_t k = 0; k < R->n_nodes; k++) {
                const struct node *nd = &R->nodes[k];

                if ((k > 0 && strcmp(nd->path, name) == 0) || (nd->obj.soname && strcmp(nd->obj.soname, name) == 0))
                        return k;
                for (size_t i = 0; i < nd->n_names; i++)
                        if (strcmp(nd->names[i], name) == 0)
                                return k;
        }
        return NONE;
}

/* Looks at one candidate for `name`: 1 taken (a new object, or a known
 * one by another path), 0 not a library for us (absent, not a regular
 * file, not ELF, another class or machine, not ET_DYN: skipped, as the
 * loader skips it), or -errno with the message set. */
static int consider(struct resolver *R, const char *path, size_t loader, const char *name, bool via_cache) {
        _cleanup_close_ int fd = -1;
        struct elfdeps_object o = { 0 };
        char why[256];
        struct stat st;
        Elf *e;
        int r;

        if (++R->probes > MAX_PROBES)
                return fail(R->errbuf, R->errlen, -E2BIG, "makes us look at more than %u candidate files",
                            MAX_PROBES);
        fd = open_regular(path, &st);
        if (fd == -ENOMEM || fd == -EMFILE || fd == -ENFILE)
                return fail(R->errbuf, R->errlen, fd, "needs %s: opening %s: %s", name, path, strerror(-fd));
        if (fd < 0)
                return 0;
        e = elf_begin(fd, ELF_C_READ, NULL);
        if (!e)
                return 0;
        if (read_header(e, &o, why, sizeof(why)) < 0 || !host_compatible(&o) || o.type != ET_DYN) {
                elf_end(e);
                return 0;
        }
        /* The same file by another path: mapped once, but opened by
         * this path too, so the path must exist in the jail. */
        R->needs_ld_cache |= via_cache;
        for (size_t k = 0; k < R->n_nodes; k++)
                if (R->nodes[k].dev == st.st_dev && R->nodes[k].ino == st.st_ino) {
                        elf_end(e);
                        if ((r = add_path(R, path)) < 0)
                                return r;
                        return (r = add_name(&R->nodes[k].names, &R->nodes[k].n_names, name)) < 0 ? r : 1;
                }
        r = read_dynamic(e, &o, why, sizeof(why));
        elf_end(e);
        if (r < 0) {
                elfdeps_object_free(&o);
                return fail(R->errbuf, R->errlen, r, "needs %s (needed by %s): %s is malformed: %s", name,
                            R->nodes[loader].path, path, why);
        }
        r = add_node(R, path, &o, &st, loader, true, name);
        elfdeps_object_free(&o);
        return r < 0 ? r : 1;
}

static int try_dir(struct resolver *R, const char *dir, const char *name, size_t loader, bool via_cache,
                   struct tried *t) {
        _cleanup_free_ char *path = NULL;

        appendf(t->dirs, sizeof(t->dirs), "%s%s", t->dirs[0] ? ", " : "", dir);
        if (asprintf(&path, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        return consider(R, path, loader, name, via_cache);
}

/* The directories of one DT_RPATH or DT_RUNPATH of node `owner`. */
static int search_list(struct resolver *R, size_t owner, const char *list, const char *tag, const char *name,
                       size_t loader, struct tried *t) {
        _cleanup_free_ char *copy = strdup(list);
        char *rest = copy, *elem;

        if (!copy)
                return -ENOMEM;
        while ((elem = strsep(&rest, ":"))) {
                _cleanup_free_ char *dir = NULL;
                int r = elfdeps_expand(elem, R->nodes[owner].origin, &dir);

                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        appendf(t->skipped, sizeof(t->skipped), "%s\"%s\" (%s of %s: %s)", t->skipped[0] ? ", " : "",
                                elem, tag, R->nodes[owner].path,
                                r == -ENOTSUP ? "$LIB and $PLATFORM are not expanded"
                                : r == -EINVAL ? "relative to the loader's working directory"
                                               : strerror(-r));
                        continue;
                }
                if ((r = try_dir(R, dir, name, loader, false, t)) != 0)
                        return r;
        }
        return 0;
}

static int add_dir(struct resolver *R, const char *path, bool is_default) {
        _cleanup_free_ char *norm = NULL;
        struct dir *bigger;

        if (path_normalize(path, &norm) < 0)
                return 0;       /* relative or too long: not a directory the loader uses */
        for (size_t i = 0; i < R->n_dirs; i++)
                if (strcmp(R->dirs[i].path, norm) == 0) {
                        R->dirs[i].is_default |= is_default;
                        return 0;
                }
        if (R->n_dirs == MAX_CONF_DIRS)
                return 0;
        bigger = realloc(R->dirs, (R->n_dirs + 1) * sizeof(*bigger));
        if (!bigger)
                return -ENOMEM;
        R->dirs = bigger;
        R->dirs[R->n_dirs++] = (struct dir){ .path = TAKE_PTR(norm), .is_default = is_default };
        return 0;
}

/* ld.so.conf as ldconfig reads it: '#' comments, "include PATTERN..."
 * (relative to the including file's directory, expanded with glob),
 * "hwcap" lines ignored, otherwise one directory per line.  A file that
 * cannot be read adds nothing. */
static int read_conf(struct resolver *R, const char *file, unsigned depth) {
        FILE *f;
        char line[PATH_MAX + 64];
        int r = 0;

        if (depth > MAX_CONF_DEPTH || !(f = fopen(file, "re")))
                return 0;
        while (r >= 0 && fgets(line, sizeof(line), f)) {
                char *p = line, *end;

                p[strcspn(p, "#\n")] = '\0';
                p += strspn(p, " \t");
                end = p + strlen(p);
                while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                        *--end = '\0';
                if (!*p)
                        continue;
                if (strncmp(p, "hwcap", 5) == 0 && (p[5] == ' ' || p[5] == '\t'))
                        continue;
                if (strncmp(p, "include", 7) != 0 || (p[7] != ' ' && p[7] != '\t')) {
                        r = add_dir(R, p, false);
                        continue;
                }
                for (char *save = NULL, *pat = strtok_r(p + 8, " \t", &save); pat && r >= 0;
                     pat = strtok_r(NULL, " \t", &save)) {
                        _cleanup_free_ char *full = NULL;
                        const char *slash = strrchr(file, '/');
                        glob_t g;

                        if (pat[0] != '/' && slash &&
                            asprintf(&full, "%.*s/%s", (int)(slash - file), file, pat) < 0) {
                                full = NULL;
                                r = -ENOMEM;
                                break;
                        }
                        if (glob(full ? full : pat, 0, NULL, &g) != 0)
                                continue;
                        for (size_t i = 0; i < g.gl_pathc && r >= 0; i++)
                                r = read_conf(R, g.gl_pathv[i], depth + 1);
                        globfree(&g);
                }
        }
        fclose(f);
        return r;
}

static int load_dirs(struct resolver *R) {
        const char *conf = R->search && R->search->ld_so_conf ? R->search->ld_so_conf : LD_SO_CONF;
        const char *const *defaults = R->search && R->search->default_dirs ? R->search->default_dirs : builtin_dirs;
        int r;

        if (R->dirs_loaded)
                return 0;
        R->dirs_loaded = true;
        if ((r = read_conf(R, conf, 0)) < 0)
                return r;
        for (size_t i = 0; defaults[i]; i++)
                if ((r = add_dir(R, defaults[i], true)) < 0)
                        return r;
        return 0;
}

/* One DT_NEEDED of node `loader`, found as glibc's _dl_map_object does. */
static int resolve_needed(struct resolver *R, size_t loader, const char *name) {
        /* Kept by pointer: these strings stay put while nodes are added. */
        const char *ld_path = R->nodes[loader].path, *ld_origin = R->nodes[loader].origin;
        const char *ld_runpath = R->nodes[loader].obj.runpath;
        bool nodeflib = R->nodes[loader].obj.nodeflib;
        struct tried t = { "", "" };
        int r;

        if (find_by_name(R, name) != NONE)
                return 0;
        if (strchr(name, '/')) {
                _cleanup_free_ char *path = NULL;

                r = elfdeps_expand(name, ld_origin, &path);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(R->errbuf, R->errlen, r, "needs %s (needed by %s): %s", name, ld_path,
                                    r == -ENOTSUP ? "$LIB and $PLATFORM are not expanded"
                                    : r == -EINVAL ? "a relative path, which the loader would open from its working "
                                                     "directory: refused"
                                                   : strerror(-r));
                r = consider(R, path, loader, name, false);
                if (r == 0)
                        return fail(R->errbuf, R->errlen, -ENOENT,
                                    "needs %s (needed by %s): %s is not a shared object for " HOST_NAME
                                    " (or does not exist)",
                                    name, ld_path, path);
                return r < 0 ? r : 0;
        }
        /* DT_RPATH of the object and of the chain that loaded it, unless
         * the object has DT_RUNPATH (its own DT_RPATH is then NULL). */
        if (!ld_runpath)
                for (size_t l = loader; l != NONE; l = R->nodes[l].loader)
                        if (R->nodes[l].obj.rpath &&
                            (r = search_list(R, l, R->nodes[l].obj.rpath, "DT_RPATH", name, loader, &t)) != 0)
                                return r < 0 ? r : 0;
        if (ld_runpath && (r = search_list(R, loader, ld_runpath, "DT_RUNPATH", name, loader, &t)) != 0)
                return r < 0 ? r : 0;
        /* The cache (ld.so.conf's directories), then the defaults; with
         * DF_1_NODEFLIB neither the defaults nor cache entries in them. */
        if ((r = load_dirs(R)) < 0)
                return r;
        for (size_t i = 0; i < R->n_dirs; i++) {
                if (nodeflib && R->dirs[i].is_default)
                        continue;
                if ((r = try_dir(R, R->dirs[i].path, name, loader, !R->dirs[i].is_default, &t)) != 0)
                        return r < 0 ? r : 0;
        }
        return fail(R->errbuf, R->errlen, -ENOENT, "needs %s (needed by %s): not found in %s%s%s", name, ld_path,
                    t.dirs[0] ? t.dirs : "any directory", t.skipped[0] ? "; not searched: " : "", t.skipped);
}

/* The executable (`interp` NULL) or its interpreter, which must exist, be
 * a regular file and ELF.  The message is a predicate about the
 * executable: "is not an ELF file: /p/x", "has the ELF interpreter
 * /p/x.sh, which is not an ELF file but a script". */
static int read_required(struct resolver *R, const char *path, bool interp, struct elfdeps_object *o,
                         struct stat *st) {
        _cleanup_close_ int fd = open_regular(path, st);
        char why[256], head[2], who[PATH_MAX + 64] = "", where[PATH_MAX + 4] = "";
        Elf *e;
        int r;

        if (interp)
                snprintf(who, sizeof(who), "has the ELF interpreter %s, which ", path);
        else
                snprintf(where, sizeof(where), ": %s", path);
        if (fd == -EINVAL)
                return fail(R->errbuf, R->errlen, -ENOEXEC, "%sis not a regular file%s", who, where);
        if (fd == -ENOEXEC)
                return fail(R->errbuf, R->errlen, -ENOEXEC, "%sis not an ELF file%s", who, where);
        if (fd < 0)
                return fail(R->errbuf, R->errlen, fd, "%scannot be read%s: %s", who, where, strerror(-fd));
        e = elf_begin(fd, ELF_C_READ, NULL);
        if (!e || read_header(e, o, why, sizeof(why)) < 0) {
                bool script = pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!';

                elf_end(e);
                return fail(R->errbuf, R->errlen, -ENOEXEC, "%sis not an ELF file%s%s", who,
                            script ? " but a script" : "", where);
        }
        r = read_dynamic(e, o, why, sizeof(why));
        elf_end(e);
        if (r < 0)
                return fail(R->errbuf, R->errlen, r, "%sis malformed%s: %s", who, where, why);
        return 0;
}

static void resolver_done(struct resolver *R) {
        for (size_t i = 0; i < R->n_nodes; i++) {
                struct node *nd = &R->nodes[i];

                free(nd->path);
                free(nd->origin);
                elfdeps_object_free(&nd->obj);
                for (size_t k = 0; k < nd->n_names; k++)
                        free(nd->names[k]);
                free(nd->names);
        }
        free(R->nodes);
        for (size_t i = 0; i < R->n_paths; i++)
                free(R->paths[i]);
        free(R->paths);
        for (size_t i = 0; i < R->n_dirs; i++)
                free(R->dirs[i].path);
        free(R->dirs);
}

static int resolve(struct resolver *R, const char *exe) {
        _cleanup_free_ char *exe_path = NULL, *interp = NULL;
        struct elfdeps_object o = { 0 };
        struct stat st;
        int r;

        if ((r = path_normalize(exe, &exe_path)) < 0)
                return fail(R->errbuf, R->errlen, r, "is not an absolute path: %s", exe);
        r = read_required(R, exe_path, false, &o, &st);
        if (r < 0)
                goto out;
        if (!host_compatible(&o) || (o.type != ET_EXEC && o.type != ET_DYN)) {
                r = fail(R->errbuf, R->errlen, -ENOEXEC,
                         "is not an executable for " HOST_NAME ": %s (ELF class %u, data %u, machine %u, type %u)",
                         exe_path, o.elf_class, o.data, o.machine, o.type);
                goto out;
        }
        if (o.interp) {
                /* The kernel would open a relative interpreter from the
                 * plugin's working directory: nothing we can bind. */
                r = path_normalize(o.interp, &interp);
                if (r < 0) {
                        r = fail(R->errbuf, R->errlen, -ENOEXEC, "has an ELF interpreter \"%s\" that is not an "
                                                                 "absolute path", o.interp);
                        goto out;
                }
        }
        if ((r = add_node(R, exe_path, &o, &st, NONE, interp != NULL, NULL)) < 0)
                goto out;
        if (!interp)
                return 0;       /* static: the kernel maps it alone */
        r = read_required(R, interp, true, &o, &st);
        if (r < 0)
                goto out;
        if (!host_compatible(&o) || o.type != ET_DYN) {
                r = fail(R->errbuf, R->errlen, -ENOEXEC,
                         "has the ELF interpreter %s, which is not an ELF shared object for " HOST_NAME, interp);
                goto out;
        }
        /* Known to the loader by its PT_INTERP and its soname; its own
         * DT_NEEDED (none, for ld.so) are not followed. */
        if ((r = add_node(R, interp, &o, &st, NONE, false, R->nodes[0].obj.interp)) < 0)
                goto out;
        for (size_t i = 0; i < R->n_nodes; i++) {
                if (!R->nodes[i].traverse)
                        continue;
                /* resolve_needed() may add nodes (and move the array):
                 * index afresh each time; the strings stay put. */
                for (size_t k = 0; k < R->nodes[i].obj.n_needed; k++)
                        if ((r = resolve_needed(R, i, R->nodes[i].obj.needed[k])) < 0)
                                goto out;
        }
        r = 0;
out:
        elfdeps_object_free(&o);
        return r;
}

int elfdeps_resolve(const char *exe, const struct elfdeps_search *search, struct elfdeps **ret, char *errbuf,
                    size_t errlen) {
        struct resolver R = { .search = search, .errbuf = errbuf, .errlen = errlen };
        struct elfdeps *d = NULL;
        int r;

        if ((r = libelf_ready(errbuf, errlen)) < 0)
                return r;
        r = resolve(&R, exe);
        if (r == 0 && !(d = calloc(1, sizeof(*d))))
                r = -ENOMEM;
        if (r == -ENOMEM)
                fail(errbuf, errlen, r, "out of memory");
        if (r < 0) {
                resolver_done(&R);
                return r;
        }
        d->paths = TAKE_PTR(R.paths);
        d->n = R.n_paths;
        d->needs_ld_cache = R.needs_ld_cache;
        R.n_paths = 0;
        resolver_done(&R);
        *ret = d;
        return 0;
}

void elfdeps_free(struct elfdeps *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++)
                free(d->paths[i]);
        free(d->paths);
        free(d);
}
