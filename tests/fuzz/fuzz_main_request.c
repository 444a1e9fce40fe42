/* libFuzzer: arbitrary bytes as one main-socket datagram, decoded and
 * dispatched against a real VM (needs /dev/kvm).  Whatever arrives, the
 * server must answer or drop the connection: never crash, hang or leak. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "vm.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The limits config_load would give: a zero cap refuses everything. */
static struct vm_config config = { .vcpus = 2, .kvm_device = (char *)"/dev/kvm",
                                  .limits = { .tasks = CONFIG_LIMIT_TASKS_DEFAULT, .nofile = CONFIG_LIMIT_NOFILE_DEFAULT,
                                           .connections = CONFIG_LIMIT_CONNECTIONS_DEFAULT,
                                           .memory_regions = CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT,
                                           .guest_memory_mib = CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT,
                                           .ranges = CONFIG_LIMIT_RANGES_DEFAULT,
                                           .irq_events = CONFIG_LIMIT_IRQ_EVENTS_DEFAULT } };
static struct vm *vm;
static struct server *srv;
static int epoll_fd = -1;
static int peer = -1;   /* the fuzzer's end of the current connection */

static void connect_peer(void) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
            server_add_connection(srv, sv[0]) < 0)
                abort();
        peer = sv[1];
        /* The server may drop or not answer: never block on it. */
        fcntl(peer, F_SETFL, O_NONBLOCK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char step[160] = "";
        int r;

        (void)argc;
        (void)argv;
        log_set_max_level(LOG_LEVEL_ERROR);
        epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        r = vm_new(&config, &vm, step, sizeof(step));
        if (r < 0) {
                fprintf(stderr, "fuzz: creating the VM: %s: %s\n", step, strerror(-r));
                exit(1);
        }
        if (server_new(vm, epoll_fd, &srv) < 0)
                abort();
        connect_peer();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct epoll_event ev;
        uint8_t resp[WIRE_MAIN_RESPONSE_MAX];
        int fds[WIRE_MAX_FDS];
        size_t n_fds = 0;

        if (send(peer, data, size, MSG_DONTWAIT) < 0 && errno != EMSGSIZE)
                return 0;
        while (epoll_wait(epoll_fd, &ev, 1, 0) == 1)
                server_handle(srv, ev.data.ptr);
        server_reap(srv);
        /* Collect the answer and every fd it carried. */
        while (wire_recv(peer, resp, sizeof(resp), fds, WIRE_MAX_FDS, &n_fds) > 0)
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
        if (server_n_connections(srv) == 0) {
                close(peer);
                connect_peer();
        }
        return 0;
}
