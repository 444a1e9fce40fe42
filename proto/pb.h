/* Include this instead of plugin.pb-c.h.
 *
 * protoc-c names the struct member of the proto field `errno` after it;
 * <errno.h> makes `errno` a macro, which would turn that member into a
 * function declaration.  The macro is suspended around the generated
 * header so include order does not matter; read and write the field only
 * through the accessors of pb_errno.h. */
#pragma once

#pragma push_macro("errno")
#undef errno
#include "plugin.pb-c.h"
#pragma pop_macro("errno")

#include "pb_errno.h"

#include <stddef.h>

/* An upper bound on the packed size of a message that is small in shape:
 * at most 16 fields that are not `bytes` (scalars, and nested messages'
 * headers), each at most a 2-byte tag and a 10-byte varint, and at most 8
 * `bytes` fields, each a 2-byte tag, a 5-byte length and the `bytes`
 * bytes given in all.  protoc-c's sizing pass costs as much as packing
 * itself; where the bound fits the buffer, a hot path packs without it.
 * test_wire holds the bound against protobuf-c for each message that
 * uses it. */
static inline size_t pb_small_bound(size_t bytes) {
        return bytes + 16 * 12 + 8 * 7;
}
