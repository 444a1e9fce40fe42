#include "control_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Deeper nesting than a request needs is refused by the tokenizer before
 * it allocates for it. */
#define CONTROL_JSON_DEPTH 4

static const char *const command_names[_CONTROL_COMMAND_MAX] = {
        [CONTROL_STATUS] = "status", [CONTROL_STATS] = "stats",   [CONTROL_STOP] = "stop",
        [CONTROL_KILL] = "kill",     [CONTROL_PAUSE] = "pause",   [CONTROL_RESUME] = "resume",
        [CONTROL_EVENTS] = "events",
};

const char *control_command_name(enum control_command cmd) {
        return cmd < _CONTROL_COMMAND_MAX ? command_names[cmd] : NULL;
}

int control_command_from_name(const char *name, enum control_command *ret) {
        for (int i = 0; i < _CONTROL_COMMAND_MAX; i++)
                if (strcmp(name, command_names[i]) == 0) {
                        *ret = (enum control_command)i;
                        return 0;
                }
        return -EINVAL;
}

static const char *check_request(json_object *o, enum control_command *ret_cmd) {
        json_object *version = NULL, *command = NULL;
        enum control_command cmd;

        if (!json_object_is_type(o, json_type_object))
                return "a request must be a JSON object";
        json_object_object_foreach(o, key, val) {
                (void)val;
                if (strcmp(key, "version") != 0 && strcmp(key, "command") != 0)
                        return "unknown key in the request (expected only version and command)";
        }
        if (!json_object_object_get_ex(o, "version", &version))
                return "no version in the request";
        if (!json_object_is_type(version, json_type_int))
                return "version must be an integer";
        if (json_object_get_int64(version) != CONTROL_VERSION)
                return "unsupported version (this vmlaunch speaks version 1)";
        if (!json_object_object_get_ex(o, "command", &command))
                return "no command in the request";
        if (!json_object_is_type(command, json_type_string))
                return "command must be a string";
        if (control_command_from_name(json_object_get_string(command), &cmd) < 0)
                return "unknown command (expected status, stats, stop, kill, pause, resume or events)";
        *ret_cmd = cmd;
        return NULL;
}

int control_request_parse(const char *line, size_t len, enum control_command *ret_cmd, const char **ret_error) {
        struct json_tokener *tok;
        enum json_tokener_error jerr;
        json_object *o;
        const char *why = NULL;
        size_t end;

        if (len >= CONTROL_LINE_MAX)
                why = "request too long";
        else if (memchr(line, '\0', len))
                why = "a NUL byte in the request";
        if (why) {
                *ret_error = why;
                return -EINVAL;
        }
        tok = json_tokener_new_ex(CONTROL_JSON_DEPTH);
        if (!tok) {
                *ret_error = "out of memory";
                return -ENOMEM;
        }
        o = json_tokener_parse_ex(tok, line, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success) {
                json_object_put(o);
                /* An incomplete object ("{" alone) is no request either. */
                *ret_error = jerr == json_tokener_error_depth ? "the request nests too deep" : "the request is not JSON";
                return -EINVAL;
        }
        for (; end < len; end++)
                if (!strchr(" \t\r", line[end])) {
                        why = "trailing bytes after the request";
                        break;
                }
        if (!why)
                why = check_request(o, ret_cmd);
        json_object_put(o);
        if (why) {
                *ret_error = why;
                return -EINVAL;
        }
        return 0;
}

size_t control_request_format(enum control_command cmd, char *buf, size_t size) {
        int n = snprintf(buf, size, "{\"version\":%d,\"command\":\"%s\"}\n", CONTROL_VERSION,
                         control_command_name(cmd) ? control_command_name(cmd) : "");

        return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

json_object *control_reply_new(bool ok) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int(CONTROL_VERSION));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        return o;
}

json_object *control_reply_error(const char *what) {
        json_object *o = control_reply_new(false);

        if (o)
                json_object_object_add(o, "error", json_object_new_string(what));
        return o;
}
