/* Deliberately no <errno.h> here: see pb_errno.h. */
#include "pb_errno.h"

int32_t pb_main_response_get_errno(const MainResponse *m) { return m->errno; }
void pb_main_response_set_errno(MainResponse *m, int32_t e) { m->errno = e; }
int32_t pb_vcpu_response_get_errno(const VcpuResponse *m) { return m->errno; }
void pb_vcpu_response_set_errno(VcpuResponse *m, int32_t e) { m->errno = e; }
