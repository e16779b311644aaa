/* A third-party augmentation op set: additive Gaussian noise and Gaussian blur.
 *
 * Everything it needs comes from the installed SDK (noisystudent/augment.h,
 * which pulls in plugin.h, rng.h and status.h). It shows the four things a
 * plugin author writes: the ops, the magnitude mapping, an optional context
 * made from options (create/destroy), and the descriptor behind
 * ns_plugin_entry. See docs/plugin-guide.md.
 *
 * Magnitude (RandAugment scale, 10 = nominal, not clamped):
 *   gaussian_noise  sigma = noise_scale * magnitude grey levels (noise_scale=3: m=10 -> 30)
 *   gaussian_blur   sigma = blur_scale * magnitude / 10 pixels (blur_scale=1: m=10 -> 1 px),
 *                   kernel radius ceil(3 sigma) limited to 8, edges clamped
 * Options (the --augment keys the host does not use): noise_scale=NUM, blur_scale=NUM.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noisystudent/augment.h>

#define MAX_RADIUS 8

typedef struct noise_ctx {
    const ns_host_api *host; /* for set_error from the ops; the host prefixes the
                              * set and op ("augment noise op 'gaussian_blur': "),
                              * so messages do not repeat them */
    float noise_scale;
    float blur_scale;
} noise_ctx;

/* "noise_scale=3,blur_scale=1": anything else is an error naming the key. */
static ns_status noise_create(const ns_host_api *host, const char *options, void **out)
{
    noise_ctx *c = malloc(sizeof *c);
    if (!c) {
        host->set_error("out of memory for the context");
        return NS_ERR_NOMEM;
    }
    c->host = host;
    c->noise_scale = 3.0f;
    c->blur_scale = 1.0f;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", options ? options : "");
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0.0;
        if (eq)
            *eq = '\0';
        float *slot = !eq ? NULL : !strcmp(kv, "noise_scale") ? &c->noise_scale
                                 : !strcmp(kv, "blur_scale")  ? &c->blur_scale : NULL;
        if (!slot || end == eq + 1 || *end || !(v >= 0.0 && v <= 100.0)) {
            host->set_error("option '%s' not understood (accepted: noise_scale=0..100, blur_scale=0..100)", kv);
            free(c);
            return NS_ERR_USAGE;
        }
        *slot = (float)v;
    }
    *out = c;
    return NS_OK;
}

static void noise_destroy(void *ctx) { free(ctx); }

static uint8_t clamp_u8(float v) { return (uint8_t)(v < 0.0f ? 0 : v > 255.0f ? 255 : (int)(v + 0.5f)); }

/* Box-Muller: two standard normals from two uniforms of this image's rng. */
static void normal_pair(ns_rng *rng, float *a, float *b)
{
    float u1 = 1.0f - ns_rng_uniform(rng); /* (0, 1]: log is finite */
    float u2 = ns_rng_uniform(rng);
    float r = sqrtf(-2.0f * logf(u1));
    *a = r * cosf(6.2831853f * u2);
    *b = r * sinf(6.2831853f * u2);
}

static ns_status op_gaussian_noise(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)scratch;
    const noise_ctx *c = ctx;
    float sigma = c->noise_scale * magnitude;
    if (!isfinite(sigma) || sigma < 0.0f) {
        c->host->set_error("magnitude %g gives sigma %g, expected a finite value >= 0",
                           (double)magnitude, (double)sigma);
        return NS_ERR_INVALID_ARG;
    }
    if (sigma == 0.0f)
        return NS_OK;
    size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i += 2) {
        float a, b;
        normal_pair(rng, &a, &b);
        img->data[i] = clamp_u8(img->data[i] + sigma * a);
        if (i + 1 < n)
            img->data[i + 1] = clamp_u8(img->data[i + 1] + sigma * b);
    }
    return NS_OK;
}

/* One separable pass: dst[i] = sum_k w[k] * src[clamp(i + k)] along one axis. */
static void blur_pass(const uint8_t *src, uint8_t *dst, int w, int h, int c, const float *wt, int radius,
                      int horizontal)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0.0f;
                for (int k = -radius; k <= radius; k++) {
                    int sx = horizontal ? x + k : x, sy = horizontal ? y : y + k;
                    sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
                    sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
                    acc += wt[k + radius] * src[((size_t)sy * w + sx) * c + ch];
                }
                dst[((size_t)y * w + x) * c + ch] = clamp_u8(acc);
            }
}

static ns_status op_gaussian_blur(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)rng;
    const noise_ctx *c = ctx;
    float sigma = c->blur_scale * magnitude / 10.0f;
    if (!isfinite(sigma) || sigma < 0.0f) {
        c->host->set_error("magnitude %g gives sigma %g px, expected a finite value >= 0",
                           (double)magnitude, (double)sigma);
        return NS_ERR_INVALID_ARG;
    }
    if (sigma < 0.1f)
        return NS_OK; /* narrower than a pixel: the identity */
    int radius = (int)ceilf(3.0f * sigma);
    radius = radius > MAX_RADIUS ? MAX_RADIUS : radius;
    float wt[2 * MAX_RADIUS + 1], sum = 0.0f;
    for (int k = -radius; k <= radius; k++)
        sum += wt[k + radius] = expf(-(float)(k * k) / (2.0f * sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++)
        wt[k] /= sum;
    /* horizontal into scratch, vertical back into the image: no allocation */
    blur_pass(img->data, scratch, img->width, img->height, img->channels, wt, radius, 1);
    blur_pass(scratch, img->data, img->width, img->height, img->channels, wt, radius, 0);
    return NS_OK;
}

static const ns_augment_op ops[] = {
    {"gaussian_noise", "add N(0, sigma) per value, sigma = noise_scale*m grey levels", op_gaussian_noise},
    {"gaussian_blur", "separable Gaussian blur, sigma = blur_scale*m/10 px", op_gaussian_blur},
};

static const ns_augment_api api = {
    .struct_size = sizeof(ns_augment_api),
    .create = noise_create,
    .destroy = noise_destroy,
    .n_ops = sizeof ops / sizeof ops[0],
    .ops = ops,
};

static const ns_plugin descriptor = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_AUGMENT,
    .name = "noise",
    .version = "0.1.0",
    .description = "example third-party op set: Gaussian noise and blur",
    .probe = NULL,
    .vtable = &api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
