/* bench_image_resize: our antialiased bilinear (ns_image_resize) against
 * Debian's stb_image_resize v1 (libstb-dev, default Mitchell/Catmull-Rom and
 * its triangle filter) on one raw HWC uint8 image. Writes each result next
 * to the others for resize_quality.py to compare with Pillow, and prints
 * microseconds per resize measured in this run (a ratio to ours, so the
 * machine's speed cancels).
 *
 *   bench_image_resize IN.raw H W C OUTDIR DH DW [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "data/image_load.h"
#include "util/clock.h"

static int save(const char *dir, const char *name, const unsigned char *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.raw", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "bench_image_resize: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

enum { OURS, STB_DEFAULT, STB_TRIANGLE, N_METHODS };
static const char *const method_name[N_METHODS] = {"ours", "stb_default", "stb_triangle"};

static int run(int m, const unsigned char *in, int h, int w, int c, unsigned char *out, int dh, int dw)
{
    switch (m) {
    case OURS:
        return ns_image_resize(in, h, w, c, out, dh, dw) == NS_OK ? 0 : -1;
    case STB_DEFAULT:
        return stbir_resize_uint8(in, w, h, 0, out, dw, dh, 0, c) ? 0 : -1;
    default:
        return stbir_resize_uint8_generic(in, w, h, 0, out, dw, dh, 0, c, STBIR_ALPHA_CHANNEL_NONE, 0,
                                          STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, NULL)
                   ? 0
                   : -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: bench_image_resize IN.raw H W C OUTDIR DH DW [REPEATS]\n");
        return 2;
    }
    const int h = atoi(argv[2]), w = atoi(argv[3]), c = atoi(argv[4]), dh = atoi(argv[6]), dw = atoi(argv[7]);
    const int reps = argc > 8 ? atoi(argv[8]) : 50;
    if (h < 1 || w < 1 || c < 1 || c > 4 || dh < 1 || dw < 1 || reps < 1) {
        fprintf(stderr, "bench_image_resize: bad sizes\n");
        return 2;
    }
    const size_t n_in = (size_t)h * w * c, n_out = (size_t)dh * dw * c;
    unsigned char *in = malloc(n_in), *out = malloc(n_out);
    FILE *f = fopen(argv[1], "rb");
    if (!in || !out || !f || fread(in, 1, n_in, f) != n_in) {
        fprintf(stderr, "bench_image_resize: cannot read %zu bytes from %s\n", n_in, argv[1]);
        return 1;
    }
    fclose(f);
    double us[N_METHODS];
    for (int m = 0; m < N_METHODS; m++) {
        if (run(m, in, h, w, c, out, dh, dw) || save(argv[5], method_name[m], out, n_out))
            return 1;
        double t0 = ns_now();
        for (int r = 0; r < reps; r++)
            run(m, in, h, w, c, out, dh, dw);
        us[m] = (ns_now() - t0) / reps * 1e6;
    }
    for (int m = 0; m < N_METHODS; m++)
        printf("%s_us %.1f ratio_to_ours %.2f\n", method_name[m], us[m], us[m] / us[OURS]);
    free(in);
    free(out);
    return 0;
}
