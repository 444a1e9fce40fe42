/* The stats snapshot (stats.h): counters summed per vCPU and in total,
 * rates over a window of at least STATS_RATE_WINDOW_USEC, and the JSON
 * object the headless stats event and `ctl stats --json` share.  A VM
 * stand-in carries the vCPUs' counter slots: no KVM needed. */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "test_util.h"
#include "vcpu.h"
#include "vm.h"

static struct vcpu cpus[2];
static struct vcpu *cpu_ptrs[2] = { &cpus[0], &cpus[1] };
static struct vm fake = { .n_vcpus = 2, .vcpus = cpu_ptrs };

static void bump(unsigned id, enum vcpu_stat k, uint64_t n) {
        atomic_fetch_add(&cpus[id].stats.count[k], n);
}

static uint64_t member_u64(json_object *o, const char *key) {
        json_object *v = NULL;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
        return json_object_get_uint64(v);
}

START_TEST(test_counts_and_rates) {
        struct vm_stats *s = NULL;

        memset(cpus, 0, sizeof(cpus));
        ck_assert_int_eq(stats_new(2, &s), 0);
        stats_take(s, &fake, STATS_RUNNING, 0, 1000000);
        ck_assert_uint_eq(s->total.exits, 0);

        bump(0, VCPU_STAT_IO_OUT, 300);
        bump(1, VCPU_STAT_MMIO_READ, 100);
        bump(1, VCPU_STAT_USER, 2);
        /* Too soon for a new rate: the counters move, the rates wait. */
        stats_take(s, &fake, STATS_RUNNING, 100000, 1100000);
        ck_assert_uint_eq(s->vcpus[0].exits, 300);
        ck_assert(s->vcpus[0].rate == 0);
        /* Half a second after the window began: 300 exits -> 600/s. */
        stats_take(s, &fake, STATS_PAUSED, 500000, 1500000);
        ck_assert_uint_eq(s->vcpus[0].count[VCPU_STAT_IO_OUT], 300);
        ck_assert_uint_eq(s->vcpus[1].exits, 102);
        ck_assert_uint_eq(s->total.exits, 402);
        ck_assert_uint_eq(s->total.count[VCPU_STAT_USER], 2);
        ck_assert_double_eq_tol(s->vcpus[0].rate, 600.0, 1e-6);
        ck_assert_double_eq_tol(s->vcpus[1].rate, 204.0, 1e-6);
        ck_assert_double_eq_tol(s->total.rate, 804.0, 1e-6);
        ck_assert_int_eq(s->state, STATS_PAUSED);
        /* Nothing new over the next window: the rates fall to 0. */
        stats_take(s, &fake, STATS_PAUSED, 800000, 1800000);
        ck_assert(s->total.rate == 0);
        ck_assert_uint_eq(s->total.exits, 402);
        stats_free(s);
}
END_TEST

START_TEST(test_json) {
        struct vm_stats *s = NULL;
        json_object *o, *vcpus, *tot, *v = NULL;

        memset(cpus, 0, sizeof(cpus));
        ck_assert_int_eq(stats_new(2, &s), 0);
        bump(0, VCPU_STAT_IO_IN, 5);
        bump(1, VCPU_STAT_USER, 7);
        stats_take(s, &fake, STATS_RUNNING, 2500000, 3000000);
        o = stats_json(s);
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "state", &v));
        ck_assert_str_eq(json_object_get_string(v), "running");
        ck_assert(json_object_object_get_ex(o, "uptime_s", &v));
        ck_assert_double_eq_tol(json_object_get_double(v), 2.5, 1e-9);
        ck_assert(json_object_object_get_ex(o, "vcpus", &vcpus));
        ck_assert_uint_eq(json_object_array_length(vcpus), 2);
        ck_assert_uint_eq(member_u64(json_object_array_get_idx(vcpus, 0), "io_in"), 5);
        ck_assert_uint_eq(member_u64(json_object_array_get_idx(vcpus, 1), "id"), 1);
        /* One name for one thing: "user", as the TUI's column. */
        ck_assert_uint_eq(member_u64(json_object_array_get_idx(vcpus, 1), "user"), 7);
        ck_assert(!json_object_object_get_ex(json_object_array_get_idx(vcpus, 1), "paused", NULL));
        ck_assert(json_object_object_get_ex(o, "total", &tot));
        ck_assert_uint_eq(member_u64(tot, "exits"), 12);
        ck_assert_uint_eq(member_u64(tot, "user"), 7);
        json_object_put(o);
        stats_free(s);
}
END_TEST

int main(void) {
        Suite *s = suite_create("stats");
        TCase *tc = tcase_create("stats");

        tcase_add_test(tc, test_counts_and_rates);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
