/* The machine's matrix-multiply ceiling through oneDNN, the library the cpu
 * backend (and Debian's PyTorch) run their convolutions on: fp32 (dnnl_sgemm)
 * and bf16 inputs with fp32 accumulation (dnnl_gemm_bf16bf16f32), best of a few
 * seconds each. A convolution's GFLOP/s (`noisystudent bench`, per op with
 * --profile) read against these says how much room is left.
 *
 *   gemm_ceiling [--threads N] [--size N] [--seconds S]
 *
 * Threads come from OpenMP (OMP_NUM_THREADS); --threads sets it. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

/* Exported by libdnnl 2.x (DNNL_API) but declared only in its internal
 * headers; the same routine PyTorch's bf16 matmul reaches. */
dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k, float alpha,
                                    const uint16_t *a, dnnl_dim_t lda, const uint16_t *b, dnnl_dim_t ldb, float beta,
                                    float *c, dnnl_dim_t ldc);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int usage(const char *why)
{
    fprintf(stderr, "gemm_ceiling: %s (usage: gemm_ceiling [--threads N] [--size N] [--seconds S])\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    int threads = 2, n = 2048;
    double seconds = 3.0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return usage("every option takes a value");
        if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[++i]);
        else
            return usage("unknown option");
    }
    if (threads < 1 || n < 64 || n > 16384 || !(seconds > 0))
        return usage("--threads >= 1, 64 <= --size <= 16384, --seconds > 0");
    omp_set_num_threads(threads);
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    uint16_t *ah = malloc(nn * sizeof *ah), *bh = malloc(nn * sizeof *bh);
    if (!a || !b || !c || !ah || !bh) {
        fprintf(stderr, "gemm_ceiling: cannot allocate 3 x %dx%d floats\n", n, n);
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)((i * 7919u) % 1000u) * 1e-3f - 0.5f;
        b[i] = (float)((i * 104729u) % 1000u) * 1e-3f - 0.5f;
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        ah[i] = (uint16_t)(ua >> 16); /* truncation is fine for timing */
        bh[i] = (uint16_t)(ub >> 16);
    }
    double flop = 2.0 * n * (double)n * n;
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        double best = 0, end = 0;
        for (int it = 0; it == 0 || now() < end; it++) {
            double t0 = now();
            dnnl_status_t s = bf16 ? dnnl_gemm_bf16bf16f32('N', 'N', n, n, n, 1.0f, ah, n, bh, n, 0.0f, c, n)
                                   : dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            if (s != dnnl_success) {
                printf("ceiling %s unavailable (oneDNN status %d)\n", bf16 ? "bf16" : "fp32", (int)s);
                break;
            }
            double t = now() - t0;
            if (it == 0)
                end = now() + seconds; /* the first call packs and JITs: not timed */
            else if (flop / t * 1e-9 > best)
                best = flop / t * 1e-9;
        }
        if (best > 0)
            printf("ceiling %s %.1f GFLOP/s (oneDNN %s %dx%d, %d threads, best of %g s)\n", bf16 ? "bf16" : "fp32",
                   best, bf16 ? "gemm_bf16bf16f32" : "sgemm", n, n, threads, seconds);
    }
    free(a);
    free(b);
    free(c);
    free(ah);
    free(bh);
    return 0;
}
