#include "status.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sink.h"
#include "stats.h"
#include "util.h"

struct status {
        struct monitor mon;
        struct sink *out;
        status_write_fn write;          /* instead of `out`, when set */
        void *write_data;
        bool broken;
        unsigned long dropped;          /* events the full queue refused, not yet reported */
        unsigned long dropped_total;
};

size_t status_utf8_sanitize(const char *in, size_t len, char *out) {
        const unsigned char *s = (const unsigned char *)in;
        size_t o = 0;

        for (size_t i = 0; i < len;) {
                size_t n = log_utf8_seq(s + i, len - i);

                if (n == 0) {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, n);
                o += n;
                i += n;
        }
        out[o] = '\0';
        return o;
}

static double now_epoch(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_object *event_new(const char *name) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "event", json_object_new_string(name));
        json_object_object_add(o, "time", json_object_new_double(now_epoch()));
        return o;
}

/* Returns 0, or -ENOBUFS when the queue refused the line. */
static int write_text(struct status *s, json_object *o, bool force) {
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        size_t len = strlen(text);
        _cleanup_free_ char *line = malloc(len + 1);
        int r;

        if (s->broken)
                return 0;
        if (!line)
                return -ENOBUFS;
        memcpy(line, text, len);
        line[len] = '\n';
        r = s->write ? s->write(s->write_data, line, len + 1, force) : sink_write(s->out, line, len + 1, force);
        if (r < 0 && r != -ENOBUFS) {
                s->broken = true;
                /* Nobody sees the plugin's lines here any more: the log
                 * gets them again. */
                s->mon.shows_plugin_output = false;
                log_warning("status output failed (%s)", strerror(-r));
                return 0;
        }
        return r;
}

/* Writes and frees the object.  Never blocks: when the reader lags and
 * the queue is full, the event is dropped and counted, and the count goes
 * out as a status_dropped event before the next one that fits. */
static void emit(struct status *s, json_object *o) {
        int r = 0;

        if (s->dropped) {
                json_object *d = event_new("status_dropped");

                json_object_object_add(d, "events", json_object_new_uint64(s->dropped));
                r = write_text(s, d, false);
                json_object_put(d);
                if (r == 0)
                        s->dropped = 0;
        }
        /* If the note did not fit, the event goes too: the count stays
         * ahead of whatever is written next. */
        if (r == 0)
                r = write_text(s, o, false);
        if (r < 0) {
                s->dropped++;
                s->dropped_total++;
        }
        json_object_put(o);
}

static json_object *string_or_null(const char *v) {
        return v ? json_object_new_string(v) : NULL;
}

static void on_started(struct monitor *m, const struct monitor_info *info) {
        struct status *s = m->userdata;
        json_object *o = event_new("started");

        json_object_object_add(o, "name", json_object_new_string(info->name));
        json_object_object_add(o, "pid", json_object_new_int(info->plugin_pid));
        json_object_object_add(o, "vcpus", json_object_new_int((int)info->vcpus));
        json_object_object_add(o, "tap", string_or_null(info->tap));
        emit(s, o);
}

static void on_running(struct monitor *m) {
        emit(m->userdata, event_new("running"));
}

static void on_output(struct monitor *m, enum monitor_stream stream, const char *line, size_t len) {
        struct status *s = m->userdata;
        _cleanup_free_ char *clean = malloc(3 * len + 1);
        json_object *o;

        if (!clean)
                return;
        len = status_utf8_sanitize(line, len, clean);
        o = event_new("plugin_output");
        json_object_object_add(o, "stream", json_object_new_string(stream == MONITOR_STDOUT ? "stdout" : "stderr"));
        json_object_object_add(o, "line", json_object_new_string_len(clean, (int)len));
        emit(s, o);
}

static void on_output_dropped(struct monitor *m, enum monitor_stream stream, uint64_t lines, uint64_t bytes) {
        struct status *s = m->userdata;
        json_object *o = event_new("plugin_output_dropped");

        json_object_object_add(o, "stream", json_object_new_string(stream == MONITOR_STDOUT ? "stdout" : "stderr"));
        json_object_object_add(o, "lines", json_object_new_uint64(lines));
        json_object_object_add(o, "bytes", json_object_new_uint64(bytes));
        emit(s, o);
}

static void on_stopping(struct monitor *m, const char *reason, uint64_t deadline_usec) {
        struct status *s = m->userdata;
        json_object *o = event_new("stopping");
        uint64_t now = monitor_now_usec();

        json_object_object_add(o, "reason", json_object_new_string(reason));
        json_object_object_add(o, "cause", json_object_new_string(m->stop_cause ? m->stop_cause : "error"));
        json_object_object_add(o, "deadline_ms",
                               json_object_new_int64((int64_t)((deadline_usec - now) / 1000u)));
        emit(s, o);
}

static void on_tick(struct monitor *m, const struct vm_stats *st) {
        json_object *o = event_new("stats");

        /* The same object as `vmlaunch ctl NAME stats --json` (stats.h). */
        if (stats_json_into(st, o) < 0) {
                json_object_put(o);
                return;
        }
        emit(m->userdata, o);
}

static void on_exited(struct monitor *m, int exit_code, const char *reason, const char *plugin_status) {
        struct status *s = m->userdata;
        json_object *o = event_new("exited");

        json_object_object_add(o, "exit_code", json_object_new_int(exit_code));
        json_object_object_add(o, "reason", json_object_new_string(reason));
        json_object_object_add(o, "plugin", json_object_new_string(plugin_status));
        json_object_object_add(o, "cause", json_object_new_string(m->stop_cause ? m->stop_cause : "error"));
        if (s->dropped_total)
                json_object_object_add(o, "status_dropped", json_object_new_uint64(s->dropped_total));
        /* The last line: queued past the bound, for the final drain. */
        if (write_text(s, o, true) < 0)
                s->dropped_total++;
        json_object_put(o);
}

int status_new_writer(status_write_fn write, void *data, unsigned stats_interval_ms, struct status **ret) {
        int r = status_new(NULL, stats_interval_ms, false, ret);

        if (r < 0)
                return r;
        (*ret)->write = write;
        (*ret)->write_data = data;
        return 0;
}

int status_new(struct sink *out, unsigned stats_interval_ms, bool echo_plugin_output, struct status **ret) {
        struct status *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->out = out;
        s->mon = (struct monitor){
                .userdata = s,
                .tick_ms = stats_interval_ms,
                .input_fd = -1,
                .shows_plugin_output = !echo_plugin_output,
                .writes_stdout = out != NULL,
                .started = on_started,
                .running = on_running,
                .plugin_output = on_output,
                .plugin_output_dropped = on_output_dropped,
                .stopping = on_stopping,
                .tick = stats_interval_ms ? on_tick : NULL,
                .final_stats = on_tick,
                .exited = on_exited,
        };
        *ret = s;
        return 0;
}

void status_free(struct status *s) {
        if (!s)
                return;
        free(s);
}

struct monitor *status_monitor(struct status *s) {
        return &s->mon;
}
