/* jail_probe: a plugin that inspects the jail it runs in and exits 0 when
 * everything matches, 1 otherwise, with one stderr line per finding.  It
 * does not talk the protocol: vmlaunch only sees it exit.
 *
 * Arguments: --ro DIR (a read-only bind: writing must fail with EROFS),
 *            --rw DIR (a writable bind: writing must work),
 *            --gid-map "INNER OUTER COUNT" (a line expected in gid_map),
 *            --seccomp (a filter must be loaded). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                 \
        do {                                                             \
                if (!(cond)) {                                           \
                        fprintf(stderr, "jail_probe: FAIL: " __VA_ARGS__); \
                        fputc('\n', stderr);                             \
                        failures++;                                      \
                }                                                        \
        } while (0)

/* The value of "Key:" in /proc/self/status, or "". */
static const char *status_field(const char *key) {
        static char value[128];
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");
        size_t klen = strlen(key);

        value[0] = '\0';
        if (!f)
                return value;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        const char *v = line + klen + 1;

                        v += strspn(v, " \t");
                        snprintf(value, sizeof(value), "%.*s", (int)strcspn(v, "\n"), v);
                        break;
                }
        }
        fclose(f);
        return value;
}

static void check_fds(void) {
        const char *sock = getenv("CROSVM_SOCKET");
        const char *lane = getenv("VMLAUNCH_LANE_FD");
        int sock_fd = sock ? atoi(sock) : -1;
        int lane_fd = lane ? atoi(lane) : -1;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;

        CHECK(d != NULL, "cannot list /proc/self/fd: %s", strerror(errno));
        if (!d)
                return;
        while ((e = readdir(d))) {
                int fd;

                if (e->d_name[0] == '.')
                        continue;
                fd = atoi(e->d_name);
                CHECK(fd <= 2 || fd == sock_fd || fd == lane_fd || fd == dirfd(d), "unexpected open fd %d", fd);
        }
        closedir(d);
        CHECK(sock_fd > 2 && fcntl(sock_fd, F_GETFD) >= 0, "the CROSVM_SOCKET fd (%s) is not open",
              sock ? sock : "unset");
        /* The lanes are shared with the launcher: a plugin that could
         * shrink them would fault it. */
        if (lane) {
                const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
                int seals = fcntl(lane_fd, F_GET_SEALS);

                CHECK(seals >= 0 && (seals & want) == want, "the lane memfd %d has seals %#x, not %#x", lane_fd,
                      (unsigned)seals, (unsigned)want);
                CHECK(ftruncate(lane_fd, 0) < 0 && errno == EPERM, "the lane memfd %d could be truncated", lane_fd);
        }
}

/* Only the four device nodes the jail binds. */
static void check_dev(void) {
        static const char *const allowed[] = { "full", "null", "urandom", "zero" };
        DIR *d = opendir("/dev");
        struct dirent *e;

        CHECK(d != NULL, "cannot list /dev: %s", strerror(errno));
        if (!d)
                return;
        while ((e = readdir(d))) {
                bool ok = false;

                if (e->d_name[0] == '.')
                        continue;
                for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
                        ok = ok || strcmp(e->d_name, allowed[i]) == 0;
                CHECK(ok, "unexpected /dev/%s", e->d_name);
        }
        closedir(d);
}

static void check_network(void) {
        char line[256];
        FILE *f = fopen("/proc/net/dev", "re");
        int n = 0;

        CHECK(f != NULL, "no /proc/net/dev");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                const char *name = line + strspn(line, " ");

                if (!strchr(line, ':'))
                        continue;       /* the two header lines */
                n++;
                CHECK(strncmp(name, "lo:", 3) == 0, "a network interface other than lo: %.*s",
                      (int)strcspn(name, ":"), name);
        }
        fclose(f);
        CHECK(n == 1, "expected only lo, saw %d interfaces", n);
}

static void check_write(const char *dir, bool want_ok) {
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/.jail_probe", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (want_ok) {
                CHECK(fd >= 0, "writing into the writable bind %s: %s", dir, strerror(errno));
                if (fd >= 0)
                        unlink(path);
        } else {
                CHECK(fd < 0 && errno == EROFS, "writing into the read-only bind %s: %s", dir,
                      fd >= 0 ? "succeeded" : strerror(errno));
        }
        if (fd >= 0)
                close(fd);
}

static void check_gid_map(const char *want) {
        char line[256];
        FILE *f = fopen("/proc/self/gid_map", "re");
        unsigned wi, wo, wc, i, o, c;
        bool found = false;

        if (sscanf(want, "%u %u %u", &wi, &wo, &wc) != 3) {
                CHECK(0, "bad --gid-map '%s'", want);
                return;
        }
        CHECK(f != NULL, "no gid_map");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%u %u %u", &i, &o, &c) == 3 && i == wi && o == wo && c == wc)
                        found = true;
        fclose(f);
        CHECK(found, "gid map line '%s' missing", want);
}

int main(int argc, char **argv) {
        struct statvfs sv;
        bool want_seccomp = false;

        CHECK(getuid() == 0 && getgid() == 0, "uid/gid inside are %u/%u, want 0/0", getuid(), getgid());
        CHECK(getpid() == 1, "pid inside is %d, want 1 (a new pid namespace)", getpid());
        CHECK(strcmp(status_field("CapEff"), "0000000000000000") == 0, "CapEff %s", status_field("CapEff"));
        CHECK(strcmp(status_field("CapPrm"), "0000000000000000") == 0, "CapPrm %s", status_field("CapPrm"));
        CHECK(strcmp(status_field("CapInh"), "0000000000000000") == 0, "CapInh %s", status_field("CapInh"));
        CHECK(strcmp(status_field("CapBnd"), "0000000000000000") == 0, "CapBnd %s", status_field("CapBnd"));
        CHECK(strcmp(status_field("CapAmb"), "0000000000000000") == 0, "CapAmb %s", status_field("CapAmb"));
        CHECK(strcmp(status_field("NoNewPrivs"), "1") == 0, "NoNewPrivs %s", status_field("NoNewPrivs"));
        CHECK(access("/etc/passwd", F_OK) < 0, "the host's /etc/passwd is visible");
        CHECK(access("/dev/null", W_OK) == 0, "/dev/null is not writable");
        CHECK(access("/dev/urandom", R_OK) == 0, "/dev/urandom is not readable");
        CHECK(statvfs("/proc", &sv) == 0 && (sv.f_flag & ST_RDONLY), "/proc is not read-only");
        CHECK(statvfs("/", &sv) == 0 && (sv.f_flag & ST_NOEXEC) && (sv.f_flag & ST_NODEV) &&
                      (sv.f_flag & ST_NOSUID),
              "the root is not a nosuid,nodev,noexec tmpfs");
        check_fds();
        check_network();
        check_dev();
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--ro") == 0 && i + 1 < argc)
                        check_write(argv[++i], false);
                else if (strcmp(argv[i], "--rw") == 0 && i + 1 < argc)
                        check_write(argv[++i], true);
                else if (strcmp(argv[i], "--gid-map") == 0 && i + 1 < argc)
                        check_gid_map(argv[++i]);
                else if (strcmp(argv[i], "--seccomp") == 0)
                        want_seccomp = true;
                else
                        CHECK(0, "unknown argument %s", argv[i]);
        }
        if (want_seccomp)
                CHECK(strcmp(status_field("Seccomp"), "2") == 0, "Seccomp %s, want 2 (filter)",
                      status_field("Seccomp"));
        if (failures == 0)
                fprintf(stderr, "jail_probe: all checks passed\n");
        return failures ? 1 : 0;
}
