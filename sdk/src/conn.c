/* Connections to the host: connect, new_connection, destroy; the shared id
 * allocator; the request/response transaction on the main socket.
 *
 * Where crosvm's library had bugs this one is correct:
 *  - a failed socket syscall comes back as a negative errno (crosvm negated
 *    it twice and returned it positive);
 *  - every fd received is CLOEXEC (MSG_CMSG_CLOEXEC), so nothing the host
 *    sends leaks into programs the plugin runs;
 *  - more than 32 fds per reply are accepted, so GetVcpus serves more than
 *    16 vCPUs (crosvm's kernel-truncated the rest silently). */
#include "sdk_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lane.h"
#include "pb_convert.h"
#include "sdk_vcpu.h"

/* ---- ids ---- */

uint32_t sdk_id_alloc(struct shared *s) {
        uint32_t id;

        pthread_mutex_lock(&s->id_lock);
        id = s->next_id++;
        pthread_mutex_unlock(&s->id_lock);
        return id;
}

/* Gives an id back only when it is the newest one, so a failed create does
 * not use up the id space while a live object's id is never handed out
 * twice. */
void sdk_id_free(struct shared *s, uint32_t id) {
        pthread_mutex_lock(&s->id_lock);
        if (id + 1 == s->next_id)
                s->next_id = id;
        pthread_mutex_unlock(&s->id_lock);
}

/* ---- the main socket ---- */

void sdk_close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

int sdk_transact(struct crosvm *c, const MainRequest *req, int fd_out, MainResponse **ret_resp, int *fds,
                 size_t *ret_n_fds) {
        size_t len = main_request__get_packed_size(req), n_fds = 0;
        int got[WIRE_MAX_FDS];
        MainResponse *resp;
        uint8_t *out;
        ssize_t n;
        int r;

        /* Requests are small and the main socket is not a hot path. */
        out = malloc(len ? len : 1);
        if (!out)
                return -ENOMEM;
        main_request__pack(req, out);
        r = wire_send(c->sock, out, len, fd_out >= 0 ? &fd_out : NULL, fd_out >= 0 ? 1 : 0);
        free(out);
        if (r < 0)
                return r;

        n = wire_recv(c->sock, c->buf, WIRE_MAIN_RESPONSE_MAX, got, WIRE_MAX_FDS, &n_fds);
        if (n < 0)
                return (int)n;
        if (n == 0)
                return -EPIPE;
        resp = main_response__unpack(NULL, (size_t)n, c->buf);
        if (!resp) {
                sdk_close_fds(got, n_fds);
                return -EPROTO;
        }
        /* The wire carries a positive errno; crosvm's proto comment says
         * negative, so accept either sign. */
        r = pb_main_response_get_errno(resp);
        if (r != 0)
                r = r > 0 ? -r : r;
        else if (resp->message_case != pb_response_case(req->message_case))
                r = -EPROTO;
        if (r < 0) {
                sdk_close_fds(got, n_fds);
                main_response__free_unpacked(resp, NULL);
                return r;
        }
        if (fds) {
                memcpy(fds, got, n_fds * sizeof(int));
                *ret_n_fds = n_fds;
        } else
                sdk_close_fds(got, n_fds);
        if (ret_resp)
                *ret_resp = resp;
        else
                main_response__free_unpacked(resp, NULL);
        return 0;
}

/* ---- connections ---- */

static void shared_unref(struct shared *s) {
        if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
                return;
        for (uint32_t i = 0; i < s->n_vcpus; i++)
                sdk_vcpu_free(s->vcpus[i]);
        free(s->vcpus);
        if (s->lanes)
                munmap(s->lanes, s->lanes_bytes);
        if (s->lanes_fd >= 0)
                close(s->lanes_fd);
        pthread_mutex_destroy(&s->id_lock);
        free(s);
}

static struct shared *shared_new(void) {
        struct shared *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        if (pthread_mutex_init(&s->id_lock, NULL) != 0) {
                free(s);
                return NULL;
        }
        s->lanes_fd = -1;
        return s;
}

/* A connection over `sock`, holding a reference to s.  Takes the socket
 * only on success. */
static struct crosvm *connection_new(int sock, struct shared *s) {
        struct crosvm *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->buf = malloc(WIRE_MAIN_RESPONSE_MAX);
        if (!c->buf) {
                free(c);
                return NULL;
        }
        c->sock = sock;
        c->shared = s;
        atomic_fetch_add(&s->refs, 1);
        return c;
}

static void connection_free(struct crosvm *c) {
        if (!c)
                return;
        if (c->sock >= 0)
                close(c->sock);
        shared_unref(c->shared);
        free(c->buf);
        free(c);
}

/* GetVcpus: fds [2i] and [2i+1] are vCPU i's request pipe (write end) and
 * response pipe (read end). */
static int load_vcpus(struct crosvm *c) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetVcpus m = MAIN_REQUEST__GET_VCPUS__INIT;
        struct shared *s = c->shared;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        req.message_case = MAIN_REQUEST__MESSAGE_GET_VCPUS;
        req.get_vcpus = &m;
        r = sdk_transact(c, &req, -1, NULL, fds, &n);
        if (r < 0)
                return r;
        if (n == 0 || n % 2) {
                sdk_close_fds(fds, n);
                return -EPROTO;
        }
        s->vcpus = calloc(n / 2, sizeof(*s->vcpus));
        if (!s->vcpus) {
                sdk_close_fds(fds, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n / 2; i++) {
                r = sdk_vcpu_new(fds[2 * i], fds[2 * i + 1], &s->vcpus[i]);
                if (r < 0) {
                        /* vCPU i's own two went with the failed call. */
                        sdk_close_fds(fds + 2 * i + 2, n - 2 * i - 2);
                        return r;       /* the vCPUs made so far go with s */
                }
                s->n_vcpus++;
        }
        return 0;
}

/* The lanes vmlaunch offers in VMLAUNCH_LANE_FD (lane.h): a memfd of one
 * slot per vCPU.  Anything unexpected leaves the vCPUs on their pipes,
 * which always work.  Once mapped, the fd is the library's, as the socket
 * is, and closed with the last connection. */
static void load_lanes(struct shared *s) {
        const char *env = getenv(LANE_ENV);
        struct stat st;
        char *end;
        long fd;
        void *p;

        if (!env || !*env)
                return;
        errno = 0;
        fd = strtol(env, &end, 10);
        if (errno || *end || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size < (uint64_t)s->n_vcpus * LANE_SLOT_BYTES)
                return;
        (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        p = mmap(NULL, (size_t)s->n_vcpus * LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
        if (p == MAP_FAILED)
                return;
        s->lanes = p;
        s->lanes_bytes = (size_t)s->n_vcpus * LANE_SLOT_BYTES;
        s->lanes_fd = (int)fd;
        for (uint32_t i = 0; i < s->n_vcpus; i++)
                sdk_vcpu_attach_lane(s->vcpus[i], lane_slot_at(p, i));
}

EXPORT int crosvm_connect(struct crosvm **ret) {
        const char *env = getenv("CROSVM_SOCKET");
        struct shared *s;
        struct crosvm *c;
        char *end;
        long fd;
        int r;

        if (!ret)
                return -EINVAL;
        if (!env)
                return -ENOTCONN;
        errno = 0;
        fd = strtol(env, &end, 10);
        if (errno || end == env || *end || fd < 0 || fd > INT_MAX)
                return -EINVAL;
        s = shared_new();
        if (!s)
                return -ENOMEM;
        c = connection_new((int)fd, s);
        if (!c) {
                free(s);
                return -ENOMEM;
        }
        r = load_vcpus(c);
        if (r < 0) {
                c->sock = -1;   /* the inherited fd stays the caller's on failure */
                connection_free(c);
                return r;
        }
        load_lanes(s);
        /* The socket is the library's now; keep it out of anything the
         * plugin execs (crosvm left it inheritable). */
        (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        *ret = c;
        return 0;
}

EXPORT int crosvm_new_connection(struct crosvm *self, struct crosvm **ret) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__NewConnection m = MAIN_REQUEST__NEW_CONNECTION__INIT;
        struct crosvm *c;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!self || !ret)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_NEW_CONNECTION;
        req.new_connection = &m;
        r = sdk_transact(self, &req, -1, NULL, fds, &n);
        if (r < 0)
                return r;
        if (n != 1) {
                sdk_close_fds(fds, n);
                return -EPROTO;
        }
        c = connection_new(fds[0], self->shared);
        if (!c) {
                close(fds[0]);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

EXPORT int crosvm_destroy_connection(struct crosvm **self) {
        if (self && *self) {
                connection_free(*self);
                *self = NULL;
        }
        return 0;
}

EXPORT int crosvm_get_shutdown_eventfd(struct crosvm *c) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetShutdownEventfd m = MAIN_REQUEST__GET_SHUTDOWN_EVENTFD__INIT;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!c)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD;
        req.get_shutdown_eventfd = &m;
        r = sdk_transact(c, &req, -1, NULL, fds, &n);
        if (r < 0)
                return r;
        if (n != 1) {
                sdk_close_fds(fds, n);
                return -EPROTO;
        }
        return fds[0];
}

EXPORT int crosvm_get_vcpu(struct crosvm *c, uint32_t id, struct crosvm_vcpu **ret) {
        if (!c || !ret)
                return -EINVAL;
        if (id >= c->shared->n_vcpus)
                return -ENOENT;
        *ret = c->shared->vcpus[id];
        return 0;
}
