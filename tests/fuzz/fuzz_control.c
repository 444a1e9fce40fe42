/* libFuzzer: the control socket's request decoder (control_proto.h) on
 * any bytes a client may send as one line.  It must never crash, read
 * outside the line, or leak; a request it accepts names a real command,
 * and what it refuses says why.  The accepted command, written back out
 * by the client's encoder, must decode to the same command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        enum control_command cmd, again;
        const char *why = NULL;
        char line[128];
        size_t n;

        if (control_request_parse((const char *)data, size, &cmd, &why) < 0) {
                if (!why || !*why)
                        abort();
                return 0;
        }
        if (!control_command_name(cmd))
                abort();
        n = control_request_format(cmd, line, sizeof(line));
        if (n == 0 || line[n - 1] != '\n')
                abort();
        if (control_request_parse(line, n - 1, &again, &why) < 0 || again != cmd)
                abort();
        return 0;
}
