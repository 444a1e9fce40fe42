/* The baselines on bare KVM: what the benchmarks set vmlaunch's figures
 * against.  Each does the work vmlaunch's run of the same row does, and
 * nothing more (bench_vmlaunch.c names the pairs). */
#pragma once

#include <stdbool.h>

#include "loops.h"

/* The guest of loops.h on a bare KVM VM (irqchip + PIT, as vmlaunch's
 * vm_start makes them before the vCPU), each exit handled in this thread,
 * or, for ioevent, by an ioeventfd in KVM.  With `forward`, every access
 * to BENCH_PORT also makes a round trip of a 20-byte message over a pipe
 * pair to a second thread, both ends spinning on non-blocking read()s as
 * vmlaunch's pollers do: the floor under any design that keeps crosvm's
 * pipes, before protobuf and the plugin.  Seconds per access, from the
 * guest's begin marker to its done marker.  Dies on error. */
double bare_io(enum bench_kind kind, unsigned n, bool forward);

/* What vmlaunch's no-op run (a plugin that connects and exits, never
 * sending Start) makes of KVM: the capability checks and KVM_CREATE_VM;
 * no irqchip, PIT or vCPU (those come with Start).  Then closes it.
 * Seconds. */
double bare_create_destroy(void);

/* CLOCK_MONOTONIC, in seconds. */
double bench_now(void);

/* Prints what failed with errno's text and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));
