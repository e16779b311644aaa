/* gen_scale_pool: a large 32x32x3 image pool made from Fashion-MNIST, for the
 * scale benchmark (bench/scale/run.sh). Not a test.
 *
 *   gen_scale_pool train|test N IMAGES.idx LABELS.idx [SEED]
 *
 * Image i is Fashion-MNIST image (i mod count) of the split, made different
 * by a variant drawn from (SEED, i): a crop of 22..28 pixels at a random
 * place, resized to 32x32 (image_load.h's antialiased bilinear), shifted by
 * -3..3 pixels, and coloured: foreground and background each a random RGB
 * colour, mixed by the gray value. Written as IDX (magic 0x00000804: n, h, w,
 * c uint8) plus IDX labels, streamed in batches: the pool is never in memory
 * (the source split is, 47 MB). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/source.h"
#include "data/image_load.h"
#include "util/error.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One variant of a 28x28 gray image as 32x32x3. */
static int variant(const uint8_t *src, int sh, int sw, uint64_t r, uint8_t *out)
{
    int crop = 22 + (int)(r % 7);
    r = mix(r);
    int cy = (int)(r % (uint64_t)(sh - crop + 1)), cx = (int)((r >> 16) % (uint64_t)(sw - crop + 1));
    r = mix(r);
    int dy = (int)(r % 7) - 3, dx = (int)((r >> 8) % 7) - 3;
    r = mix(r);
    uint8_t fg[3] = {(uint8_t)(128 + (r & 127)), (uint8_t)(128 + ((r >> 8) & 127)), (uint8_t)(128 + ((r >> 16) & 127))};
    uint8_t bg[3] = {(uint8_t)((r >> 24) & 95), (uint8_t)((r >> 32) & 95), (uint8_t)((r >> 40) & 95)};
    uint8_t cropbuf[28 * 28], big[32 * 32];
    for (int y = 0; y < crop; y++)
        memcpy(cropbuf + y * crop, src + (cy + y) * sw + cx, (size_t)crop);
    if (ns_image_resize(cropbuf, crop, crop, 1, big, 32, 32) != NS_OK)
        return -1;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            int sy = y - dy, sx = x - dx;
            int g = (sy >= 0 && sy < 32 && sx >= 0 && sx < 32) ? big[sy * 32 + sx] : 0;
            for (int k = 0; k < 3; k++)
                out[(y * 32 + x) * 3 + k] = (uint8_t)((fg[k] * g + bg[k] * (255 - g) + 127) / 255);
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "train") && strcmp(argv[1], "test"))) {
        fprintf(stderr, "usage: gen_scale_pool train|test N IMAGES.idx LABELS.idx [SEED]\n");
        return 2;
    }
    const uint64_t n = strtoull(argv[2], NULL, 10);
    const uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
    if (n == 0 || n > 0xffffffffull) {
        fprintf(stderr, "gen_scale_pool: N %s, expected 1..2^32-1\n", argv[2]);
        return 2;
    }
    ns_dataset d;
    if (ns_dataset_open("fashion-mnist", strcmp(argv[1], "train") == 0, &d) != NS_OK) {
        fprintf(stderr, "gen_scale_pool: %s\n", ns_last_error());
        return 1;
    }
    FILE *fi = fopen(argv[3], "wb"), *fl = fopen(argv[4], "wb");
    if (!fi || !fl) {
        fprintf(stderr, "gen_scale_pool: cannot create %s / %s\n", argv[3], argv[4]);
        return 1;
    }
    uint8_t hdr[20];
    be32(hdr, 0x00000804u);
    be32(hdr + 4, (uint32_t)n);
    be32(hdr + 8, 32);
    be32(hdr + 12, 32);
    be32(hdr + 16, 3);
    fwrite(hdr, 1, 20, fi);
    be32(hdr, 0x00000801u);
    be32(hdr + 4, (uint32_t)n);
    fwrite(hdr, 1, 8, fl);
    enum { BATCH = 4096 };
    uint8_t *img = malloc((size_t)BATCH * 3072), *lab = malloc(BATCH);
    int bad = !img || !lab;
    for (uint64_t i = 0; !bad && i < n; i += BATCH) {
        size_t m = n - i < BATCH ? (size_t)(n - i) : BATCH;
        for (size_t j = 0; j < m; j++) {
            size_t base = (size_t)((i + j) % d.n);
            bad |= variant(ns_dataset_image(&d, base), d.h, d.w, mix(seed * 0x1000003ull + i + j), img + j * 3072);
            lab[j] = (uint8_t)d.labels[base];
        }
        bad |= fwrite(img, 3072, m, fi) != m || fwrite(lab, 1, m, fl) != m;
    }
    bad |= fclose(fi) != 0;
    bad |= fclose(fl) != 0;
    free(img);
    free(lab);
    ns_dataset_free(&d);
    if (bad) {
        fprintf(stderr, "gen_scale_pool: writing failed (disk full?)\n");
        return 1;
    }
    return 0;
}
