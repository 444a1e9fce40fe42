/* elfdeps: what an executable needs, found by reading the files (never
 * by running the executable's ELF interpreter).  Resolves the real hello
 * plugin and the fixtures of tests/hostile/elf.cmake; garbage is refused,
 * not crashed on.  Needs nothing special. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfdeps.h"
#include "test_util.h"

#define FIXTURE(name) ELF_FIXTURE_DIR "/" name

static bool has_path(const struct elfdeps *d, const char *path) {
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->paths[i], path) == 0)
                        return true;
        return false;
}

static bool has_suffix(const struct elfdeps *d, const char *suffix) {
        for (size_t i = 0; i < d->n; i++) {
                size_t a = strlen(d->paths[i]), b = strlen(suffix);

                if (a >= b && strcmp(d->paths[i] + a - b, suffix) == 0)
                        return true;
        }
        return false;
}

static struct elfdeps *resolve_ok(const char *exe, const struct elfdeps_search *search) {
        struct elfdeps *d = NULL;
        char err[1024] = "";
        int r = elfdeps_resolve(exe, search, &d, err, sizeof(err));

        ck_assert_msg(r == 0, "%s: %s (%d)", exe, err, r);
        return d;
}

/* hello: the interpreter second, libcrosvm_plugin through the RUNPATH
 * into the build tree, libc from the system, each once. */
START_TEST(test_hello) {
        struct elfdeps *d = resolve_ok(HELLO_PLUGIN, NULL);

        ck_assert_uint_ge(d->n, 4);
        ck_assert_str_eq(d->paths[0], HELLO_PLUGIN);
        ck_assert_str_eq(d->paths[1], "/lib64/ld-linux-x86-64.so.2");
        ck_assert(has_path(d, BUILD_DIR "/sdk/libcrosvm_plugin.so.0"));
        ck_assert(has_suffix(d, "/libc.so.6"));
        ck_assert(has_suffix(d, "/libprotobuf-c.so.1"));
        for (size_t i = 0; i < d->n; i++)
                for (size_t k = i + 1; k < d->n; k++)
                        ck_assert_str_ne(d->paths[i], d->paths[k]);
        /* libc names ld-linux-x86-64.so.2: the interpreter's soname. */
        ck_assert(!has_suffix(d, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
        ck_assert(!d->needs_ld_cache);
        elfdeps_free(d);
}
END_TEST

START_TEST(test_static) {
        struct elfdeps *d = resolve_ok(FIXTURE("elf_static"), NULL);

        ck_assert_uint_eq(d->n, 1);
        ck_assert_str_eq(d->paths[0], FIXTURE("elf_static"));
        elfdeps_free(d);
}
END_TEST

START_TEST(test_missing_library) {
        struct elfdeps *d = NULL;
        char err[1024] = "";

        ck_assert_int_eq(elfdeps_resolve(FIXTURE("elf_needs_orphan"), NULL, &d, err, sizeof(err)), -ENOENT);
        ck_assert_ptr_null(d);
        ck_assert_msg(strstr(err, "needs libelf_orphan.so (needed by " FIXTURE("elf_needs_orphan") "): not found in "),
                      "message: %s", err);
        ck_assert_msg(strstr(err, "/lib/x86_64-linux-gnu"), "message: %s", err);
}
END_TEST

/* DT_RUNPATH "$ORIGIN/elf-orphan" */
START_TEST(test_origin) {
        struct elfdeps *d = resolve_ok(FIXTURE("elf_origin"), NULL);

        ck_assert(has_path(d, FIXTURE("elf-orphan/libelf_orphan.so")));
        ck_assert(!d->needs_ld_cache);
        elfdeps_free(d);
}
END_TEST

/* The library found through an ld.so.conf include: the jail then needs
 * the loader's cache. */
START_TEST(test_ld_so_conf) {
        static const char *const defaults[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", NULL };
        char dir[] = "/tmp/vmlaunch-elfdeps-XXXXXX", path[256];
        struct elfdeps_search search = { .ld_so_conf = path, .default_dirs = defaults };
        struct elfdeps *d;
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/conf.d", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/conf.d/orphan.conf", dir);
        ck_assert_ptr_nonnull(f = fopen(path, "w"));
        fprintf(f, "# a comment\n  " FIXTURE("elf-orphan") "/  # trailing\nhwcap 1 x\n");
        fclose(f);
        snprintf(path, sizeof(path), "%s/ld.so.conf", dir);
        ck_assert_ptr_nonnull(f = fopen(path, "w"));
        fprintf(f, "include conf.d/*.conf\n");
        fclose(f);
        d = resolve_ok(FIXTURE("elf_needs_orphan"), &search);
        ck_assert(has_path(d, FIXTURE("elf-orphan/libelf_orphan.so")));
        ck_assert(d->needs_ld_cache);
        elfdeps_free(d);
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(path), 0);
}
END_TEST

/* PT_INTERP is a shell script: refused by name, as "not an ELF file". */
START_TEST(test_script_interpreter) {
        struct elfdeps *d = NULL;
        char err[1024] = "";

        ck_assert_int_eq(elfdeps_resolve(FIXTURE("elf_script_interp"), NULL, &d, err, sizeof(err)), -ENOEXEC);
        ck_assert_msg(strstr(err, "has the ELF interpreter " FIXTURE("elf_interp.sh") ", which is not an ELF file "
                                  "but a script"),
                      "message: %s", err);
}
END_TEST

START_TEST(test_expand) {
        static const struct {
                const char *in, *out;
                int r;
        } cases[] = {
                { "$ORIGIN/../lib", "/a/lib", 0 },
                { "${ORIGIN}/x", "/a/b/x", 0 },
                { "$ORIGIN", "/a/b", 0 },
                { "//x/./y/../z/", "/x/z", 0 },
                { "/..", "/", 0 },
                { "/p/$ORIGINAL", "/p/$ORIGINAL", 0 },
                { "$ORIGINAL/x", NULL, -EINVAL },
                { "lib", NULL, -EINVAL },
                { "", NULL, -EINVAL },
                { "/p/$LIB", NULL, -ENOTSUP },
                { "/p/${PLATFORM}/x", NULL, -ENOTSUP },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = NULL;
                int r = elfdeps_expand(cases[i].in, "/a/b", &out);

                ck_assert_msg(r == cases[i].r, "%s: %d", cases[i].in, r);
                if (cases[i].out)
                        ck_assert_str_eq(out, cases[i].out);
                free(out);
        }
}
END_TEST

static void write_file(const char *path, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
        close(fd);
}

/* Not ELF, cut short, lying headers, not a regular file: each refused
 * with an error, none crashes or hangs. */
START_TEST(test_garbage) {
        char dir[] = "/tmp/vmlaunch-elfdeps-XXXXXX", path[256], cmd[300];
        static char hello[65536];
        unsigned char *eh = (unsigned char *)hello;
        ssize_t len;
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        fd = open(HELLO_PLUGIN, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        len = read(fd, hello, sizeof(hello));
        close(fd);
        ck_assert_int_gt(len, 4096);
        snprintf(path, sizeof(path), "%s/p", dir);

        const struct {
                size_t len;
                void (*mangle)(unsigned char *);
        } cases[] = {
                { 0, NULL },            /* empty */
                { 16, NULL },           /* the ident only */
                { 64, NULL },           /* the ELF header only: program headers beyond the end */
                { 1024, NULL },         /* PT_INTERP and PT_DYNAMIC beyond the end */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct elfdeps *d = NULL;
                char err[1024] = "";

                write_file(path, hello, cases[i].len);
                ck_assert_int_lt(elfdeps_resolve(path, NULL, &d, err, sizeof(err)), 0);
                ck_assert_ptr_null(d);
                ck_assert_msg(err[0], "no message for case %zu", i);
        }
        /* Text, and 65534 program headers claimed (65535 would mean "see
         * section 0"). */
        {
                static const char script[] = "#!/bin/sh\n# long enough to hold an ELF header, had it been one\n";

                write_file(path, script, sizeof(script) - 1);
        }
        {
                struct elfdeps *d = NULL;
                char err[1024] = "";

                ck_assert_int_eq(elfdeps_resolve(path, NULL, &d, err, sizeof(err)), -ENOEXEC);
                ck_assert_msg(strstr(err, "is not an ELF file but a script: "), "message: %s", err);
        }
        eh[56] = 0xfe, eh[57] = 0xff;   /* e_phnum */
        write_file(path, hello, (size_t)len);
        {
                struct elfdeps *d = NULL;
                char err[1024] = "";

                ck_assert_int_lt(elfdeps_resolve(path, NULL, &d, err, sizeof(err)), 0);
                ck_assert_msg(err[0], "no message");
        }
        /* A FIFO and a device: refused without being opened (a FIFO's
         * open would block). */
        snprintf(path, sizeof(path), "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        {
                const char *specials[] = { path, "/dev/null", "/", "relative/path" };

                for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
                        struct elfdeps *d = NULL;
                        char err[1024] = "";

                        ck_assert_int_lt(elfdeps_resolve(specials[i], NULL, &d, err, sizeof(err)), 0);
                        ck_assert_msg(err[0], "no message for %s", specials[i]);
                }
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("elfdeps");
        TCase *tc = tcase_create("elfdeps");

        tcase_add_test(tc, test_hello);
        tcase_add_test(tc, test_static);
        tcase_add_test(tc, test_missing_library);
        tcase_add_test(tc, test_origin);
        tcase_add_test(tc, test_ld_so_conf);
        tcase_add_test(tc, test_script_interpreter);
        tcase_add_test(tc, test_expand);
        tcase_add_test(tc, test_garbage);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
