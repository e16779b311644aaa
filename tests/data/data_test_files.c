#include "data_test_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

const char *tf_path(const char *name)
{
    static char bufs[8][1024];
    static int next;
    const char *tmp = getenv("NS_TEST_TMP");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char dir[900];
    snprintf(dir, sizeof dir, "%s/data-%d", tmp, (int)getpid());
    mkdir(dir, 0755);
    char *out = bufs[next++ % 8];
    snprintf(out, 1024, "%s/%s", dir, name);
    return out;
}

int tf_write(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g)
            return -1;
        int ok = n == 0 || gzwrite(g, data, (unsigned)n) == (int)n;
        return gzclose(g) == Z_OK && ok ? 0 : -1;
    }
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(data, 1, n, fp);
    return fclose(fp) == 0 && w == n ? 0 : -1;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t tf_idx_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t h, uint32_t w)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, h);
    put_be32(buf + 12, w);
    size_t total = (size_t)n * h * w;
    for (size_t k = 0; k < total; k++)
        buf[16 + k] = tf_pixel(k);
    return 16 + total;
}

size_t tf_idx_labels(uint8_t *buf, uint32_t n, int classes)
{
    put_be32(buf, 0x00000801u);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i % (uint32_t)classes);
    return 8 + n;
}
