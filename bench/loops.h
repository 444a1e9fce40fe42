/* The benchmarks' guests, shared by the bare-KVM baselines and
 * bench_plugin so that both run the very same code: real mode at 0x1000,
 * `out 0x12` (begin), N accesses of one kind, `out 0x11` (done), hlt. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum bench_kind {
        BENCH_OUT,      /* out 0x10, al: the plugin answers each */
        BENCH_IN,       /* in al, 0x10: the plugin supplies the byte */
        BENCH_MMIO,     /* mov [es:0], al at BENCH_MMIO_ADDR */
        BENCH_ASYNC,    /* out 0x10 to an async-write range: never waits */
        BENCH_IOEVENT,  /* out 0x10 matched by an ioeventfd: never leaves KVM */
};

#define BENCH_PORT 0x10
#define BENCH_DONE 0x11
#define BENCH_BEGIN 0x12
#define BENCH_MMIO_ADDR 0xd0000

static inline const char *bench_kind_name(enum bench_kind k) {
        static const char *const names[] = { "out", "in", "mmio", "async", "ioevent" };

        return names[k];
}

/* Writes the guest for `n` (1..65535) accesses; returns its length (at
 * most 32 bytes). */
static inline size_t bench_guest(enum bench_kind k, unsigned n, uint8_t *code) {
        size_t i = 0;

#define EMIT(...)                                                       \
        do {                                                            \
                const uint8_t b_[] = { __VA_ARGS__ };                   \
                memcpy(code + i, b_, sizeof(b_));                       \
                i += sizeof(b_);                                        \
        } while (0)
        if (k == BENCH_MMIO)
                EMIT(0xb8, 0x00, 0xd0, 0x8e, 0xc0);             /* mov ax, 0xd000; mov es, ax */
        EMIT(0x30, 0xc0);                                       /* xor al, al */
        EMIT(0xe6, BENCH_BEGIN);                                /* out BEGIN, al */
        EMIT(0xb9, (uint8_t)n, (uint8_t)(n >> 8));              /* mov cx, n */
        if (k == BENCH_IN)
                EMIT(0xe4, BENCH_PORT, 0xe2, 0xfc);             /* l: in al, PORT; loop l */
        else if (k == BENCH_MMIO)
                EMIT(0x26, 0xa2, 0x00, 0x00, 0xe2, 0xfa);       /* l: mov [es:0], al; loop l */
        else
                EMIT(0xe6, BENCH_PORT, 0xe2, 0xfc);             /* l: out PORT, al; loop l */
        EMIT(0x30, 0xc0, 0xe6, BENCH_DONE, 0xf4, 0xeb, 0xfd);   /* xor al, al; out DONE, al; hlt; jmp hlt */
#undef EMIT
        return i;
}
