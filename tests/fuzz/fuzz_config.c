/* libFuzzer: config_load_buffer over mutated config text.  The input is
 * the text; when it holds a NUL, the bytes after the last NUL are one
 * --set override and the text ends before it.  Loading must never crash,
 * hang or leak; what loads must print as a config that loads again and
 * prints the same (config_print's promise).
 *
 * Relative paths resolve against a scratch directory made at start-up:
 * an executable "plugin", an includable "common.conf", a FIFO and a
 * directory (which @include must refuse without blocking).  When the
 * first corpus directory given is empty, seeds are written into it: the
 * shipped conf/reference.conf and conf/hello.conf and a few of the schema's corners. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's scanner drops the string it holds when a syntax error
 * stops the parse (its strbuf, or a string token the parser never took):
 * libconfig's leak, a few bytes per failed parse, not ours.  A tree we
 * failed to destroy would still show, through the settings the parser
 * allocates. */
const char *__lsan_default_suppressions(void) {
        return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static char scratch[] = "/tmp/vmlaunch-fuzz-config-XXXXXX";
static FILE *devnull;

static void put(const char *dir, const char *name, const char *text, mode_t mode) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
        chmod(path, mode);
}

static void remove_scratch(void) {
        static const char *const names[] = { "plugin", "common.conf", "fifo", "dir" };
        char path[4096];

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", scratch, names[i]);
                if (unlink(path) < 0)
                        rmdir(path);
        }
        rmdir(scratch);
}

static bool dir_empty(const char *path) {
        DIR *d = opendir(path);
        struct dirent *e;
        bool empty = true;

        if (!d)
                return false;
        while (empty && (e = readdir(d)))
                empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
        closedir(d);
        return empty;
}

static void copy_seed(const char *corpus, const char *name, const char *from) {
        char text[65536];
        size_t n;
        FILE *f = fopen(from, "r");

        if (!f)
                return;
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        put(corpus, name, text, 0644);
}

static void write_seeds(const char *corpus) {
        static const char *const seeds[] = {
                "plugin = { path = \"plugin\"; env = [ \"A=1\", \"B_2=x=y\" ];\n"
                "  mounts = ( { src = \"/usr\"; dst = \"/u\"; writable = true; }, { src = \"/etc\"; } );\n"
                "  gid_maps = ( { inner = 1000; outer = 1000; count = 2; } ); };\n"
                "limits = { tasks = 0; memory_mib = 4096; cgroup_parent = \"/system.slice/x.service\"; nofile = 64;\n"
                "  connections = 8; memory_regions = 16; guest_memory_mib = 1024; ranges = 32; irq_events = 64; };\n",
                "name = \"h\\xc3\\xa9\";\nvcpus = 4;\nplugin = { path = \"plugin\"; };\n@include \"common.conf\"\n"
                "/* @include \"fifo\" */\n",
                "plugin = { path = \"plugin\"; };\nnetwork = { host_ip = \"192.168.50.1\"; netmask = \"255.255.255.0\";"
                " mac = \"de:21:e8:47:6b:6a\"; };\n",
                "plugin = { path = \"plugin\"; };\nnetwork = { tap_fds = [ 5, 6 ]; };\nsandbox = { enabled = false; };\n",
                "plugin = { path = \"plugin\"; };\nnetwork = { tap_name = \"vmtap0\"; };\nlane = false; poll_us = 0;\n",
        };
        char name[32];

        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                snprintf(name, sizeof(name), "seed-%zu", i);
                put(corpus, name, seeds[i], 0644);
        }
        /* With an override after the NUL. */
        {
                static const char text[] = "plugin = { path = \"plugin\"; };\n\0limits.tasks=7";
                char path[4096];
                FILE *f;

                snprintf(path, sizeof(path), "%s/seed-set", corpus);
                f = fopen(path, "w");
                if (!f)
                        abort();
                fwrite(text, 1, sizeof(text) - 1, f);
                fclose(f);
        }
        copy_seed(corpus, "seed-reference", VMLAUNCH_SOURCE_DIR "/conf/reference.conf");
        copy_seed(corpus, "seed-hello", VMLAUNCH_SOURCE_DIR "/conf/hello.conf");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char path[4096];

        unsetenv("VMLAUNCH_POLL_US");
        devnull = fopen("/dev/null", "we");
        if (!devnull || !mkdtemp(scratch))
                abort();
        atexit(remove_scratch);
        put(scratch, "plugin", "#!/bin/sh\n", 0755);
        put(scratch, "common.conf", "hugepages = true;\nshutdown_timeout_ms = 50;\n", 0644);
        snprintf(path, sizeof(path), "%s/fifo", scratch);
        if (mkfifo(path, 0600) < 0)
                abort();
        snprintf(path, sizeof(path), "%s/dir", scratch);
        if (mkdir(path, 0700) < 0)
                abort();
        for (int i = 1; i < *argc; i++)
                if ((*argv)[i][0] != '-') {
                        if (dir_empty((*argv)[i]))
                                write_seeds((*argv)[i]);
                        break;
                }
        return 0;
}

static char *print(const struct vm_config *cfg, size_t *ret_len) {
        char *text = NULL;
        FILE *f = open_memstream(&text, ret_len);

        if (!f || config_print(cfg, f) < 0)
                abort();
        fclose(f);
        return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *)data;
        const uint8_t *nul = size ? memrchr(data, '\0', size) : NULL;
        char *set = NULL, *printed, *again;
        struct vm_config *cfg = NULL, *cfg2 = NULL;
        size_t len = size, n_sets = 0, plen, alen;

        if (nul) {
                len = (size_t)(nul - data);
                set = strndup((const char *)nul + 1, size - len - 1);
                if (!set)
                        return 0;
                n_sets = 1;
        }
        if (config_load_buffer(text, len, "fuzz.conf", scratch, &set, n_sets, devnull, &cfg) < 0) {
                free(set);
                return 0;
        }
        free(set);
        printed = print(cfg, &plen);
        if (config_load_buffer(printed, plen, "fuzz.conf", scratch, NULL, 0, stderr, &cfg2) < 0) {
                fprintf(stderr, "the printed config does not load:\n%s\n", printed);
                abort();
        }
        again = print(cfg2, &alen);
        if (alen != plen || memcmp(printed, again, plen) != 0) {
                fprintf(stderr, "printed twice, differently:\n%s\n---\n%s\n", printed, again);
                abort();
        }
        free(printed);
        free(again);
        config_free(cfg);
        config_free(cfg2);
        return 0;
}
