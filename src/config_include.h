/* Reading config text, and checking a config's @include directives before
 * libconfig opens them.
 *
 * libconfig (1.5, Debian 12's) opens whatever an @include names with a
 * blocking fopen() and reads it with flex: a FIFO hangs it, a directory
 * gives "input in flex scanner failed" with no file named.  So config.c
 * first finds every @include the way libconfig's scanner will (the same
 * lexer states, carried from an included file back into the one including
 * it, as libconfig does), resolves each name the way libconfig will, and
 * refuses anything that is not a regular file, naming the include and
 * where it was included.  Only then does libconfig parse.
 *
 * Resolution: config.c sets libconfig's include directory to the config
 * file's directory, so a relative name is relative to the top config
 * file's directory (for every level of nesting: libconfig has one include
 * directory, not one per file).  libconfig 1.5 prefixes that directory to
 * absolute names too, so an absolute @include cannot work there and is
 * refused with a message saying so.
 *
 * The same scan flags integer literals libconfig 1.5 would misread: one
 * wider than 32 bits without the L suffix keeps only its low 32 bits, with
 * no error (vcpus = 4294967297 would read 1). */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* libconfig allows 10 levels; stopping first gives our own message. */
#define CONFIG_INCLUDE_DEPTH_MAX 8u
/* All @include directives of one config, nested ones included. */
#define CONFIG_INCLUDES_MAX 64u
/* The largest config text (each file) read. */
#define CONFIG_TEXT_MAX_BYTES (4u << 20)

struct config_include {
        char *name;     /* as written after @include: libconfig names the file so */
        char *display;  /* how messages name the file */
};

struct config_includes {
        struct config_include *v;
        size_t n;
};

/* Reads the whole of `path` (a FIFO too: the caller named it) into a
 * NUL-terminated buffer; at most CONFIG_TEXT_MAX_BYTES.  Returns 0 with
 * *ret_text and *ret_len, or -errno (-EFBIG when larger). */
int config_read_text(const char *path, char **ret_text, size_t *ret_len);

/* Finds the @include directives (and too wide integers) in `text` (`len` bytes, named `display` in
 * messages) and, recursively, in what they include; resolves each against
 * `include_dir` and checks it.  An included file is named in messages as
 * `display_prefix` followed by its name ("" for none).  Each problem is
 * one line on `errors` (which may be NULL), e.g.
 *   vm.conf:3: @include "fifo": /etc/vm/fifo: not a regular file (a FIFO)
 * (the file as opened: the include directory and the name)
 * Returns 0 and fills *ret (the caller frees it with config_includes_free),
 * -EINVAL when some problem was reported, or -ENOMEM. */
int config_include_scan(const char *text, size_t len, const char *display, const char *include_dir,
                        const char *display_prefix, FILE *errors, struct config_includes *ret);

/* How messages name the file libconfig knows as `name`; NULL when no
 * @include named it. */
const char *config_includes_display(const struct config_includes *incs, const char *name);

void config_includes_free(struct config_includes *incs);
