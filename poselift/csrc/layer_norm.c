// LayerNorm forward and backward: see poselift_kernels.h.
#include "poselift_kernels.h"
#include "simd.h"

// LayerNorm over rows of C (a multiple of 16): y = (x - mean) rstd w + b, rstd = 1 / sqrt(var + eps); mean, rstd saved.
// x and y may differ in storage (float32 residual stream in, bfloat16 out for the next product under autocast).
int layer_norm_forward(const void *x, const float *w, const float *b, void *y, float *mean, float *rstd, int64_t M,
                       int64_t C, float eps, int x_bf16, int y_bf16, int threads) {
    if (C % 16 || C <= 0) return 1;
    #pragma omp parallel num_threads(threads)
    {
        FLUSH_DENORMALS;
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < M; i++) {
            const int64_t row = i * C;
            v16 s = {0}, q = {0};
            for (int64_t k = 0; k < C; k += 16) s += load16(x, row + k, x_bf16);
            const float mu = hsum16(s) / C;
            for (int64_t k = 0; k < C; k += 16) { const v16 d = load16(x, row + k, x_bf16) - mu; q += d * d; }
            const float r = 1.0f / sqrtf(hsum16(q) / C + eps);
            for (int64_t k = 0; k < C; k += 16)
                store16(y, row + k, (load16(x, row + k, x_bf16) - mu) * r * load16(w, k, 0) + load16(b, k, 0), y_bf16);
            mean[i] = mu; rstd[i] = r;
        }
        RESTORE_FP;
    }
    return 0;
}

// LayerNorm backward: gx = rstd (w gy - mean(w gy) - xhat mean(w gy xhat)), xhat = (x - mean) rstd; worker t adds its
// rows' sums of gy xhat (the gradient of w) into gw[t C ...] and of gy (of b) into gb[t C ...], zeroed by the caller
int layer_norm_backward(const void *gy, const void *x, const float *w, const float *mean, const float *rstd, void *gx,
                        float *gw, float *gb, int64_t M, int64_t C, int gy_bf16, int x_bf16, int threads) {
    if (C % 16 || C <= 0) return 1;
    int failed = 0;
    #pragma omp parallel num_threads(threads)
    {
        FLUSH_DENORMALS;
        const int t = thread_index(), n = thread_count();
        const int64_t begin = M * t / n, end = M * (t + 1) / n, nv = C / 16;
        v16 *part = (v16 *)aligned_alloc(64, sizeof(v16) * 2 * nv);           // sums of up to 64 rows: gw's, then gb's
        if (!part) {
            #pragma omp atomic write
            failed = 1;
        } else {
            for (int64_t i0 = begin; i0 < end; i0 += 64) {
                memset(part, 0, sizeof(v16) * 2 * nv);
                for (int64_t i = i0; i < end && i < i0 + 64; i++) {
                    const int64_t row = i * C;
                    const float mu = mean[i], r = rstd[i];
                    v16 a = {0}, c = {0};
                    for (int64_t k = 0; k < nv; k++) {
                        const v16 g = load16(gy, row + 16 * k, gy_bf16), xh = (load16(x, row + 16 * k, x_bf16) - mu) * r;
                        const v16 wg = g * load16(w, 16 * k, 0);
                        a += wg; c += wg * xh;
                        part[k] += g * xh; part[nv + k] += g;
                    }
                    const float ma = hsum16(a) / C, mc = hsum16(c) / C;
                    for (int64_t k = 0; k < nv; k++) {
                        const v16 g = load16(gy, row + 16 * k, gy_bf16), xh = (load16(x, row + 16 * k, x_bf16) - mu) * r;
                        store16(gx, row + 16 * k, r * (g * load16(w, 16 * k, 0) - ma - xh * mc), x_bf16);
                    }
                }
                for (int64_t k = 0; k < nv; k++) {
                    store16(gw, t * C + 16 * k, load16(gw, t * C + 16 * k, 0) + part[k], 0);
                    store16(gb, t * C + 16 * k, load16(gb, t * C + 16 * k, 0) + part[nv + k], 0);
                }
            }
            free(part);
        }
        RESTORE_FP;
    }
    return failed ? 2 : 0;
}

