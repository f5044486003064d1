// The MLP's bias + exact GELU, forward and backward: see poselift_kernels.h.
#include "poselift_kernels.h"
#include "simd.h"

// GELU(z) = z Φ(z) with Φ(z) = (1 + erf(z/√2)) / 2, and its derivative Φ(z) + z φ(z), φ(z) = e^(-z²/2) / √(2π).
// With x = |z|/√2, Φ(-|z|) = erfc(x) / 2 = t p(t) e^(-x²) / 2, t = 1 / (1 + 0.3275911 x): Abramowitz & Stegun 7.1.26,
// |error of erfc| <= 1.5e-7. So GELU(z) = max(z, 0) - |z| Φ(-|z|) and Φ(z) = 1/2 + sign(z) (1/2 - Φ(-|z|)), without
// cancellation in the tails, and φ's exponential is the same e^(-x²). 16 lanes at a time.
// The GELU loops do much arithmetic per cache line, which leaves few loads in flight: fetch 2 KiB ahead of each stream
#define PREFETCH_AHEAD(p, i, bf16) __builtin_prefetch((const char *)(p) + ((i) << (bf16 ? 1 : 2)) + 2048)
static inline v16 reciprocal16(v16 x) {                                       // 1 / x for x >= 1
#ifdef __AVX512F__
    const v16 r = (v16)_mm512_rcp14_ps((__m512)x);                             // 14 bits, then one Newton step
    return r * (2.0f - x * r);
#else
    return 1.0f / x;
#endif
}
// t p(t) / k for x = |z| / √2; e^(-x²) into *e
static inline v16 erfc_factor(v16 z, float k, v16 *e) {
    const v16 x = (v16)((v16i)z & 0x7fffffff) * 0.70710678f;
    const v16 t = reciprocal16(1.0f + 0.3275911f * x);
    *e = exp16(-(x * x));
    return t * (0.254829592f / k + t * (-0.284496736f / k + t * (1.421413741f / k + t * (-1.453152027f / k + t * (1.061405429f / k)))));
}

// a = GELU(h + b), row by row: h, a (M, N) row-major (a may be h), b (N) float32; N a multiple of 16
int bias_gelu_forward(const void *h, const float *b, void *a, int64_t M, int64_t N, int bf16, int threads) {
    if (N % 16 || N <= 0) return 1;
    #pragma omp parallel num_threads(threads)
    {
        FLUSH_DENORMALS;
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k += 16) {
                PREFETCH_AHEAD(h, i * N + k, bf16);
                const v16 z = load16(h, i * N + k, bf16) + load16(b, k, 0);
                v16 e;
                const v16 q = erfc_factor(z, 2.0f, &e);                       // |z| Φ(-|z|) = |z| q e
                const v16 relu = (v16)((v16i)z & ~(v16i)(z < 0));
                store16(a, i * N + k, relu - (v16)((v16i)z & 0x7fffffff) * q * e, bf16);
            }
        RESTORE_FP;
    }
    return 0;
}

// gh = g GELU'(h + b) (gh may be g), and the column sums of gh: worker t adds its rows' sums into gb[t N ... t N + N)
// (float32, zeroed by the caller; rows are split among workers in order, so the result depends only on the thread count)
int bias_gelu_backward(const void *g, const void *h, const float *b, void *gh, float *gb, int64_t M, int64_t N, int bf16,
                       int threads) {
    if (N % 16 || N <= 0) return 1;
    int failed = 0;
    #pragma omp parallel num_threads(threads)
    {
        FLUSH_DENORMALS;
        const int t = thread_index(), n = thread_count();
        const int64_t begin = M * t / n, end = M * (t + 1) / n, nv = N / 16;
        v16 *part = (v16 *)aligned_alloc(64, sizeof(v16) * nv);                // sums of up to 64 rows, then added to gb
        if (!part) {
            #pragma omp atomic write
            failed = 1;
        } else {
            for (int64_t i0 = begin; i0 < end; i0 += 64) {
                memset(part, 0, sizeof(v16) * nv);
                for (int64_t i = i0; i < end && i < i0 + 64; i++)
                    for (int64_t k = 0; k < nv; k++) {
                        PREFETCH_AHEAD(h, i * N + 16 * k, bf16); PREFETCH_AHEAD(g, i * N + 16 * k, bf16);
                        const v16 z = load16(h, i * N + 16 * k, bf16) + load16(b, 16 * k, 0);
                        v16 e;
                        const v16 tail = erfc_factor(z, 2.0f, &e) * e;                       // Φ(-|z|)
                        const v16 half = (v16)((v16i)(0.5f - tail) | ((v16i)z & (int32_t)0x80000000));  // Φ(z) - 1/2
                        const v16 gz = load16(g, i * N + 16 * k, bf16) * ((0.5f + half) + z * e * 0.39894228f);
                        store16(gh, i * N + 16 * k, gz, bf16);
                        part[k] += gz;
                    }
                for (int64_t k = 0; k < nv; k++) store16(gb, t * N + 16 * k, load16(gb, t * N + 16 * k, 0) + part[k], 0);
            }
            free(part);
        }
        RESTORE_FP;
    }
    return failed ? 2 : 0;
}

