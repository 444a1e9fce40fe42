/* stderr_lines: writes lines no terminal or JSON encoder should trust:
 * invalid UTF-8, an escape sequence, a tab, a NUL-free 10000-byte line;
 * and one line on stdout.  Exits 0.  With an argument N, first writes N
 * numbered lines ("stderr_lines: line <i> of <N>", padded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
        static char longline[10001];
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;

        for (long i = 0; i < n; i++)
                fprintf(stderr, "stderr_lines: line %ld of %ld %060d\n", i, n, 0);

        fputs("stderr_lines: invalid utf-8 \xff\xfe here\n", stderr);
        fputs("stderr_lines: escape \x1b[31mred\x1b[0m and a\ttab\n", stderr);
        memset(longline, 'x', sizeof(longline) - 1);
        fprintf(stderr, "%s\n", longline);
        fputs("stderr_lines: quote \" and backslash \\\n", stderr);
        printf("stderr_lines: on stdout\n");
        return 0;
}
