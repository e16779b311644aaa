#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"

static void die(const char *what)
{
    perror(what);
    abort();
}

void ns_fuzz_file_open(ns_fuzz_file *f, const uint8_t *data, size_t size)
{
    f->fd = memfd_create("ns-fuzz", MFD_CLOEXEC);
    if (f->fd < 0)
        die("fuzz: memfd_create");
    for (size_t done = 0; done < size;) {
        ssize_t w = write(f->fd, data + done, size - done);
        if (w <= 0)
            die("fuzz: write to memfd");
        done += (size_t)w;
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

void ns_fuzz_file_close(ns_fuzz_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

void ns_fuzz_quiet(void)
{
    ns_set_verbosity(-1);
}

char *ns_fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        die("fuzz: malloc");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}
