/* Parity of count_nonfinite (ABI 1.2), the training step's fused NaN/Inf
 * guard: one call over many buffers must give the number of NaN/Inf values
 * planted in them, the same on the backend under test as on ref, the same as
 * the host's per-buffer default (the sum of reduce's counts), including for a
 * tensor the backend holds in its own layout or precision (a convolution's
 * output). Counts are integers: every comparison is exact. */
#ifndef NS_PARITY_NONFINITE_H
#define NS_PARITY_NONFINITE_H

#include "parity_harness.h"

/* The caller skips when the dut's slot is NULL (the host default is what
 * the training step then calls; test_count_nonfinite_host_default covers it). */
void parity_nonfinite_run(parity_pair *p);

/* The host default (slot NULL) on each side against the known count. */
void parity_nonfinite_host_default(parity_pair *p);

#endif
