/* Helpers shared by the ref backend's test programs: opening ref, moving
 * host arrays to and from device buffers, Philox-filled inputs, and a central
 * finite-difference gradient check. Every helper fails the current cmocka test
 * (fail_msg) on error, so tests read as straight-line code. */
#ifndef NS_REF_TEST_HARNESS_H
#define NS_REF_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "plugin/backend_loader.h"

/* Opens "ref" with default options (fails the test on error). */
ns_backend *rt_open_ref(void);

/* A device buffer holding a copy of host[0..n); host may be NULL (contents undefined). */
ns_buf *rt_buf(ns_backend *be, const float *host, size_t n);
void rt_upload(ns_backend *be, ns_buf *b, const float *host, size_t n);
void rt_download(ns_backend *be, const ns_buf *b, float *host, size_t n);
void rt_free(ns_backend *be, ns_buf *b);

/* host[i] = uniform in [lo, hi) from Philox (seed, stream); deterministic. */
void rt_fill_uniform(float *host, size_t n, uint64_t seed, uint64_t stream, float lo, float hi);
/* As rt_fill_uniform, but |value| >= min_abs (values in (-hi,-min_abs] U [min_abs,hi)):
 * keeps a piecewise-linear op away from its kink during finite differences. */
void rt_fill_away_from_zero(float *host, size_t n, uint64_t seed, uint64_t stream, float min_abs,
                            float hi);
/* calloc'd floats; fails the test when out of memory. Free with free(). */
float *rt_alloc(size_t n);

/* sum_i r[i]*out[i] in double. */
double rt_dot(const float *r, const float *out, size_t n);

/* The scalar L(param) whose gradient is checked; reads the parameter from the
 * host array being perturbed (state knows where). */
typedef double (*rt_loss_fn)(void *state);

/* Central differences (L(p+eps) - L(p-eps)) / (2 eps) at up to max_points
 * indices of param[0..n) (all when n <= max_points, else evenly spread),
 * compared with analytic[]: passes when
 *   ||num - ana||_2 / max(||num||_2, ||ana||_2, 1e-6) <= rel_tol
 * over the checked indices. param is restored. Prints the worst index on failure. */
void rt_check_gradient(const char *what, float *param, size_t n, const float *analytic,
                       rt_loss_fn loss, void *state, float eps, double rel_tol,
                       size_t max_points);

#endif
