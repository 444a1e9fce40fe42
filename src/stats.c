#include "stats.h"

#include <errno.h>
#include <stdlib.h>

#include "vm.h"

static const char *const counter_names[_VCPU_STAT_MAX] = {
        [VCPU_STAT_IO_IN] = "io_in",           [VCPU_STAT_IO_OUT] = "io_out",
        [VCPU_STAT_MMIO_READ] = "mmio_read",   [VCPU_STAT_MMIO_WRITE] = "mmio_write",
        [VCPU_STAT_HYPERV] = "hyperv",         [VCPU_STAT_USER] = "user",
        [VCPU_STAT_OTHER] = "other",
};

int stats_new(unsigned n_vcpus, struct vm_stats **ret) {
        struct vm_stats *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->n_vcpus = n_vcpus;
        s->vcpus = calloc(n_vcpus ? n_vcpus : 1, sizeof(*s->vcpus));
        s->window_exits = calloc(n_vcpus ? n_vcpus : 1, sizeof(*s->window_exits));
        if (!s->vcpus || !s->window_exits) {
                stats_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

void stats_free(struct vm_stats *s) {
        if (!s)
                return;
        free(s->vcpus);
        free(s->window_exits);
        free(s);
}

void stats_take(struct vm_stats *s, const struct vm *vm, enum stats_state state, uint64_t uptime_usec,
                uint64_t now_usec) {
        unsigned n = vm && vm->n_vcpus < s->n_vcpus ? vm->n_vcpus : s->n_vcpus;
        bool measure = s->window_usec && now_usec - s->window_usec >= STATS_RATE_WINDOW_USEC;
        double secs = measure ? (double)(now_usec - s->window_usec) / 1e6 : 0;

        s->state = state;
        s->uptime_usec = uptime_usec;
        s->total = (struct stats_vcpu){ .rate = 0 };
        for (unsigned i = 0; vm && i < n; i++) {
                struct stats_vcpu *v = &s->vcpus[i];

                v->exits = 0;
                for (int k = 0; k < _VCPU_STAT_MAX; k++) {
                        v->count[k] = vcpu_stat_get(vm->vcpus[i], (enum vcpu_stat)k);
                        v->exits += v->count[k];
                }
                if (measure)
                        v->rate = (double)(v->exits - s->window_exits[i]) / secs;
        }
        for (unsigned i = 0; i < s->n_vcpus; i++) {
                const struct stats_vcpu *v = &s->vcpus[i];

                for (int k = 0; k < _VCPU_STAT_MAX; k++)
                        s->total.count[k] += v->count[k];
                s->total.exits += v->exits;
                s->total.rate += v->rate;
        }
        /* A new window begins where the last one was measured (or at the
         * first snapshot). */
        if (measure || !s->window_usec) {
                s->window_usec = now_usec;
                for (unsigned i = 0; i < s->n_vcpus; i++)
                        s->window_exits[i] = s->vcpus[i].exits;
        }
}

const char *stats_state_name(enum stats_state state) {
        switch (state) {
        case STATS_STARTING:
                return "starting";
        case STATS_RUNNING:
                return "running";
        case STATS_PAUSED:
                return "paused";
        case STATS_STOPPING:
                return "stopping";
        case STATS_EXITED:
                return "exited";
        }
        return "unknown";
}

const char *stats_counter_name(enum vcpu_stat k) {
        return k < _VCPU_STAT_MAX ? counter_names[k] : "unknown";
}

/* The counters, exits and rate of one row, into `o`. */
static int row_into(const struct stats_vcpu *v, json_object *o) {
        for (int k = 0; k < _VCPU_STAT_MAX; k++)
                if (json_object_object_add(o, counter_names[k], json_object_new_uint64(v->count[k])) < 0)
                        return -ENOMEM;
        if (json_object_object_add(o, "exits", json_object_new_uint64(v->exits)) < 0 ||
            json_object_object_add(o, "rate", json_object_new_double(v->rate)) < 0)
                return -ENOMEM;
        return 0;
}

int stats_json_into(const struct vm_stats *s, json_object *o) {
        json_object *arr = json_object_new_array(), *tot = json_object_new_object();

        if (!arr || !tot || json_object_object_add(o, "vcpus", arr) < 0) {
                json_object_put(arr);
                json_object_put(tot);
                return -ENOMEM;
        }
        if (json_object_object_add(o, "total", tot) < 0) {
                json_object_put(tot);
                return -ENOMEM;
        }
        if (json_object_object_add(o, "state", json_object_new_string(stats_state_name(s->state))) < 0 ||
            json_object_object_add(o, "uptime_s", json_object_new_double((double)s->uptime_usec / 1e6)) < 0)
                return -ENOMEM;
        for (unsigned i = 0; i < s->n_vcpus; i++) {
                json_object *v = json_object_new_object();

                if (!v || json_object_array_add(arr, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
                if (json_object_object_add(v, "id", json_object_new_int((int)i)) < 0 ||
                    row_into(&s->vcpus[i], v) < 0)
                        return -ENOMEM;
        }
        return row_into(&s->total, tot);
}

json_object *stats_json(const struct vm_stats *s) {
        json_object *o = json_object_new_object();

        if (o && stats_json_into(s, o) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
