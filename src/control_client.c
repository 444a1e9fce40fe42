#include "control_client.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_proto.h"
#include "launcher.h"
#include "stats.h"
#include "util.h"

/* How long a VM gets to answer one request. */
#define CLIENT_REPLY_TIMEOUT_MS 5000
/* The longest reply line read (a stats reply for thousands of vCPUs is
 * hundreds of KiB). */
#define CLIENT_LINE_MAX (16u * 1024u * 1024u)

struct reader {
        int fd;
        char *buf;
        size_t len, cap;
};

static void reader_free(struct reader *r) {
        safe_close(r->fd);
        free(r->buf);
}

/* The next line (its newline replaced by a NUL) in *ret, valid until the
 * next call; 0, -EPIPE at the end of the stream, -ETIMEDOUT, -E2BIG, or
 * another -errno.  timeout_ms < 0: wait for ever. */
static int read_line(struct reader *r, int timeout_ms, char **ret, size_t *consumed) {
        for (;;) {
                char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
                struct pollfd p = { .fd = r->fd, .events = POLLIN };
                ssize_t n;
                int k;

                if (nl) {
                        *nl = '\0';
                        *ret = r->buf;
                        *consumed = (size_t)(nl - r->buf) + 1;
                        return 0;
                }
                if (r->len == r->cap) {
                        size_t cap = r->cap ? r->cap * 2 : 65536;
                        char *b;

                        if (cap > CLIENT_LINE_MAX)
                                return -E2BIG;
                        b = realloc(r->buf, cap);
                        if (!b)
                                return -ENOMEM;
                        r->buf = b;
                        r->cap = cap;
                }
                k = poll(&p, 1, timeout_ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ETIMEDOUT;
                n = read(r->fd, r->buf + r->len, r->cap - r->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EPIPE;
                r->len += (size_t)n;
        }
}

static void reader_consume(struct reader *r, size_t n) {
        memmove(r->buf, r->buf + n, r->len - n);
        r->len -= n;
}

int control_client_connect(const char *name, char *path, size_t size, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r;

        if (strchr(name, '/')) {
                if (strlen(name) >= size || strlen(name) >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memmove(path, name, strlen(name) + 1);
        } else if ((r = control_socket_path(name, path, size)) < 0)
                return r;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

const char *control_client_connect_error(int r) {
        switch (r) {
        case -ENOENT:
                return "no such VM is running (no control socket)";
        case -ECONNREFUSED:
                return "not running (its control socket is stale)";
        case -EACCES:
        case -EPERM:
                return "permission denied (the VM belongs to another user)";
        default:
                return strerror(-r);
        }
}

/* Sends `cmd` and reads the reply object into *ret; on failure prints why
 * (naming `name`) and returns -errno; a refusal (ok: false) is -EPROTO,
 * printed too. */
static int request(struct reader *rd, const char *name, enum control_command cmd, json_object **ret) {
        char line[128], *text;
        size_t len = control_request_format(cmd, line, sizeof(line)), used;
        json_object *o, *ok, *v;
        int r;

        if (send(rd->fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
                r = negative_errno();
                fprintf(stderr, "vmlaunch: %s: sending the request: %s\n", name, strerror(-r));
                return r;
        }
        r = read_line(rd, CLIENT_REPLY_TIMEOUT_MS, &text, &used);
        if (r < 0) {
                fprintf(stderr, "vmlaunch: %s: %s\n", name,
                        r == -ETIMEDOUT ? "no reply in time" : r == -EPIPE ? "the VM closed the connection" : strerror(-r));
                return r;
        }
        o = json_tokener_parse(text);
        reader_consume(rd, used);
        if (!o || !json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != CONTROL_VERSION ||
            !json_object_object_get_ex(o, "ok", &ok)) {
                fprintf(stderr, "vmlaunch: %s: a reply this vmlaunch does not understand\n", name);
                json_object_put(o);
                return -EPROTO;
        }
        if (!json_object_get_boolean(ok)) {
                json_object *e = NULL;

                json_object_object_get_ex(o, "error", &e);
                fprintf(stderr, "vmlaunch: %s: %s\n", name, e ? json_object_get_string(e) : "refused");
                json_object_put(o);
                return -EPROTO;
        }
        *ret = o;
        return 0;
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        json_object_object_get_ex(o, key, &v);
        return v;
}

static void format_uptime(double s, char *buf, size_t size) {
        unsigned long long t = s > 0 ? (unsigned long long)s : 0;

        snprintf(buf, size, "%02llu:%02llu:%02llu", t / 3600, t / 60 % 60, t % 60);
}

static void print_json(json_object *o) {
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void print_status(json_object *st) {
        char up[32];

        format_uptime(json_object_get_double(member(st, "uptime_s")), up, sizeof(up));
        printf("name        %s\n", json_object_get_string(member(st, "name")));
        printf("state       %s\n", json_object_get_string(member(st, "state")));
        printf("vcpus       %d\n", json_object_get_int(member(st, "vcpus")));
        printf("uptime      %s\n", up);
        printf("pid         %d\n", json_object_get_int(member(st, "pid")));
        printf("plugin pid  %d\n", json_object_get_int(member(st, "plugin_pid")));
        printf("socket      %s\n", json_object_get_string(member(st, "socket")));
}

static void print_row(const char *label, json_object *row) {
        printf("%5s", label);
        for (int k = 0; k < _VCPU_STAT_MAX; k++)
                printf(" %10llu", (unsigned long long)json_object_get_uint64(member(row, stats_counter_name((enum vcpu_stat)k))));
        printf(" %12llu %10.0f\n", (unsigned long long)json_object_get_uint64(member(row, "exits")),
               json_object_get_double(member(row, "rate")));
}

static void print_stats(json_object *st) {
        json_object *vcpus = member(st, "vcpus");
        char up[32];

        format_uptime(json_object_get_double(member(st, "uptime_s")), up, sizeof(up));
        printf("%s, up %s (counters since the start; rates per second)\n", json_object_get_string(member(st, "state")),
               up);
        printf("%5s", "vCPU");
        for (int k = 0; k < _VCPU_STAT_MAX; k++)
                printf(" %10s", stats_counter_name((enum vcpu_stat)k));
        printf(" %12s %10s\n", "exits", "exits/s");
        for (size_t i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
                char id[24];

                snprintf(id, sizeof(id), "%zu", i);
                print_row(id, json_object_array_get_idx(vcpus, i));
        }
        print_row("total", member(st, "total"));
}

/* An event as a person reads it: the time, the event, its fields. */
static void print_event(json_object *ev) {
        json_object *t = member(ev, "time");
        time_t secs = t ? (time_t)json_object_get_double(t) : 0;
        struct tm tm;
        char when[32] = "";

        if (localtime_r(&secs, &tm))
                strftime(when, sizeof(when), "%H:%M:%S", &tm);
        printf("%s %-14s", when, json_object_get_string(member(ev, "event")));
        json_object_object_foreach(ev, key, val) {
                if (strcmp(key, "event") == 0 || strcmp(key, "time") == 0)
                        continue;
                if (json_object_is_type(val, json_type_string))
                        printf(" %s=%s", key, json_object_get_string(val));
                else if (strcmp(key, "vcpus") == 0 && json_object_is_type(val, json_type_array))
                        printf(" vcpus=[%zu]", json_object_array_length(val));
                else
                        printf(" %s=%s", key, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
        }
        putchar('\n');
}

/* After the reply to events: every line until the VM goes. */
static int follow(struct reader *rd, bool json) {
        for (;;) {
                char *text;
                size_t used;
                int r = read_line(rd, -1, &text, &used);

                if (r == -EPIPE)
                        return 0;
                if (r < 0) {
                        fprintf(stderr, "vmlaunch: events: %s\n", strerror(-r));
                        return 1;
                }
                if (json) {
                        printf("%s\n", text);
                } else {
                        json_object *ev = json_tokener_parse(text);

                        if (ev)
                                print_event(ev);
                        json_object_put(ev);
                }
                reader_consume(rd, used);
                fflush(stdout);
        }
}

static bool take_json_flag(int *argc, char **argv) {
        bool json = false;
        int k = 0;

        for (int i = 0; i < *argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        argv[k++] = argv[i];
        }
        *argc = k;
        return json;
}

int control_client_ctl(int argc, char **argv) {
        struct reader rd = { .fd = -1 };
        json_object *o = NULL, *v;
        enum control_command cmd;
        char path[128];
        bool json;
        int r, ret = 1;

        json = take_json_flag(&argc, argv);
        if (argc != 3 || control_command_from_name(argv[2], &cmd) < 0) {
                fprintf(stderr, "usage: vmlaunch ctl NAME status|stats|stop|kill|pause|resume|events [--json]\n");
                return EXIT_VM_CONFIG;
        }
        r = control_client_connect(argv[1], path, sizeof(path), &rd.fd);
        if (r < 0) {
                fprintf(stderr, "vmlaunch: %s: %s\n", argv[1], control_client_connect_error(r));
                return 1;
        }
        if (request(&rd, argv[1], cmd, &o) < 0)
                goto out;
        ret = 0;
        switch (cmd) {
        case CONTROL_STATUS:
        case CONTROL_STATS:
                v = member(o, cmd == CONTROL_STATUS ? "status" : "stats");
                if (json)
                        print_json(v);
                else if (cmd == CONTROL_STATUS)
                        print_status(v);
                else
                        print_stats(v);
                break;
        case CONTROL_EVENTS:
                /* On stderr, so that stdout stays the stream alone. */
                fprintf(stderr, "vmlaunch: following the events of %s from now on\n", argv[1]);
                fflush(stdout);
                ret = follow(&rd, json);
                break;
        case CONTROL_STOP:
        case CONTROL_KILL:
        case CONTROL_PAUSE:
        case CONTROL_RESUME:
        case _CONTROL_COMMAND_MAX:
                if (json)
                        print_json(o);
                else
                        printf("%s: %s\n", argv[1], json_object_get_string(member(o, "state")));
                break;
        }
out:
        json_object_put(o);
        reader_free(&rd);
        return ret;
}

int control_client_list(int argc, char **argv) {
        DIR *d;
        json_object *all = json_object_new_array();
        char dir[128];
        struct dirent *de;
        bool json;

        json = take_json_flag(&argc, argv);
        if (argc != 1) {
                fprintf(stderr, "usage: vmlaunch list [--json]\n");
                json_object_put(all);
                return EXIT_VM_CONFIG;
        }
        if (control_socket_dir(dir, sizeof(dir)) < 0) {
                fprintf(stderr, "vmlaunch: list: XDG_RUNTIME_DIR is not set: no VMs of this user to find\n");
                json_object_put(all);
                return 1;
        }
        d = opendir(dir);
        while (d && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                struct reader rd = { .fd = -1 };
                char path[sizeof(dir) + sizeof(de->d_name) + 1];
                json_object *o = NULL;

                if (n <= 5 || strcmp(de->d_name + n - 5, ".sock") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                /* A stale socket (its vmlaunch was SIGKILLed) is no VM:
                 * the next VM of that name replaces it. */
                if (control_client_connect(path, path, sizeof(path), &rd.fd) < 0)
                        continue;
                if (request(&rd, path, CONTROL_STATUS, &o) == 0) {
                        json_object_array_add(all, json_object_get(member(o, "status")));
                        json_object_put(o);
                }
                reader_free(&rd);
        }
        if (d)
                closedir(d);
        if (json) {
                print_json(all);
        } else {
                printf("%-24s %8s %-9s %5s %9s\n", "NAME", "PID", "STATE", "VCPUS", "UPTIME");
                for (size_t i = 0; i < json_object_array_length(all); i++) {
                        json_object *st = json_object_array_get_idx(all, i);
                        char up[32];

                        format_uptime(json_object_get_double(member(st, "uptime_s")), up, sizeof(up));
                        printf("%-24s %8d %-9s %5d %9s\n", json_object_get_string(member(st, "name")),
                               json_object_get_int(member(st, "pid")), json_object_get_string(member(st, "state")),
                               json_object_get_int(member(st, "vcpus")), up);
                }
        }
        json_object_put(all);
        return 0;
}
