#include "tui_text.h"

#include <stdio.h>
#include <wchar.h>

#include "log.h"

/* Whether a decoded character may reach the terminal.  C1 controls are
 * escape sequences to some terminals (0x9b is CSI); the bidirectional
 * overrides and isolates could make a line read as something it is not. */
static bool printable(uint32_t cp) {
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
                return false;
        if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
                return false;
        return wcwidth((wchar_t)cp) >= 0;
}

bool tui_text_sanitize(const char *s, size_t len, bool utf8, char *out, size_t out_size) {
        const unsigned char *u = (const unsigned char *)s;
        size_t i = 0, o = 0;

        while (i < len) {
                uint32_t cp = 0;
                size_t n = utf8 ? log_utf8_decode(u + i, len - i, &cp) : 1;

                if (!utf8)
                        cp = u[i];
                if (cp == '\t') {
                        if (o + 1 >= out_size)
                                break;
                        out[o++] = ' ';
                        i++;
                        continue;
                }
                if (n == 0 || (n == 1 && cp >= 0x80) || !printable(cp)) {
                        /* One '?' for every byte of what is not shown. */
                        n = n ? n : 1;
                        if (o + n >= out_size)
                                break;
                        for (size_t k = 0; k < n; k++)
                                out[o++] = '?';
                        i += n;
                        continue;
                }
                if (o + n >= out_size)
                        break;
                for (size_t k = 0; k < n; k++)
                        out[o++] = (char)u[i + k];
                i += n;
        }
        out[o] = '\0';
        return i < len;
}

size_t tui_text_fit(const char *s, bool utf8, int cols, int *ret_width) {
        const unsigned char *u = (const unsigned char *)s;
        size_t i = 0;
        int w = 0;

        while (u[i]) {
                uint32_t cp = u[i];
                size_t n = 1;
                int cw = 1;

                if (utf8 && cp >= 0x80) {
                        /* Sanitised text is well formed: 0 cannot come back. */
                        n = log_utf8_decode(u + i, 4, &cp);
                        if (n == 0)
                                n = 1;
                        cw = wcwidth((wchar_t)cp);
                        if (cw < 0)
                                cw = 1;
                }
                if (w + cw > cols)
                        break;
                w += cw;
                i += n;
        }
        if (ret_width)
                *ret_width = w;
        return i;
}

int tui_text_width(const char *s, bool utf8) {
        int w;

        tui_text_fit(s, utf8, 1 << 30, &w);
        return w;
}

void tui_text_compact(uint64_t v, char out[static 8]) {
        static const char suffix[] = "kMGTPE";
        uint64_t scale = 1000, q;
        char tmp[48];
        int i = 0;

        if (v < 100000) {
                snprintf(out, 8, "%llu", (unsigned long long)v);
                return;
        }
        while (v / scale >= 1000 && i < 5) {
                scale *= 1000;
                i++;
        }
        q = v / scale;
        /* Truncated, never rounded up: "999k" cannot become a wider "1000k". */
        if (q >= 100)
                snprintf(tmp, sizeof(tmp), "%llu%c", (unsigned long long)q, suffix[i]);
        else if (q >= 10)
                snprintf(tmp, sizeof(tmp), "%llu.%llu%c", (unsigned long long)q,
                         (unsigned long long)(v % scale / (scale / 10)), suffix[i]);
        else
                snprintf(tmp, sizeof(tmp), "%llu.%02llu%c", (unsigned long long)q,
                         (unsigned long long)(v % scale / (scale / 100)), suffix[i]);
        /* q < 1000 and the fraction's digits keep it to 5 characters. */
        snprintf(out, 8, "%.7s", tmp);
}

int tui_text_digits(uint64_t v) {
        int d = 1;

        while (v >= 10) {
                v /= 10;
                d++;
        }
        return d;
}
