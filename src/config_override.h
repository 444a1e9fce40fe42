/* --set KEY=VALUE: command-line overrides of the config's scalar keys,
 * applied to libconfig's tree before the schema reads it, so that an
 * override is checked exactly as the same key in the file would be. */
#pragma once

#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>

struct config_override {
        const char *text;       /* "key=value" as given; not owned */
        char *key;              /* owned; set once applied, so a refused one has none */
};

/* Applies ov[i] to `lc`, creating its group as needed, with the value
 * parsed as the key's type.  Refuses a malformed one, a key that is not a
 * scalar key of the schema, and a key ov[0..i-1] already set (which of two
 * would win is a guess).  Returns 0; -EINVAL after writing one line to
 * `errors` (may be NULL), e.g. "--set vcpus: expected KEY=VALUE"; or
 * -ENOMEM. */
int config_override_apply(config_t *lc, struct config_override *ov, size_t i, FILE *errors);

/* The override that set `key` among ov[0..n-1], or NULL. */
const struct config_override *config_override_find(const struct config_override *ov, size_t n, const char *key);
