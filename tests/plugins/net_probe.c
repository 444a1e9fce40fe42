/* net_probe [--none]: asks for the network config and prints it on stdout
 * as "net: <tap> <ip> <netmask> <mac>"; the tap fd must really be a tap.
 * With --none it expects -ENODATA (no network configured).  Exits 0 when
 * all holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "crosvm.h"

int main(int argc, char **argv) {
        struct crosvm *c = NULL;
        struct crosvm_net_config cfg;
        struct ifreq ifr = { 0 };
        char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
        int r = crosvm_connect(&c);

        if (r < 0) {
                fprintf(stderr, "net_probe: crosvm_connect: %s\n", strerror(-r));
                return 1;
        }
        r = crosvm_net_get_config(c, &cfg);
        if (argc > 1 && strcmp(argv[1], "--none") == 0) {
                crosvm_destroy_connection(&c);
                if (r != -ENODATA) {
                        fprintf(stderr, "net_probe: want -ENODATA without a network, got %d\n", r);
                        return 1;
                }
                return 0;
        }
        crosvm_destroy_connection(&c);
        if (r < 0) {
                fprintf(stderr, "net_probe: crosvm_net_get_config: %s\n", strerror(-r));
                return 1;
        }
        if (ioctl(cfg.tap_fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP)) {
                fprintf(stderr, "net_probe: the fd is not a tap\n");
                return 1;
        }
        inet_ntop(AF_INET, &cfg.host_ip, ip, sizeof(ip));
        inet_ntop(AF_INET, &cfg.netmask, mask, sizeof(mask));
        printf("net: %s %s %s %02x:%02x:%02x:%02x:%02x:%02x\n", ifr.ifr_name, ip, mask, cfg.host_mac_address[0],
               cfg.host_mac_address[1], cfg.host_mac_address[2], cfg.host_mac_address[3], cfg.host_mac_address[4],
               cfg.host_mac_address[5]);
        close(cfg.tap_fd);
        return 0;
}
