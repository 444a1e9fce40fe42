/* The files an ELF executable needs to start (its interpreter and its
 * shared libraries), found the way glibc's dynamic loader finds them, by
 * reading the files with libelf in this process.  Nothing of the
 * executable, nor of anything it names, is executed or handed to another
 * program: the plugin's binary is untrusted, and its PT_INTERP would
 * otherwise run with our privileges.
 *
 * Every file is inspected before it is opened for reading (an O_PATH open
 * and fstat: a device node is never opened, so naming /dev/watchdog does
 * nothing) and read with pread (libelf's ELF_C_READ, never mmap: a file
 * truncated under us gives a read error, not SIGBUS).  What a hostile
 * binary can make us read and search is capped (program headers, the
 * dynamic segment, DT_NEEDED entries, objects, lookups); going over a cap
 * fails the resolution with -E2BIG. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most files one resolution returns: the executable, its interpreter,
 * the libraries and the extra paths a library is reached by. */
#define ELFDEPS_MAX_OBJECTS 512

/* What the loader reads of one ELF object. */
struct elfdeps_object {
        unsigned char elf_class;        /* e_ident[EI_CLASS] */
        unsigned char data;             /* e_ident[EI_DATA] */
        uint16_t type;                  /* e_type */
        uint16_t machine;               /* e_machine */
        char *interp;                   /* PT_INTERP (the first), or NULL */
        char *soname;                   /* DT_SONAME, or NULL */
        char **needed;                  /* DT_NEEDED, in order */
        size_t n_needed;
        char *rpath;                    /* DT_RPATH, NULL if absent or if DT_RUNPATH is
                                         * present (the loader then ignores it) */
        char *runpath;                  /* DT_RUNPATH, or NULL */
        bool nodeflib;                  /* DF_1_NODEFLIB: no default directories */
};

/* Reads the ELF object open at `fd` (a regular file; the caller keeps the
 * fd) through its program headers and dynamic segment, as the loader
 * sees it (section headers are never used).  Any class, byte order and
 * machine.  Returns 0 and fills *ret (release with elfdeps_object_free),
 * or -ENOEXEC: not an ELF file, -EINVAL: malformed, -E2BIG: over a cap,
 * -ENOMEM; then `errbuf` says what, in words ("not an ELF file", "its
 * dynamic segment lies outside its loadable segments", ...). */
int elfdeps_read(int fd, struct elfdeps_object *ret, char *errbuf, size_t errlen);
/* Frees what elfdeps_read() filled in and zeroes *o.  A zeroed *o is fine. */
void elfdeps_object_free(struct elfdeps_object *o);

/* One search path element or DT_NEEDED path, with $ORIGIN and ${ORIGIN}
 * replaced by `origin` (an absolute directory), then made absolute and
 * normal (no ".", "..", "//" or trailing "/": the jail's directories are
 * plain ones, so ".." inside the jail is lexical).  Returns 0 and a
 * malloc'd *ret, or -ENOTSUP: $LIB or $PLATFORM (not expanded here),
 * -EINVAL: empty or relative (the loader would resolve it against its
 * working directory), -ENAMETOOLONG, -ENOMEM. */
int elfdeps_expand(const char *element, const char *origin, char **ret);

/* Where the system's libraries are looked for; zeroed: this system's. */
struct elfdeps_search {
        const char *ld_so_conf;                 /* NULL: /etc/ld.so.conf (with its includes) */
        const char *const *default_dirs;        /* NULL-terminated; NULL: the loader's built-in
                                                 * list ("system search path" of ld.so --help) */
};

struct elfdeps {
        /* [0] the executable, then (if dynamic) its interpreter, then
         * every library breadth first as the loader maps them, each at
         * the path the loader opens it by (normal, absolute). */
        char **paths;
        size_t n;
        /* A library was found in a directory of ld.so.conf that is not
         * one of the defaults: the loader reaches it only through
         * /etc/ld.so.cache, which the jail must then hold too. */
        bool needs_ld_cache;
};

/* Resolves what `exe` (an absolute path) needs to start:
 *  - a static executable (no PT_INTERP): only itself;
 *  - the interpreter must be an absolute path to a regular ELF ET_DYN
 *    file of the executable's class, byte order and machine (which must
 *    be this machine's), else the resolution fails naming it;
 *  - each DT_NEEDED, breadth first, deduplicated as the loader does (by
 *    name, soname and file): a name with '/' is a path (relative ones are
 *    refused); otherwise the DT_RPATH of the object and of the objects
 *    that loaded it (when the object has no DT_RUNPATH), its DT_RUNPATH,
 *    then ld.so.conf's directories and the defaults (unless
 *    DF_1_NODEFLIB).  A candidate counts only if it is a regular ELF
 *    ET_DYN file of the same class, byte order and machine; others are
 *    skipped, as the loader skips them.  Search path elements that use
 *    $LIB or $PLATFORM, or are relative, are not searched (and are named
 *    if the library is then not found).  LD_LIBRARY_PATH is not used.
 * `search` may be NULL (this system's).  Returns 0 and *ret (release with
 * elfdeps_free), or a negative errno with `errbuf` holding a predicate
 * about the executable that names every file concerned ("needs
 * libfoo.so.1 (needed by /opt/p/libbar.so): not found in /opt/p/lib,
 * /lib/x86_64-linux-gnu, ...", "is not an ELF file: /opt/p/plugin", "has
 * the ELF interpreter /opt/p/x.sh, which is not an ELF file but a
 * script"). */
int elfdeps_resolve(const char *exe, const struct elfdeps_search *search, struct elfdeps **ret, char *errbuf,
                    size_t errlen);
/* NULL is fine. */
void elfdeps_free(struct elfdeps *d);
