/* libFuzzer: the host's end of a lane against a plugin that writes
 * anything into the shared slot.  The input is the plugin's side: a head
 * for the request ring and a tail for the reply ring (4 bytes each), then
 * the ring's bytes.  The host reads messages until the ring is empty or
 * broken, and replies once; it must never read or write outside the slot
 * or its own buffer, nor hand back a message longer than that buffer.
 * `stop` is set, so where a real vCPU thread would wait it returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lane.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct lane_slot *slot;
        static uint8_t buf[512];
        static const uint8_t reply[] = { 4, 0x10, 0x01, 0x42, 0x00 };
        atomic_bool stop = true;
        uint32_t head, tail;
        struct lane l;

        if (!slot) {
                slot = mmap(NULL, LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (slot == MAP_FAILED)
                        abort();
        }
        if (size < 8)
                return 0;
        memcpy(&head, data, 4);
        memcpy(&tail, data + 4, 4);
        data += 8;
        size -= 8;
        memset(slot, 0, LANE_SLOT_BYTES);
        lane_init(&l, slot, true, NULL, &stop);
        memcpy(slot->to_host.data, data, size < LANE_RING_BYTES ? size : LANE_RING_BYTES);
        atomic_store(&slot->to_host.head, head);
        atomic_store(&slot->to_plugin.tail, tail);
        for (;;) {
                size_t len = SIZE_MAX;
                int r = lane_read_message(&l, buf, sizeof(buf), false, &len);

                if (r < 0)
                        break;
                if (len > sizeof(buf))
                        abort();
        }
        (void)lane_write(&l, reply, sizeof(reply));
        return 0;
}
