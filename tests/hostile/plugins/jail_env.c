/* jail_env: prints its whole environment, one "jail_env: ENTRY" line
 * each, then "jail_env: end", and idles. */
#include <stdio.h>

#include "jail_idle.h"

extern char **environ;

int main(void) {
        for (char **e = environ; *e; e++)
                fprintf(stderr, "jail_env: %s\n", *e);
        fprintf(stderr, "jail_env: end\n");
        fflush(stderr);
        return jail_idle("jail_env");
}
