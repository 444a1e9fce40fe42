/* Issue 14, item 1: nothing of the plugin's binary, nor of anything it
 * names, runs outside the jail.  The libraries are found by reading the
 * files (src/elfdeps.c), never by asking the plugin's own ELF interpreter
 * to list them: that interpreter is the plugin's choice, and it ran as
 * vmlaunch (root here) before the jail existed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

static bool said(const struct vmrun *r, const char *needle) {
        return strstr(r->err, needle) || strstr(r->out, needle);
}

/* PT_INTERP names a shell script that leaves a marker when run: the
 * start is refused, naming the script, and the marker never appears. */
START_TEST(test_script_interpreter_never_runs) {
        struct vmrun_opts o = { .config = hostile_config(hostile_plugin("elf_script_interp"), "", ""),
                                .timeout_s = 30 };
        struct vmrun r;

        ck_assert(unlink(ELF_INTERP_MARKER) == 0 || errno == ENOENT);
        vmrun(&o, &r);
        if (r.status != 1 || !said(&r, ELF_INTERP_SCRIPT) || access(ELF_INTERP_MARKER, F_OK) == 0)
                hostile_dump(&r);
        ck_assert_msg(access(ELF_INTERP_MARKER, F_OK) != 0,
                      "the plugin's ELF interpreter %s ran outside the jail (it made %s)", ELF_INTERP_SCRIPT,
                      ELF_INTERP_MARKER);
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(said(&r, ELF_INTERP_SCRIPT), "the error does not name the interpreter");
        ck_assert(said(&r, "not an ELF file"));
        vmrun_free(&r);
}
END_TEST

/* A library that is nowhere to be found: the error names it and who
 * needs it, instead of "Exec format error" from inside the jail. */
START_TEST(test_missing_library_named) {
        struct vmrun_opts o = { .config = hostile_config(hostile_plugin("elf_needs_orphan"), "", ""),
                                .timeout_s = 30 };
        struct vmrun r;

        vmrun(&o, &r);
        if (r.status != 1 || !said(&r, "needs libelf_orphan.so (needed by "))
                hostile_dump(&r);
        ck_assert_int_eq(r.status, 1);
        ck_assert(said(&r, "needs libelf_orphan.so (needed by "));
        ck_assert(said(&r, "not found in"));
        vmrun_free(&r);
}
END_TEST

/* The example plugin, jailed: its interpreter, its SDK (through its
 * RUNPATH into the build tree) and libc are found and bound. */
START_TEST(test_hello_still_runs) {
        struct vmrun_opts o = { .config = hostile_config(HELLO_PLUGIN, "", "") };
        struct vmrun r;

        vmrun(&o, &r);
        if (r.status != 0)
                hostile_dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(vmrun_output_has(&r, "Hello from the guest!"));
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_elf");
        TCase *tc = tcase_create("elf");

        test_require(test_is_root(), "root");
        test_require(test_have_kvm(), "/dev/kvm");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_script_interpreter_never_runs);
        tcase_add_test(tc, test_missing_library_named);
        tcase_add_test(tc, test_hello_still_runs);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
