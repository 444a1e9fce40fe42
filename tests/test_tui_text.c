/* The terminal monitor's pure parts: what of a plugin's bytes reaches the
 * screen, how wide it is, and the vCPU table's columns at 80, 120 and 40
 * columns.  The screen itself is test_tui_habits.sh's. */
#include <check.h>
#include <locale.h>
#include <string.h>

#include "test_util.h"
#include "tui_table.h"
#include "tui_text.h"

static void utf8_locale(void) {
        test_require(setlocale(LC_CTYPE, "C.UTF-8") != NULL, "the C.UTF-8 locale");
}

START_TEST(test_sanitize_utf8) {
        char out[64];

        utf8_locale();
        ck_assert(!tui_text_sanitize("gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xe6\x97\xa5", 15, true, out, sizeof(out)));
        ck_assert_str_eq(out, "gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xe6\x97\xa5");
        /* ESC, a C1 CSI (U+009B), a stray continuation, an overlong '/',
         * a surrogate, an RLO override, DEL: one '?' a byte. */
        tui_text_sanitize("a\x1b[1mb\xc2\x9b" "c\x80" "d\xc0\xaf" "e\xed\xa0\x80" "f\xe2\x80\xae" "g\x7f\th", 25, true,
                          out, sizeof(out));
        ck_assert_str_eq(out, "a?[1mb??c?d??e???f???g? h");
        /* Cut sequence at the end of the input. */
        tui_text_sanitize("x\xe6\x97", 3, true, out, sizeof(out));
        ck_assert_str_eq(out, "x??");
}
END_TEST

START_TEST(test_sanitize_ascii) {
        char out[64];

        tui_text_sanitize("gr\xc3\xbc" "e\x1b\t.", 8, false, out, sizeof(out));
        ck_assert_str_eq(out, "gr??e? .");
}
END_TEST

START_TEST(test_sanitize_cut) {
        char out[6];

        utf8_locale();
        /* A character that does not fit whole is left out, and said so. */
        ck_assert(tui_text_sanitize("abcd\xe2\x9c\x93", 7, true, out, sizeof(out)));
        ck_assert_str_eq(out, "abcd");
        ck_assert(tui_text_sanitize("abcdefgh", 8, true, out, sizeof(out)));
        ck_assert_str_eq(out, "abcde");
        ck_assert(!tui_text_sanitize("abcde", 5, true, out, sizeof(out)));
}
END_TEST

START_TEST(test_fit) {
        /* Two wide characters and an accented one: 2 + 2 + 1 columns. */
        const char *s = "\xe6\x97\xa5\xe6\x9c\xac\xc3\xa9";
        int w;

        utf8_locale();
        ck_assert_int_eq(tui_text_width(s, true), 5);
        ck_assert_uint_eq(tui_text_fit(s, true, 3, &w), 3);
        ck_assert_int_eq(w, 2);
        ck_assert_uint_eq(tui_text_fit(s, true, 4, &w), 6);
        ck_assert_int_eq(w, 4);
        ck_assert_uint_eq(tui_text_fit("abc", false, 2, &w), 2);
}
END_TEST

START_TEST(test_compact) {
        static const struct {
                uint64_t v;
                const char *s;
        } cases[] = {
                { 0, "0" },           { 99999, "99999" },     { 100000, "100k" },       { 999999, "999k" },
                { 1000000, "1.00M" }, { 4567890, "4.56M" },   { 45678901, "45.6M" },    { 999999999, "999M" },
                { UINT64_MAX, "18.4E" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char out[8];

                tui_text_compact(cases[i].v, out);
                ck_assert_str_eq(out, cases[i].s);
                ck_assert_uint_le(strlen(out), TUI_COMPACT_MAX);
        }
}
END_TEST

static void layout(int cols, uint64_t big, char *header, char *total) {
        uint64_t max[_TUI_COL_MAX];
        struct tui_table tb;

        for (int c = 0; c < _TUI_COL_MAX; c++)
                max[c] = big;
        max[TUI_COL_VCPU] = 63;
        tui_table_layout(&tb, cols, max);
        tui_table_header(&tb, header, 256);
        tui_table_row(&tb, "total", max, total, 256);
}

START_TEST(test_table_fits) {
        char header[256], total[256];

        /* Roomy: every column, exact numbers, the old widths. */
        layout(120, 1234567, header, total);
        ck_assert_str_eq(header, " vCPU      IO in     IO out    MMIO rd    MMIO wr  Hyper-V     user    other        "
                                 "total    exits/s");
        ck_assert_ptr_nonnull(strstr(total, "     1234567 "));
        /* 80 columns, 12-digit counters: all columns, none cut. */
        layout(80, 123456789012, header, total);
        ck_assert_int_le((int)strlen(header), 80);
        ck_assert_int_eq((int)strlen(total), (int)strlen(header));
        ck_assert_ptr_nonnull(strstr(header, "IO in"));
        ck_assert_ptr_nonnull(strstr(header, "Hyper-V"));
        ck_assert_str_eq(strrchr(header, ' ') + 1, "exits/s");
        ck_assert_ptr_nonnull(strstr(total, " 123456789012"));  /* total: exact, it goes first */
        /* 40 columns: the least telling columns go, total and rate stay. */
        layout(40, 123456789012, header, total);
        ck_assert_int_le((int)strlen(header), 40);
        ck_assert_int_eq((int)strlen(total), (int)strlen(header));
        ck_assert_ptr_null(strstr(header, "Hyper-V"));
        ck_assert_ptr_nonnull(strstr(header, "total"));
        ck_assert_str_eq(strrchr(header, ' ') + 1, "exits/s");
}
END_TEST

int main(void) {
        Suite *s = suite_create("tui_text");
        TCase *tc = tcase_create("tui_text");

        tcase_add_test(tc, test_sanitize_utf8);
        tcase_add_test(tc, test_sanitize_ascii);
        tcase_add_test(tc, test_sanitize_cut);
        tcase_add_test(tc, test_fit);
        tcase_add_test(tc, test_compact);
        tcase_add_test(tc, test_table_fits);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
