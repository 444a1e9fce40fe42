/* A small toolkit for example and test plugins: guest RAM from a sealed
 * memfd, real-mode vCPU setup at Init, and a loop that runs one thread per
 * vCPU and hands I/O events to a callback until the callback or the host's
 * shutdown eventfd says stop.  Built on crosvm.h alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "crosvm.h"

struct guest;

/* Called on every I/O event of vCPU `id`.  Return 0 to resume, 1 to end
 * the plugin successfully, 2 to end it with a failure (the event is then
 * not resumed).  Called from that vCPU's thread. */
typedef int (*guest_io_fn)(void *userdata, unsigned id, struct crosvm_vcpu *vcpu, struct crosvm_vcpu_event *ev);

struct guest {
        struct crosvm *crosvm;
        struct crosvm_memory *memory;
        uint8_t *ram;           /* the guest's RAM, mapped here too */
        size_t ram_size;
        int shutdown_fd;
        int done_fd;            /* eventfd: a callback or a vCPU ended the run */
        int status;             /* 0 or 1 once done */
        unsigned n_vcpus;
        const uint16_t *entry;  /* per vCPU, the real-mode start address */
        guest_io_fn io;
        void *userdata;
        const char *name;       /* prefix of error messages */
        pthread_t *threads;     /* one per vCPU, joined by guest_run */
        /* conns[id]: vCPU id's own connection, for VM-wide calls from its
         * callbacks.  A connection serves one thread at a time, and the
         * main one is busy in crosvm_start when the first callbacks run. */
        struct crosvm **conns;
        bool stopping;          /* guest_run is tearing down */
        /* Optional: called at Init after the real-mode setup, before the resume. */
        int (*on_init)(void *userdata, unsigned id, struct crosvm_vcpu *vcpu);
        /* Optional: called on a PAUSED event (then resumed) with its user value. */
        void (*on_pause)(void *userdata, unsigned id, void *user);
};

/* Connects and gives the guest `ram_size` bytes of RAM at address 0.
 * Errors are printed to stderr; returns 0 or -errno. */
int guest_setup(struct guest *g, const char *name, size_t ram_size);

/* Copies code into RAM at `addr`. */
void guest_load(struct guest *g, uint16_t addr, const uint8_t *code, size_t len);

/* Starts the VM, runs every vCPU from entry[i] until a callback ends the
 * run (its status), the host signals shutdown (0), or a vCPU call fails
 * (1).  Then stops the vCPU threads and frees everything guest_setup made,
 * so a plugin exits with nothing leaked. */
int guest_run(struct guest *g, unsigned n_vcpus, const uint16_t *entry, guest_io_fn io, void *userdata);
