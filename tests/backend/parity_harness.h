/* The backend parity harness: two backends side by side (ref, the oracle, as
 * side 0 and the backend under test as side 1), buffers mirrored on both,
 * inputs drawn from Philox on the host, results compared by normalised MSE
 * (ggml's test-backend-ops): nmse = sum((dut - ref)^2) / sum(ref^2).
 * Failures go through cmocka's fail_msg with the op, the shape and the error. */
#ifndef NS_PARITY_HARNESS_H
#define NS_PARITY_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "plugin/backend_loader.h"

enum { PARITY_REF = 0, PARITY_DUT = 1 };

typedef struct parity_pair {
    ns_backend *be[2];       /* [PARITY_REF], [PARITY_DUT]; dut NULL when skipped */
    const char *spec;        /* backend under test as given on the command line */
    ns_precision precision;
    int exact;               /* ref against ref: every comparison must be exact */
    char skip_reason[512];   /* why dut is NULL */
} parity_pair;

/* A buffer on each side holding the same logical tensor. */
typedef struct parity_buf {
    ns_buf *b[2];
    size_t n;
} parity_buf;

/* Opens ref and `spec` at `precision`. A plugin that is absent or whose probe
 * or create() refuses (NS_ERR_NOT_FOUND / NS_ERR_UNSUPPORTED) leaves dut NULL
 * with skip_reason set and returns NS_OK; any other failure is returned. */
ns_status parity_open(parity_pair *p, const char *spec, ns_precision precision);
void parity_close(parity_pair *p);

/* Mirrored buffer; host == NULL fills both sides with NaN so an op that does
 * not overwrite its output is caught. */
parity_buf parity_buf_new(parity_pair *p, const float *host, size_t n);
void parity_buf_set(parity_pair *p, parity_buf *b, const float *host);
void parity_buf_free(parity_pair *p, parity_buf *b);

/* host[i] = lo + (hi-lo) * ns_philox_uniform_at(seed, stream, i). */
void parity_fill(float *host, size_t n, uint64_t seed, uint64_t stream, float lo, float hi);
float *parity_alloc(size_t n); /* calloc, fails the test on OOM; free() it */

/* Fails the test when a call on `side` did not return NS_OK. */
void parity_ok(const parity_pair *p, int side, const char *op, ns_status st);

/* Runs `call` on both sides; `side` names the side inside it:
 *   PARITY_BOTH(p, conv2d_forward, &d, x.b[side], w.b[side], y.b[side]); */
#define PARITY_BOTH(p, op, ...)                                                     \
    for (int side = 0; side < 2; side++)                                            \
    parity_ok((p), side, #op, (p)->be[side]->api->op((p)->be[side]->ctx, __VA_ARGS__))

/* Downloads both sides of b[0..n) and returns their nmse; fails the test when a
 * side reports an error or when the dut has a non-finite value where ref has a
 * finite one. When sum(ref^2) == 0 the plain sum of squares is returned. */
double parity_nmse(parity_pair *p, const parity_buf *b, size_t n, const char *what);

/* parity_nmse against tol (0 in exact mode, where the bits must match).
 * Records the worst nmse seen per op for the summary. */
void parity_expect(parity_pair *p, const parity_buf *b, size_t n, const char *op,
                   const char *shape, double tol);

/* Prints "op: worst nmse X (tol Y) over N comparisons" for every op seen. */
void parity_print_summary(void);

#endif
