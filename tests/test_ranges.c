/* Reserved ranges: crosvm's ReserveRange semantics, minus its 1-byte
 * overlap quirk. */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "ranges.h"
#include "test_util.h"

START_TEST(test_add_find_remove) {
        struct range_set s = { 0 };

        ck_assert_int_eq(range_set_add(&s, 0x3f8, 8, false), 0);
        ck_assert_int_eq(range_set_add(&s, 0x10, 1, true), 0);
        ck_assert_ptr_null(range_set_find(&s, 0x3f7));
        ck_assert_ptr_nonnull(range_set_find(&s, 0x3f8));
        ck_assert_ptr_nonnull(range_set_find(&s, 0x3ff));
        ck_assert_ptr_null(range_set_find(&s, 0x400));
        ck_assert(range_set_find(&s, 0x10)->async_write);
        ck_assert_ptr_null(range_set_find(&s, 0x11));
        ck_assert_ptr_null(range_set_find(&s, 0));
        /* Removal names the start exactly. */
        ck_assert_int_eq(range_set_remove(&s, 0x3f9), -ENOENT);
        ck_assert_int_eq(range_set_remove(&s, 0x3f8), 0);
        ck_assert_ptr_null(range_set_find(&s, 0x3f8));
        ck_assert_int_eq(range_set_remove(&s, 0x3f8), -ENOENT);
        range_set_clear(&s);
}
END_TEST

START_TEST(test_overlaps_refused) {
        struct range_set s = { 0 };

        ck_assert_int_eq(range_set_add(&s, 100, 10, false), 0);         /* [100,110) */
        ck_assert_int_eq(range_set_add(&s, 105, 1, false), -EPERM);     /* inside */
        ck_assert_int_eq(range_set_add(&s, 90, 20, false), -EPERM);     /* covers the start */
        /* crosvm accepted this one: its last byte is the existing start. */
        ck_assert_int_eq(range_set_add(&s, 91, 10, false), -EPERM);
        ck_assert_int_eq(range_set_add(&s, 109, 5, false), -EPERM);     /* covers the end */
        ck_assert_int_eq(range_set_add(&s, 90, 10, false), 0);          /* adjacent below */
        ck_assert_int_eq(range_set_add(&s, 110, 10, false), 0);         /* adjacent above */
        ck_assert_uint_eq(s.n, 3);
        range_set_clear(&s);
}
END_TEST

START_TEST(test_bad_lengths) {
        struct range_set s = { 0 };

        ck_assert_int_eq(range_set_add(&s, 1, 0, false), -EINVAL);
        ck_assert_int_eq(range_set_add(&s, UINT64_MAX, 2, false), -EINVAL);
        ck_assert_int_eq(range_set_add(&s, UINT64_MAX, 1, false), 0);
        ck_assert_ptr_nonnull(range_set_find(&s, UINT64_MAX));
        range_set_clear(&s);
}
END_TEST

START_TEST(test_many_sorted) {
        struct range_set s = { 0 };

        for (uint64_t i = 0; i < 1000; i++)
                ck_assert_int_eq(range_set_add(&s, (999 - i) * 16, 8, false), 0);
        for (uint64_t i = 0; i < 1000; i++) {
                ck_assert_ptr_nonnull(range_set_find(&s, i * 16 + 7));
                ck_assert_ptr_null(range_set_find(&s, i * 16 + 8));
        }
        for (size_t i = 1; i < s.n; i++)
                ck_assert_uint_lt(s.v[i - 1].start, s.v[i].start);
        range_set_clear(&s);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ranges");
        TCase *tc = tcase_create("ranges");

        tcase_add_test(tc, test_add_find_remove);
        tcase_add_test(tc, test_overlaps_refused);
        tcase_add_test(tc, test_bad_lengths);
        tcase_add_test(tc, test_many_sorted);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
