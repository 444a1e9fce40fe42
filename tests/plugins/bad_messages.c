/* bad_messages: sends malformed requests, each on its own connection that
 * it asks for with a raw NewConnection, and expects each to be answered
 * with an error or dropped; then checks the VM still serves the original
 * connection through the SDK.  Exits 0 if the launcher survived. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "crosvm.h"

static int control = -1;

/* A raw NewConnection (MainRequest field 3, empty) on the control socket. */
static int new_connection(void) {
        static const unsigned char req[] = { 0x1a, 0x00 };
        char buf[64], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *c;
        int fd;

        if (send(control, req, sizeof(req), 0) < 0 || recvmsg(control, &msg, MSG_CMSG_CLOEXEC) <= 0)
                return -1;
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_type != SCM_RIGHTS)
                return -1;
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        return fd;
}

/* Sends `len` bytes (plus `n_fds` copies of stdin's fd) and reports what
 * came back: 0 dropped, 1 an error response, -1 anything else. */
static int try_bad(const char *what, const void *data, size_t len, int n_fds) {
        int fd = new_connection();
        struct timeval tv = { .tv_sec = 10 };
        char buf[256], cbuf[CMSG_SPACE(4 * sizeof(int))];
        struct iovec iov = { (void *)data, len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;
        int result;

        if (fd < 0) {
                fprintf(stderr, "bad_messages: no new connection for %s\n", what);
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (n_fds) {
                struct cmsghdr *c;

                memset(cbuf, 0, sizeof(cbuf));
                msg.msg_control = cbuf;
                msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                for (int i = 0; i < n_fds; i++)
                        memcpy(CMSG_DATA(c) + i * sizeof(int), &(int){ 0 }, sizeof(int));
        }
        if (sendmsg(fd, &msg, 0) < 0) {
                fprintf(stderr, "bad_messages: sending %s: %s\n", what, strerror(errno));
                close(fd);
                return -1;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        /* An error response starts with field 1 (errno), tag 0x08. */
        result = n == 0 ? 0 : (n > 1 && (unsigned char)buf[0] == 0x08) ? 1 : -1;
        fprintf(stderr, "bad_messages: %s: %s\n", what,
                result == 0 ? "connection dropped" : result == 1 ? "error response" : "unexpected answer");
        close(fd);
        return result;
}

int main(void) {
        static const unsigned char garbage[] = { 0xff, 0xff, 0xff, 0xff };
        static const unsigned char truncated[] = { 0x0a, 0x05, 0x08 };          /* create, 5 bytes promised */
        static const unsigned char unknown[] = { 0x90, 0x03, 0x01 };            /* field 50 = 1 */
        static const unsigned char reserve[] = { 0x52, 0x04, 0x10, 0x10, 0x18, 0x01 }; /* reserve_range */
        static unsigned char big[8192];
        struct crosvm *c = NULL;
        bool has = false;
        int bad = 0, r;

        control = atoi(getenv("CROSVM_SOCKET") ? getenv("CROSVM_SOCKET") : "-1");
        bad += try_bad("garbage", garbage, sizeof(garbage), 0) < 0;
        bad += try_bad("truncated protobuf", truncated, sizeof(truncated), 0) < 0;
        memset(big, 0x0a, sizeof(big));
        bad += try_bad("oversized datagram", big, sizeof(big), 0) < 0;
        bad += try_bad("unknown request", unknown, sizeof(unknown), 0) != 1;
        bad += try_bad("too many fds", reserve, sizeof(reserve), 3) < 0;
        r = crosvm_connect(&c);
        if (r == 0)
                r = crosvm_check_extension(c, KVM_CAP_IRQCHIP, &has);
        crosvm_destroy_connection(&c);
        if (r < 0 || !has) {
                fprintf(stderr, "bad_messages: the launcher no longer serves: %s\n", strerror(-r));
                return 1;
        }
        fprintf(stderr, "bad_messages: %d unexpected answers; the launcher still serves\n", bad);
        return bad ? 1 : 0;
}
