/* Applies the Pillow-exact kernels to the cases pil_parity.py writes, one case
 * per line: "<op> <param> <w> <h> <c> <hex pixels>", and prints the resulting
 * pixels as hex, one line per case. The script compares them with Pillow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/augment/common/pil_ops.h"

static int hexval(int ch) { return ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10; }

static int apply(const char *op, double p, ns_image *img, uint8_t *scratch)
{
    uint8_t lut[256];
    if (!strcmp(op, "autocontrast"))
        pil_autocontrast(img);
    else if (!strcmp(op, "equalize"))
        pil_equalize(img);
    else if (!strcmp(op, "invert"))
        pil_lut_invert(lut), pil_lut_apply(img, lut);
    else if (!strcmp(op, "posterize"))
        pil_lut_posterize(lut, (int)p), pil_lut_apply(img, lut);
    else if (!strcmp(op, "solarize"))
        pil_lut_solarize(lut, p), pil_lut_apply(img, lut);
    else if (!strcmp(op, "brightness"))
        pil_brightness(img, (float)p);
    else if (!strcmp(op, "contrast"))
        pil_contrast(img, (float)p);
    else if (!strcmp(op, "color"))
        pil_color(img, scratch, (float)p);
    else if (!strcmp(op, "sharpness"))
        pil_sharpness(img, scratch, (float)p);
    else if (!strcmp(op, "rotate"))
        pil_rotate(img, scratch, p);
    else if (!strcmp(op, "shear_x") || !strcmp(op, "shear_y") || !strcmp(op, "translate_x") ||
             !strcmp(op, "translate_y")) {
        double m[6] = {1, 0, 0, 0, 1, 0};
        m[!strcmp(op, "shear_x") ? 1 : !strcmp(op, "shear_y") ? 3 : !strcmp(op, "translate_x") ? 2 : 5] = p;
        pil_affine(img, scratch, m);
    } else
        return -1;
    return 0;
}

int main(void)
{
    static char line[1 << 20];
    static uint8_t data[1 << 18], scratch[1 << 18];
    char op[32];
    double p;
    int w, h, c, off;
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%31s %lf %d %d %d %n", op, &p, &w, &h, &c, &off) != 5 || (size_t)w * h * c > sizeof data)
            return fprintf(stderr, "bad case line\n"), 2;
        size_t n = (size_t)w * h * c;
        for (size_t i = 0; i < n; i++)
            data[i] = (uint8_t)(hexval(line[off + 2 * i]) << 4 | hexval(line[off + 2 * i + 1]));
        ns_image img = {data, w, h, c};
        if (apply(op, p, &img, scratch))
            return fprintf(stderr, "unknown op %s\n", op), 2;
        for (size_t i = 0; i < n; i++)
            printf("%02x", data[i]);
        putchar('\n');
    }
    return 0;
}
