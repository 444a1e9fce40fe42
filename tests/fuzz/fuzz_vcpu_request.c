/* libFuzzer: arbitrary bytes as one vCPU request, served by a real KVM
 * vCPU (needs /dev/kvm).  The input arrives as one datagram, then a
 * Shutdown ends the serving loop, exactly as on the launcher's teardown. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The limits config_load would give: a zero cap refuses everything. */
static struct vm_config config = { .vcpus = 1, .kvm_device = (char *)"/dev/kvm",
                                  .limits = { .tasks = CONFIG_LIMIT_TASKS_DEFAULT, .nofile = CONFIG_LIMIT_NOFILE_DEFAULT,
                                           .connections = CONFIG_LIMIT_CONNECTIONS_DEFAULT,
                                           .memory_regions = CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT,
                                           .guest_memory_mib = CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT,
                                           .ranges = CONFIG_LIMIT_RANGES_DEFAULT,
                                           .irq_events = CONFIG_LIMIT_IRQ_EVENTS_DEFAULT } };
static struct vm *vm;
static struct vcpu *v;
static int peer = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char step[160] = "";
        int sv[2], r;

        (void)argc;
        (void)argv;
        log_set_max_level(LOG_LEVEL_ERROR);
        r = vm_new(&config, &vm, step, sizeof(step));
        if (r < 0) {
                fprintf(stderr, "fuzz: creating the VM: %s: %s\n", step, strerror(-r));
                exit(1);
        }
        v = vm->vcpus[0];
        if (vcpu_create_kvm(v) < 0)
                abort();
        /* A datagram socket in place of the request pipe keeps each input
         * one message, like one write() from a well-behaved plugin. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        close(v->chan.rd);
        v->chan.rd = sv[0];
        peer = sv[1];
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t shutdown_req[] = { 0x42, 0x00 };
        uint8_t buf[4096];

        if (size == 0 || size > WIRE_PIPE_MAX)
                return 0;
        if (send(peer, data, size, 0) < 0 || send(peer, shutdown_req, sizeof(shutdown_req), 0) < 0)
                abort();
        /* Odd inputs serve as if Init were still pending. */
        vcpu_serve(v, size & 1);
        /* A Resume leaves our Shutdown queued: drop it, and every answer. */
        while (recv(v->chan.rd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
        channel_drain(&v->chan);
        return 0;
}
