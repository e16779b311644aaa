#include "parity_harness.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <noisystudent/rng.h>

#include "util/error.h"

ns_status parity_open(parity_pair *p, const char *spec, ns_precision precision)
{
    memset(p, 0, sizeof *p);
    p->spec = spec;
    p->precision = precision;
    ns_backend_options ref_opt = ns_backend_options_default();
    ns_status st = ns_backend_open("ref", &ref_opt, &p->be[PARITY_REF]);
    if (st != NS_OK)
        return st;
    ns_backend_options opt = ns_backend_options_default();
    opt.precision = precision;
    st = ns_backend_open(spec, &opt, &p->be[PARITY_DUT]);
    if (st == NS_ERR_NOT_FOUND || st == NS_ERR_UNSUPPORTED) {
        snprintf(p->skip_reason, sizeof p->skip_reason, "backend '%s' unavailable (%s): %s", spec,
                 ns_status_name(st), ns_last_error());
        p->be[PARITY_DUT] = NULL;
        return NS_OK;
    }
    if (st != NS_OK)
        return st;
    p->exact = strcmp(p->be[PARITY_DUT]->name, "ref") == 0;
    return NS_OK;
}

void parity_close(parity_pair *p)
{
    ns_backend_close(p->be[PARITY_DUT]);
    ns_backend_close(p->be[PARITY_REF]);
    p->be[0] = p->be[1] = NULL;
}

void parity_ok(const parity_pair *p, int side, const char *op, ns_status st)
{
    if (st != NS_OK)
        fail_msg("%s on %s failed (%s): %s", op, side == PARITY_REF ? "ref" : p->spec,
                 ns_status_name(st), ns_last_error());
}

float *parity_alloc(size_t n)
{
    float *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        fail_msg("out of memory for %zu floats", n);
    return h;
}

void parity_fill(float *host, size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        host[i] = lo + (hi - lo) * ns_philox_uniform_at(seed, stream, i);
}

parity_buf parity_buf_new(parity_pair *p, const float *host, size_t n)
{
    parity_buf b = {{NULL, NULL}, n};
    for (int side = 0; side < 2; side++) {
        const ns_backend *be = p->be[side];
        parity_ok(p, side, "buf_alloc", be->api->buf_alloc(be->ctx, n, &b.b[side]));
        if (!host)
            parity_ok(p, side, "fill", be->api->fill(be->ctx, b.b[side], n, NAN));
    }
    if (host)
        parity_buf_set(p, &b, host);
    return b;
}

void parity_buf_set(parity_pair *p, parity_buf *b, const float *host)
{
    PARITY_BOTH(p, upload, b->b[side], 0, host, b->n);
}

void parity_buf_free(parity_pair *p, parity_buf *b)
{
    for (int side = 0; side < 2; side++)
        if (b->b[side])
            p->be[side]->api->buf_free(p->be[side]->ctx, b->b[side]);
    b->b[0] = b->b[1] = NULL;
}

double parity_nmse(parity_pair *p, const parity_buf *b, size_t n, const char *what)
{
    float *h[2] = {parity_alloc(n), parity_alloc(n)};
    PARITY_BOTH(p, download, b->b[side], 0, h[side], n);
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = h[PARITY_REF][i], d = h[PARITY_DUT][i];
        if (isfinite(r) && !isfinite(d)) {
            float bad = h[PARITY_DUT][i];
            free(h[0]);
            free(h[1]);
            fail_msg("%s: %s produced %g at index %zu where ref has %g", what, p->spec,
                     (double)bad, i, r);
        }
        if (!isfinite(r))
            continue; /* ref itself non-finite: nothing to compare against */
        err += (d - r) * (d - r);
        norm += r * r;
    }
    free(h[0]);
    free(h[1]);
    return norm > 0.0 ? err / norm : err;
}

/* Worst nmse per op, for the summary a backend author reads first. */
typedef struct op_record {
    char op[48];
    double worst, tol;
    int count;
} op_record;
static op_record records[64];
static int n_records;

static void record(const char *op, double nmse, double tol)
{
    int i = 0;
    while (i < n_records && strcmp(records[i].op, op) != 0)
        i++;
    if (i == n_records) {
        if (n_records == (int)(sizeof records / sizeof *records))
            return;
        n_records++;
        snprintf(records[i].op, sizeof records[i].op, "%s", op);
        records[i].worst = 0.0;
        records[i].count = 0;
    }
    if (nmse > records[i].worst)
        records[i].worst = nmse;
    records[i].tol = tol;
    records[i].count++;
}

void parity_expect(parity_pair *p, const parity_buf *b, size_t n, const char *op,
                   const char *shape, double tol)
{
    char what[256];
    snprintf(what, sizeof what, "%s [%s]", op, shape);
    double e = parity_nmse(p, b, n, what);
    if (p->exact)
        tol = 0.0;
    record(op, e, tol);
    if (!(e <= tol))
        fail_msg("%s: nmse %.3g exceeds %.3g (%s vs ref)", what, e, tol, p->spec);
}

void parity_print_summary(void)
{
    for (int i = 0; i < n_records; i++)
        printf("  %-28s worst nmse %-10.3g tol %-8.3g (%d comparisons)\n", records[i].op,
               records[i].worst, records[i].tol, records[i].count);
}
