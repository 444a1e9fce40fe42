/* stderr_lines: writes lines no terminal or JSON encoder should trust:
 * invalid UTF-8, an escape sequence, a tab, a NUL-free 10000-byte line;
 * and one line on stdout.  Exits 0. */
#include <stdio.h>
#include <string.h>

int main(void) {
        static char longline[10001];

        fputs("stderr_lines: invalid utf-8 \xff\xfe here\n", stderr);
        fputs("stderr_lines: escape \x1b[31mred\x1b[0m and a\ttab\n", stderr);
        memset(longline, 'x', sizeof(longline) - 1);
        fprintf(stderr, "%s\n", longline);
        fputs("stderr_lines: quote \" and backslash \\\n", stderr);
        printf("stderr_lines: on stdout\n");
        return 0;
}
