#include "synthetic_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <noisystudent/rng.h>

#include "io/safetensors.h"

static void be32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static int write_split(const char *dir, const char *prefix, int per_class, unsigned seed, int signal, int noise)
{
    const int classes = 4, side = 8, n = per_class * classes;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *fi = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *fl = fopen(path, "wb");
    if (!fi || !fl)
        return -1;
    be32(fi, 0x803);
    be32(fi, (uint32_t)n);
    be32(fi, side);
    be32(fi, side);
    be32(fl, 0x801);
    be32(fl, (uint32_t)n);
    ns_rng r = ns_rng_make(seed, prefix[0]);
    for (int i = 0; i < n; i++) {
        int k = i % classes;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                int q = (y >= side / 2) * 2 + (x >= side / 2);
                int v = (q == k ? signal : 0) + (int)ns_rng_below(&r, (uint32_t)noise);
                v = v > 255 ? 255 : v;
                fputc(v, fi);
            }
        fputc(k, fl);
    }
    int bad = ferror(fi) || ferror(fl);
    fclose(fi);
    fclose(fl);
    return bad ? -1 : 0;
}

int ns_test_write_synthetic_hard(const char *dir, int per_class_train, int per_class_test, unsigned seed, int signal,
                                 int noise)
{
    mkdir(dir, 0755);
    if (write_split(dir, "train", per_class_train, seed, signal, noise) != 0)
        return -1;
    return write_split(dir, "t10k", per_class_test, seed + 1, signal, noise);
}

int ns_test_write_synthetic(const char *dir, int per_class_train, int per_class_test, unsigned seed)
{
    /* Bright quadrant 130..189 over a background of 0..59: easy. */
    return ns_test_write_synthetic_hard(dir, per_class_train, per_class_test, seed, 130, 60) == 0 ? 0 : -1;
}

void ns_test_fresh_dir(const char *name, char *buf, unsigned long len)
{
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(buf, len, "%s/%s", tmp ? tmp : "/tmp", name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd) != 0)
        fprintf(stderr, "could not empty %s\n", buf);
    mkdir(buf, 0755);
}

int ns_test_same_weights(const char *a, const char *b)
{
    ns_safetensors *fa = NULL, *fb = NULL;
    if (ns_safetensors_open(a, &fa) != NS_OK || ns_safetensors_open(b, &fb) != NS_OK) {
        ns_safetensors_close(fa);
        return 0;
    }
    int same = ns_safetensors_count(fa) == ns_safetensors_count(fb);
    for (size_t i = 0; same && i < ns_safetensors_count(fa); i++) {
        const ns_st_view *va = ns_safetensors_tensor(fa, i);
        const ns_st_view *vb = ns_safetensors_find(fb, va->name);
        same = vb && va->nbytes == vb->nbytes && memcmp(va->data, vb->data, va->nbytes) == 0;
    }
    ns_safetensors_close(fa);
    ns_safetensors_close(fb);
    return same;
}
