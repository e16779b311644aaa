/* Parity with RESIDENT inputs, const-input preservation, and the bf16
 * tolerances derived from an exact emulation.
 *
 * The per-op tests upload their inputs, so a backend sees plain float32 in
 * every op. In training most inputs are instead the output of a previous op,
 * held in whatever layout and precision the backend chose (the cpu backend:
 * blocked float32, or bf16 in bf16 mode). These tests produce each input with
 * a convolution on the backend under test, give ref the same logical values
 * (downloaded from the dut), and compare the op on both. */
#ifndef NS_PARITY_RESIDENT_H
#define NS_PARITY_RESIDENT_H

#include "parity_harness.h"

/* One bf16 rounding of a float32 result (round to nearest even) moves it by
 * at most 2^-9 of its magnitude, so an op whose dut output is ref's output
 * rounded once has nmse <= 2^-18: the bound for element-wise ops on resident
 * bf16 inputs (their inputs hold the same values on both sides). */
#define PARITY_BF16_ROUND_NMSE (1.0 / 262144.0)

/* Tolerance lookup of the main table (test_backend_parity.c). */
typedef double (*parity_tol_fn)(const char *op);

/* Every op that reads activations, with inputs resident on the dut: conv
 * (forward, both backward), batchnorm (train, infer, backward), relu both
 * ways, add, mul, axpby, mul_rows, global average pooling. fp32: the main
 * table's limits; bf16/fp16: ops that only round their output once get
 * PARITY_BF16_ROUND_NMSE (batchnorm: that plus float32 noise), conv the
 * table's low-precision limit. */
void parity_resident_run(parity_pair *p, parity_tol_fn tol);

/* backend.h: an op leaves every buffer it does not write intact. For each op
 * and each input it takes as const, in each residency (plain upload, resident,
 * and a plain buffer holding more floats than the op reads), the input's full
 * content must download bit-identical after the op. Runs on the dut only. */
void parity_const_inputs(parity_pair *p);

/* bf16 emulation on ref: inputs and outputs rounded to bf16 (round to
 * nearest even) around ref's float32 math, the way a bf16 backend computes
 * (float32 accumulation). Prints the observed nmse per op against plain
 * float32, and checks that each low-precision limit of the main table covers
 * it with headroom (>= 2x the worst) while staying near it (<= 20x), and that
 * the once-rounded ops stay within PARITY_BF16_ROUND_NMSE. Needs ref only:
 * it runs on every machine, also where no bf16 hardware exists. */
void parity_bf16_emulation(parity_pair *p, parity_tol_fn low_tol);

#endif
