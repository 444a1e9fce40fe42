/* compat_net_hint HOST_IP NETMASK MAC: the calls of crosvm's net_config
 * and hint plugins.  The network config must match the arguments, and
 * the tap must answer TUNGETFEATURES; a hinted I/O port write arrives
 * with the registers; crosvm_pause_vcpus delivers a PAUSED event; and
 * getppid() and kill(getppid(), SIGCONT) work (crosvm's hint test stops
 * and continues its parent: jailed, getppid() is 0, the plugin's own
 * process group).  Prints "compat_net_hint: ok" and exits 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat_common.h"

/* Ports no in-kernel device claims (the PIC has 0x20-0x21). */
#define PORT_HINT 0xe0
#define PORT_LOOP 0xe1
#define RAX_VALUE 0x42
#define PAUSE_USER ((void *)0x5eed)

/*      mov ax, RAX_VALUE
 *      out PORT_HINT, al
 * l:   out PORT_LOOP, al       ; until the pause has arrived
 *      jmp l */
static const uint8_t code[] = { 0xb8, 0x42, 0x00, 0xe6, 0xe0, 0xe6, 0xe1, 0xeb, 0xfc };

struct state {
        bool hinted;            /* PORT_HINT came with rax */
        bool pause_asked;
        unsigned loops;
};

static int on_io(struct compat *c, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct state *s = c->userdata;
        struct kvm_regs regs;
        int r;

        if (ev->io_access.address_space != CROSVM_ADDRESS_SPACE_IOPORT) {
                compat_fail(c, "unexpected MMIO access");
                return 1;
        }
        if (ev->io_access.address == PORT_HINT) {
                r = crosvm_vcpu_get_regs(v, &regs);
                if (r < 0 || (regs.rax & 0xffff) != RAX_VALUE)
                        compat_fail(c, "hinted write: regs %d, rax 0x%llx", r, (unsigned long long)regs.rax);
                s->hinted = true;
                /* The main connection is idle: the main thread is
                 * blocked on the shutdown eventfd. */
                r = crosvm_pause_vcpus(c->crosvm, 1, PAUSE_USER);
                if (r < 0) {
                        compat_fail(c, "crosvm_pause_vcpus: %s", strerror(-r));
                        return 1;
                }
                s->pause_asked = true;
                return 0;
        }
        if (ev->io_access.address == PORT_LOOP) {
                if (c->paused)
                        return 1;
                if (++s->loops > 100000) {
                        compat_fail(c, "no PAUSED event after %u exits", s->loops);
                        return 1;
                }
                return 0;
        }
        compat_fail(c, "unexpected port 0x%llx", (unsigned long long)ev->io_access.address);
        return 1;
}

static void check_net(struct compat *c, char **argv) {
        struct crosvm_net_config net;
        struct in_addr ip, mask;
        unsigned mac[6];
        unsigned features = 0;
        int r;

        r = crosvm_net_get_config(c->crosvm, &net);
        if (r < 0) {
                compat_fail(c, "crosvm_net_get_config: %s", strerror(-r));
                return;
        }
        if (inet_pton(AF_INET, argv[1], &ip) != 1 || inet_pton(AF_INET, argv[2], &mask) != 1 ||
            sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
                compat_fail(c, "bad arguments");
                return;
        }
        if (net.host_ip != ip.s_addr || net.netmask != mask.s_addr)
                compat_fail(c, "host_ip 0x%08x netmask 0x%08x, want %s %s", net.host_ip, net.netmask, argv[1],
                            argv[2]);
        for (int i = 0; i < 6; i++)
                if (net.host_mac_address[i] != mac[i])
                        compat_fail(c, "MAC byte %d: 0x%02x, want 0x%02x", i, net.host_mac_address[i], mac[i]);
        if (ioctl(net.tap_fd, TUNGETFEATURES, &features) < 0)
                compat_fail(c, "TUNGETFEATURES on the tap: %s", strerror(errno));
        else if (!(features & IFF_TAP))
                compat_fail(c, "TUNGETFEATURES: 0x%x, no IFF_TAP", features);
        close(net.tap_fd);
}

int main(int argc, char **argv) {
        struct state s = { 0 };
        struct compat c = { .io = on_io, .userdata = &s, .pause_user = PAUSE_USER };
        struct crosvm_hint_detail detail = { .match_rax = true, .rax = RAX_VALUE, .send_sregs = true };
        struct crosvm_hint hint = { .address_space = CROSVM_ADDRESS_SPACE_IOPORT,
                                    .address_flags = CROSVM_HINT_ON_WRITE,
                                    .details_count = 1,
                                    .address = PORT_HINT,
                                    .details = &detail };
        int r;

        if (compat_setup(&c, "compat_net_hint", 0x2000, false, code, sizeof(code)) < 0)
                return 1;
        if (argc != 4) {
                compat_fail(&c, "usage: compat_net_hint HOST_IP NETMASK MAC");
                return 1;
        }
        check_net(&c, argv);
        if ((r = crosvm_reserve_range(c.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, PORT_HINT, 2)) < 0 ||
            (r = crosvm_set_hypercall_hint(c.crosvm, 1, &hint)) < 0) {
                compat_fail(&c, "reserving the ports, hinting: %s", strerror(-r));
                return 1;
        }
        /* As crosvm's hint test: our parent, stopped and continued.  A
         * SIGSTOP here would stop vmlaunch unsandboxed until the SIGCONT;
         * the continue alone makes the same calls. */
        if (kill(getppid(), SIGCONT) < 0)
                compat_fail(&c, "kill(getppid() = %d, SIGCONT): %s", getppid(), strerror(errno));
        if (compat_run(&c) < 0)
                return 1;
        if (!s.hinted || !s.pause_asked || c.paused != 1)
                compat_fail(&c, "hinted %d, pause asked %d, PAUSED events %u", s.hinted, s.pause_asked, c.paused);
        return compat_result(&c);
}
