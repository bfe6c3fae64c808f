/* A model file truncated while tessera uses it.
 *
 * Weights are read through mmap. When the file shrinks under the mapping
 * (`truncate`, or `cp other.gguf model.gguf`, which truncates first), the
 * next read of a page past the new end raises SIGBUS, and by default the
 * process dies without a word, its output cut mid-stream. This handler
 * turns that into a message naming the file and exit 1.
 *
 * Only async-signal-safe calls: the file is found by reading
 * /proc/self/maps with open/read and parsing it by hand, the message goes
 * out with write(2), and the process ends with _exit. What was generated is
 * already out: the run command flushes stdout after every piece of text. A
 * SIGBUS whose address is in no file mapping is a fault of another kind: it
 * is raised again with the default action.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void write_text(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads hex digits at *p into *value; false when there are none. */
static bool parse_hex(const char **p, const char *end, uintptr_t *value)
{
    const char *s = *p;
    uintptr_t v = 0;
    for (; s < end; s++) {
        char c = *s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (uintptr_t)d;
    }
    if (s == *p)
        return false;
    *p = s;
    *value = v;
    return true;
}

/* One line of /proc/self/maps: "start-end perms offset dev inode   path".
 * Copies path to out when the line maps addr from a file. */
static bool line_maps(const char *line, const char *end, uintptr_t addr, char *out,
                      size_t out_bytes)
{
    uintptr_t start, stop;
    const char *p = line;
    if (!parse_hex(&p, end, &start) || p == end || *p++ != '-' || !parse_hex(&p, end, &stop))
        return false;
    if (addr < start || addr >= stop)
        return false;
    for (int field = 0; field < 4; field++) { /* perms, offset, dev, inode */
        while (p < end && *p == ' ')
            p++;
        while (p < end && *p != ' ')
            p++;
    }
    while (p < end && *p == ' ')
        p++;
    if (p == end || *p != '/')
        return false;
    size_t n = (size_t)(end - p);
    if (n >= out_bytes)
        n = out_bytes - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* The file mapped at addr, from /proc/self/maps; false when none is. */
static bool mapped_file(uintptr_t addr, char *out, size_t out_bytes)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static char buf[8192]; /* one signal at a time: the handler ends the process */
    size_t have = 0;
    bool found = false;
    for (;;) {
        ssize_t got = read(fd, buf + have, sizeof buf - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        char *line = buf, *nl;
        while (!found && (nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
            found = line_maps(line, nl, addr, out, out_bytes);
            line = nl + 1;
        }
        if (found)
            break;
        have = (size_t)(buf + have - line);
        if (have == sizeof buf) /* a line longer than the buffer: not ours to parse */
            have = 0;
        memmove(buf, line, have);
    }
    close(fd);
    return found;
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    char path[4096];
    if (!info || !mapped_file((uintptr_t)info->si_addr, path, sizeof path)) {
        signal(SIGBUS, SIG_DFL);
        raise(SIGBUS);
        return;
    }
    write_text(STDOUT_FILENO, "\n");
    write_text(STDERR_FILENO, "tessera: ");
    write_text(STDERR_FILENO, path);
    write_text(STDERR_FILENO, ": the model file was truncated or replaced while in use; "
                              "stopped (replace a file tessera may be reading by writing a "
                              "new one and renaming it over the old, never in place)\n");
    _exit(CLI_EXIT_FAILURE);
}

void cli_catch_sigbus(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, NULL);
}
