#include "parity_nonfinite.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

enum { NBUF = 4 };
static const size_t sizes[NBUF] = {1, 17, 1000, 65537};

/* Buffers of Philox values in [-2, 2) with NaN/+Inf/-Inf planted at known
 * places; *planted gets how many sit inside the first `counted[i]` floats of
 * each (the tail of the last buffer is left out of the call on purpose, with
 * a NaN in it that must not be counted). */
static void make_buffers(parity_pair *p, parity_buf *bufs, size_t *counted, uint64_t *planted)
{
    *planted = 0;
    for (int i = 0; i < NBUF; i++) {
        size_t n = sizes[i];
        float *h = parity_alloc(n);
        parity_fill(h, n, 4200 + (uint64_t)i, 1, -2.0f, 2.0f);
        counted[i] = i == NBUF - 1 ? n - 10 : n;
        if (i == 0) { /* a one-float buffer with an Inf */
            h[0] = INFINITY;
            (*planted)++;
        } else if (i == 1) { /* clean */
        } else {
            size_t at[] = {0, 3, n / 2, counted[i] - 1};
            for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
                h[at[k]] = k % 3 == 0 ? NAN : k % 3 == 1 ? INFINITY : -INFINITY;
                (*planted)++;
            }
            if (i == NBUF - 1)
                h[n - 1] = NAN; /* beyond the counted extent */
        }
        bufs[i] = parity_buf_new(p, h, n);
        free(h);
    }
}

static uint64_t fused(parity_pair *p, int side, const parity_buf *bufs, const size_t *counted,
                      size_t count, const int *order)
{
    const ns_buf *xs[2 * NBUF];
    size_t ns[2 * NBUF];
    for (size_t i = 0; i < count; i++) {
        xs[i] = bufs[order[i]].b[side];
        ns[i] = counted[order[i]];
    }
    uint64_t n = 12345;
    parity_ok(p, side, "count_nonfinite",
              ns_backend_count_nonfinite(p->be[side], count, xs, ns, &n));
    return n;
}

void parity_nonfinite_run(parity_pair *p)
{
    parity_buf bufs[NBUF];
    size_t counted[NBUF];
    uint64_t planted;
    make_buffers(p, bufs, counted, &planted);
    const int order[2 * NBUF] = {0, 1, 2, 3, 3, 2, 1, 0}; /* each buffer twice */
    for (int side = 0; side < 2; side++) {
        uint64_t all = fused(p, side, bufs, counted, NBUF, order);
        if (all != planted)
            fail_msg("count_nonfinite on %s: %llu over %d buffers, %llu planted",
                     p->be[side]->name, (unsigned long long)all, NBUF,
                     (unsigned long long)planted);
        uint64_t twice = fused(p, side, bufs, counted, 2 * NBUF, order);
        assert_int_equal(twice, 2 * planted);
        assert_int_equal(fused(p, side, bufs, counted, 0, order), 0);
        assert_int_equal(fused(p, side, bufs, counted, 1, order + 1), 0); /* the clean one */
        /* the host's default path on the same buffers agrees */
        uint64_t by_reduce = 0;
        for (int i = 0; i < NBUF; i++) {
            ns_reduce_result r;
            parity_ok(p, side, "reduce",
                      ns_backend_reduce(p->be[side], bufs[i].b[side], counted[i], &r));
            by_reduce += r.nonfinite;
        }
        assert_int_equal(by_reduce, planted);
    }

    /* A tensor in the backend's own layout and precision: a convolution's
     * output with one Inf input. Every output whose window covers it is
     * non-finite; ref's count is the oracle (and at least one). */
    ns_conv_desc d = {2, 3, 8, 8, 16, 3, 3, 1, 1, 8, 8};
    const size_t nx = 2 * 3 * 8 * 8, nw = 16 * 3 * 3 * 3, ny = 2 * 16 * 8 * 8;
    float *hx = parity_alloc(nx), *hw = parity_alloc(nw);
    parity_fill(hx, nx, 4300, 1, -1.0f, 1.0f);
    parity_fill(hw, nw, 4300, 2, 0.1f, 0.5f); /* no zero weight: inf*0 would differ in kind only */
    hx[3 * 64 + 4 * 8 + 4] = INFINITY; /* image 1, channel 0, row 4, column 4 */
    parity_buf x = parity_buf_new(p, hx, nx), w = parity_buf_new(p, hw, nw);
    parity_buf y = parity_buf_new(p, NULL, ny);
    free(hx);
    free(hw);
    PARITY_BOTH(p, conv2d_forward, &d, x.b[side], w.b[side], y.b[side]);
    uint64_t got[2];
    for (int side = 0; side < 2; side++) {
        const ns_buf *xs[1] = {y.b[side]};
        size_t ns[1] = {ny};
        parity_ok(p, side, "count_nonfinite",
                  ns_backend_count_nonfinite(p->be[side], 1, xs, ns, &got[side]));
    }
    /* one Inf under a 3x3 window with all-positive weights: 9 positions of
     * each of the 16 output channels of that image */
    if (got[PARITY_REF] != 9 * 16 || got[PARITY_DUT] != got[PARITY_REF])
        fail_msg("count_nonfinite over a convolution's output: %s %llu, ref %llu, expected 144",
                 p->be[PARITY_DUT]->name, (unsigned long long)got[PARITY_DUT],
                 (unsigned long long)got[PARITY_REF]);
    parity_buf_free(p, &x);
    parity_buf_free(p, &w);
    parity_buf_free(p, &y);
    for (int i = 0; i < NBUF; i++)
        parity_buf_free(p, &bufs[i]);
}

void parity_nonfinite_host_default(parity_pair *p)
{
    parity_buf bufs[NBUF];
    size_t counted[NBUF];
    uint64_t planted;
    make_buffers(p, bufs, counted, &planted);
    const int order[NBUF] = {0, 1, 2, 3};
    for (int side = 0; side < 2; side++) {
        ns_backend *be = p->be[side];
        __typeof__(be->table.count_nonfinite) slot = be->table.count_nonfinite;
        be->table.count_nonfinite = NULL;
        uint64_t n = fused(p, side, bufs, counted, NBUF, order);
        be->table.count_nonfinite = slot;
        if (n != planted)
            fail_msg("host default count_nonfinite on %s: %llu, %llu planted", be->name,
                     (unsigned long long)n, (unsigned long long)planted);
    }
    for (int i = 0; i < NBUF; i++)
        parity_buf_free(p, &bufs[i]);
}
