/* Accessors for the `errno` field of MainResponse and VcpuResponse.
 *
 * protoc-c names the struct member after the proto field, `errno`, which the
 * <errno.h> macro rewrites in any file that includes that header.  These
 * functions are compiled in a translation unit that never sees <errno.h>.
 * The value is the positive errno carried on the wire. */
#pragma once

#include "plugin.pb-c.h"

int32_t pb_main_response_get_errno(const MainResponse *m);
void pb_main_response_set_errno(MainResponse *m, int32_t e);
int32_t pb_vcpu_response_get_errno(const VcpuResponse *m);
void pb_vcpu_response_set_errno(VcpuResponse *m, int32_t e);
