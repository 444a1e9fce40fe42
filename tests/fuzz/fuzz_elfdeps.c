/* libFuzzer: the ELF reader (src/elfdeps.c) on a file a hostile plugin
 * wrote.  The input's first byte picks the mode: odd, the rest is the
 * whole file (cut short, lying sizes, anything); even, the rest is XORed
 * onto a small valid dynamic executable, so that mutations start from a
 * file that reaches the dynamic segment and the resolution (DT_NEEDED of
 * libc.so.6 and of a library that does not exist, a DT_RUNPATH with
 * $ORIGIN).  The file is a memfd, read through /proc/self/fd; the
 * resolution searches only what the file names (no ld.so.conf, no
 * default directories), and elfdeps opens nothing but regular files.
 * Every string that comes back must be terminated and shorter than
 * PATH_MAX; nothing may crash, leak or grow without bound. */
#include <elf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elfdeps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PHNUM 3
#define N_DYN 8
static const char strtab[] = "\0libc.so.6\0libfuzzdep.so\0$ORIGIN:/lib/x86_64-linux-gnu:${ORIGIN}/../x\0fuzz.so";
static const char interp[] = "/lib64/ld-linux-x86-64.so.2";

static uint8_t template[1024];
static size_t template_len;

static void build_template(void) {
        size_t ph_off = sizeof(Elf64_Ehdr), interp_off = ph_off + PHNUM * sizeof(Elf64_Phdr);
        size_t dyn_off = (interp_off + sizeof(interp) + 7) & ~(size_t)7;
        size_t str_off = dyn_off + N_DYN * sizeof(Elf64_Dyn);
        Elf64_Ehdr eh = {
                .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
                .e_type = ET_DYN,
                .e_machine = EM_X86_64,
                .e_version = EV_CURRENT,
                .e_phoff = ph_off,
                .e_ehsize = sizeof(Elf64_Ehdr),
                .e_phentsize = sizeof(Elf64_Phdr),
                .e_phnum = PHNUM,
        };
        Elf64_Phdr ph[PHNUM] = {
                { .p_type = PT_LOAD, .p_flags = PF_R, .p_align = 4096 },
                { .p_type = PT_INTERP, .p_flags = PF_R, .p_offset = interp_off, .p_vaddr = interp_off,
                  .p_filesz = sizeof(interp), .p_memsz = sizeof(interp), .p_align = 1 },
                { .p_type = PT_DYNAMIC, .p_flags = PF_R, .p_offset = dyn_off, .p_vaddr = dyn_off,
                  .p_filesz = N_DYN * sizeof(Elf64_Dyn), .p_memsz = N_DYN * sizeof(Elf64_Dyn), .p_align = 8 },
        };
        Elf64_Dyn dyn[N_DYN] = {
                { DT_NEEDED, { 1 } },   /* libc.so.6 */
                { DT_NEEDED, { 11 } },  /* libfuzzdep.so */
                { DT_RUNPATH, { 25 } },
                { DT_SONAME, { 70 } },
                { DT_STRTAB, { str_off } },
                { DT_STRSZ, { sizeof(strtab) } },
                { DT_FLAGS_1, { 0 } },
                { DT_NULL, { 0 } },
        };

        template_len = str_off + sizeof(strtab);
        ph[0].p_filesz = ph[0].p_memsz = template_len;
        memcpy(template, &eh, sizeof(eh));
        memcpy(template + ph_off, ph, sizeof(ph));
        memcpy(template + interp_off, interp, sizeof(interp));
        memcpy(template + dyn_off, dyn, sizeof(dyn));
        memcpy(template + str_off, strtab, sizeof(strtab));
}

static void check_string(const char *s) {
        if (!s || strnlen(s, PATH_MAX) >= PATH_MAX)
                abort();
}

static void expand_all(const char *list) {
        char *copy = strdup(list), *rest = copy, *elem;

        if (!copy)
                abort();
        while ((elem = strsep(&rest, ":"))) {
                char *out = NULL;

                if (elfdeps_expand(elem, "/fuzz/origin", &out) == 0)
                        check_string(out);
                free(out);
        }
        free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const no_dirs[] = { NULL };
        static const struct elfdeps_search search = { .ld_so_conf = "/nonexistent/ld.so.conf",
                                                      .default_dirs = no_dirs };
        static uint8_t file[8192];
        static int fd = -1;
        static char path[64];
        struct elfdeps_object o;
        struct elfdeps *d = NULL;
        char err[1024];
        size_t len;

        if (fd < 0) {
                fd = memfd_create("fuzz_elfdeps", MFD_CLOEXEC);
                if (fd < 0)
                        abort();
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                build_template();
        }
        if (size == 0)
                return 0;
        len = size - 1;
        if (len > sizeof(file))
                return 0;
        if (data[0] & 1) {
                memcpy(file, data + 1, len);
        } else {
                memcpy(file, template, template_len);
                for (size_t i = 0; i < len; i++)
                        file[i] = (uint8_t)((i < template_len ? file[i] : 0) ^ data[1 + i]);
                if (len < template_len)
                        len = template_len;
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, file, len, 0) != (ssize_t)len)
                abort();

        if (elfdeps_read(fd, &o, err, sizeof(err)) == 0) {
                if (o.n_needed > 0 && !o.needed)
                        abort();
                for (size_t i = 0; i < o.n_needed; i++) {
                        check_string(o.needed[i]);
                        expand_all(o.needed[i]);
                }
                if (o.interp)
                        check_string(o.interp);
                if (o.rpath)
                        expand_all(o.rpath);
                if (o.runpath)
                        expand_all(o.runpath);
                if (o.rpath && o.runpath)
                        abort();        /* the loader ignores DT_RPATH beside DT_RUNPATH */
                elfdeps_object_free(&o);
        } else if (strnlen(err, sizeof(err)) == 0) {
                abort();                /* every failure says why */
        }

        if (elfdeps_resolve(path, &search, &d, err, sizeof(err)) == 0) {
                if (d->n == 0 || d->n > ELFDEPS_MAX_OBJECTS)
                        abort();
                for (size_t i = 0; i < d->n; i++)
                        if (d->paths[i][0] != '/')
                                abort();
                elfdeps_free(d);
        } else if (d || strnlen(err, sizeof(err)) == 0) {
                abort();
        }
        return 0;
}
