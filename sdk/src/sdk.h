/* What every translation unit of libcrosvm_plugin shares: the export
 * marker and the headers.
 *
 * The library is split by concern, each with its header, and the headers
 * form no cycle: sdk_vcpu.h (vcpu.c: the per-vCPU channel, events and
 * register cache) needs nothing of the others; sdk_conn.h (conn.c:
 * connections, the id allocator, the main-socket transaction) builds the
 * vCPU table through sdk_vcpu.h; vm.c (the VM-wide calls and the objects)
 * uses sdk_conn.h.  What both ends of the protocol share (framing, the
 * channel, the case mapping, the CPUID conversions) is proto/'s.  Nothing
 * declared here leaves the shared object (the version script exports
 * crosvm_* only, and everything else is hidden). */
#pragma once

#include "pb.h"

#include "crosvm.h"

#define EXPORT __attribute__((visibility("default")))
