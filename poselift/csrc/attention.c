// Multi-head self-attention over a short token axis, forward and backward: see poselift_kernels.h.
#include "poselift_kernels.h"
#include "simd.h"

// Blocks are groups: one sequence, all heads. A group's rows are read and written whole (contiguous 3C / C values).
static void group_offsets(const job_t *J, int64_t g, int64_t *ib, int64_t *ob) {
    int64_t i1 = g % J->n1, i0 = g / J->n1;
    *ib = i0 * J->is0 + i1 * J->is1;
    *ob = i0 * J->os0 + i1 * J->os1;
}

// The first n parts (0 q, 1 k, 2 v, of width C each) of L rows (stride st), plus bias (nC, or NULL), part 0 times
// mul, into per-head rows (H, Lr, c/8 vectors) rows[part]. Each row is read once, whole. Rows L..Lr-1 are left as they
// are (zero: nothing else writes them).
INLINE void gather_row(const void *src, int64_t row, const job_t *J, const float *bias, float mul, v8 *restrict out,
                       int64_t Lr) {                                           // out: head 0's row; head h at +h Lr cv
    const int64_t c = J->c, cv = c / 8, H = J->heads;
    for (int64_t h = 0; h < H; h++)
        for (int64_t k = 0; k < cv; k++) {
            v8 x = load8(src, row + h * c + 8 * k, J->bf16);
            if (bias) x += load8(bias, h * c + 8 * k, 0);
            out[h * Lr * cv + k] = x * mul;
        }
}
static void gather(const void *src, int64_t base, int64_t st, const job_t *J, int64_t Lr, int n, const float *bias,
                   float mul, v8 *const rows[3]) {
    const int64_t L = J->L, cv = J->c / 8, C = J->C;
    for (int part = 0; part < n; part++)
        for (int64_t l = 0; l < L; l++)
            gather_row(src, base + l * st + part * C, J, bias ? bias + part * C : NULL, part ? 1.0f : mul,
                       rows[part] + l * cv, Lr);
}

// Per-head rows (H, Lr, c/8 vectors) transposed into T (H, c, P vectors of 8 tokens), by 8 x 8 blocks in registers
static void transpose_rows(const job_t *J, int64_t Lr, int64_t P, const v8 *restrict rows, v8 *restrict T) {
    const int64_t c = J->c, cv = c / 8, H = J->heads;
    for (int64_t h = 0; h < H; h++)
        for (int64_t k = 0; k < cv; k++)
            for (int64_t p = 0; p < P; p++) {
                const v8 *r = rows + (h * Lr + 8 * p) * cv + k;                 // 8 tokens x 8 features
                const v8 r0 = r[0], r1 = r[cv], r2 = r[2 * cv], r3 = r[3 * cv], r4 = r[4 * cv], r5 = r[5 * cv], r6 = r[6 * cv], r7 = r[7 * cv];
                const v8 t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
                const v8 t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
                const v8 t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
                const v8 t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
                const v8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
                const v8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
                const v8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
                const v8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
                v8 *out = T + (h * c + 8 * k) * P + p;                           // feature d of the 8 tokens at out[d P]
                out[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11); out[4 * P] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
                out[P] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11); out[5 * P] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
                out[2 * P] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11); out[6 * P] = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
                out[3 * P] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11); out[7 * P] = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
            }
}
// Per-head rows rows[part] back into the first n parts of L rows, each row written once, whole; with sum (nC), also
// adds the rows up into it.
static void scatter(void *dst, int64_t base, int64_t st, const job_t *J, int64_t Lr, int n, const v8 *const rows[3],
                    float *restrict sum) {
    const int64_t L = J->L, c = J->c, cv = c / 8, H = J->heads, C = J->C;
    for (int64_t l = 0; l < L; l++)
        for (int part = 0; part < n; part++) {
            const int64_t row = base + l * st + part * C;
            for (int64_t h = 0; h < H; h++)
                for (int64_t k = 0; k < cv; k++) store8(dst, row + h * c + 8 * k, rows[part][(h * Lr + l) * cv + k], J->bf16);
        }
    if (sum) for (int part = 0; part < n; part++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t k = 0; k < cv; k++) {
                v8 a = {0};
                for (int64_t l = 0; l < L; l++) a += rows[part][(h * Lr + l) * cv + k];
                store8(sum, part * C + h * c + 8 * k, load8(sum, part * C + h * c + 8 * k, 0) + a, 0);
            }
}
#define TQ 4   // query rows computed together: independent accumulators for the FMA pipelines
#define PADDED_ROWS(L) (((L) + 7) / 8 * 8)   // row buffers hold whole 8 x 8 blocks for the transposes, and TQ divides it

// x[i] <- e^x[i] for n (even) vectors of 8, two at a time in 16 lanes (half the instructions of exp8 where 16 is native)
static inline void exp_pairs(v8 *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 2) { v16 y; memcpy(&y, x + i, 64); y = exp16(y); memcpy(x + i, &y, 64); }
}

// One head: q (Lr, cv) scaled, kT (c, P), v (Lr, cv) -> o (Lr, cv), stats (L, 2): max logit, 1 / sum of exponentials
INLINE void head_forward_body(int64_t L, int64_t c, int64_t P, const v8 *restrict q, const v8 *restrict kT, const v8 *restrict v,
                              const v8 *restrict bias, v8 *restrict S, v8 *restrict o, float *restrict stats) {
    const int64_t cv = c / 8;
    for (int64_t i0 = 0; i0 < L; i0 += TQ) {
        const float *qi = (const float *)(q + i0 * cv);
        for (int r = 0; r < TQ; r++) for (int64_t p = 0; p < P; p++) S[r * P + p] = bias[p];
        for (int64_t d = 0; d < c; d++) {
            const v8 *kd = kT + d * P;
            const float a0 = qi[d], a1 = qi[c + d], a2 = qi[2 * c + d], a3 = qi[3 * c + d];
            for (int64_t p = 0; p < P; p++) {
                const v8 kp = kd[p];
                S[p] += a0 * kp; S[P + p] += a1 * kp; S[2 * P + p] += a2 * kp; S[3 * P + p] += a3 * kp;
            }
        }
        float inv[TQ], m[TQ];
        for (int r = 0; r < TQ; r++) {
            v8 *s = S + r * P;
            v8 mv = s[0]; for (int64_t p = 1; p < P; p++) mv = max8(s[p], mv);
            m[r] = hmax(mv);
            for (int64_t p = 0; p < P; p++) s[p] -= m[r];
        }
        exp_pairs(S, TQ * P);
        for (int r = 0; r < TQ; r++) {
            const v8 *s = S + r * P;
            v8 sum = s[0]; for (int64_t p = 1; p < P; p++) sum += s[p];
            const float total = hsum(sum);
            inv[r] = 1.0f / total;
            if (i0 + r < L) { stats[2 * (i0 + r)] = m[r]; stats[2 * (i0 + r) + 1] = inv[r]; }
        }
        const float *w0 = (const float *)S, *w1 = w0 + 8 * P, *w2 = w1 + 8 * P, *w3 = w2 + 8 * P;
        for (int64_t k = 0; k < cv; k++) {
            v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int64_t j = 0; j < L; j++) {
                const v8 vj = v[j * cv + k];
                a0 += w0[j] * vj; a1 += w1[j] * vj; a2 += w2[j] * vj; a3 += w3[j] * vj;
            }
            o[(i0 + 0) * cv + k] = a0 * inv[0]; o[(i0 + 1) * cv + k] = a1 * inv[1];
            o[(i0 + 2) * cv + k] = a2 * inv[2]; o[(i0 + 3) * cv + k] = a3 * inv[3];
        }
    }
}

// One head, backward: q (scaled), k, g rows, kT, vT, stats -> dq, dk, dv rows (dk, dv zeroed here)
INLINE void head_backward_body(int64_t L, int64_t c, int64_t P, float scale, const v8 *restrict q, const v8 *restrict k,
                          const v8 *restrict g, const v8 *restrict kT, const v8 *restrict vT, const float *restrict stats,
                          const v8 *restrict bias, v8 *restrict Pm, v8 *restrict DP, v8 *restrict dq, v8 *restrict dk, v8 *restrict dv) {
    const int64_t cv = c / 8, Lr = PADDED_ROWS(L);
    memset(dk, 0, sizeof(v8) * Lr * cv); memset(dv, 0, sizeof(v8) * Lr * cv);
    for (int64_t i0 = 0; i0 < L; i0 += TQ) {
        const float *qi = (const float *)(q + i0 * cv), *gi = (const float *)(g + i0 * cv);
        for (int r = 0; r < TQ; r++) {
            const float m = i0 + r < L ? stats[2 * (i0 + r)] : 0.0f;
            for (int64_t t = 0; t < P; t++) { Pm[r * P + t] = bias[t] - m; DP[r * P + t] = (v8){0}; }
        }
        for (int64_t d = 0; d < c; d++) {
            const v8 *kd = kT + d * P, *vd = vT + d * P;
            const float a0 = qi[d], a1 = qi[c + d], a2 = qi[2 * c + d], a3 = qi[3 * c + d];
            const float e0 = gi[d], e1 = gi[c + d], e2 = gi[2 * c + d], e3 = gi[3 * c + d];
            for (int64_t t = 0; t < P; t++) {
                const v8 kp = kd[t], vp = vd[t];
                Pm[t] += a0 * kp; Pm[P + t] += a1 * kp; Pm[2 * P + t] += a2 * kp; Pm[3 * P + t] += a3 * kp;
                DP[t] += e0 * vp; DP[P + t] += e1 * vp; DP[2 * P + t] += e2 * vp; DP[3 * P + t] += e3 * vp;
            }
        }
        exp_pairs(Pm, TQ * P);
        for (int r = 0; r < TQ; r++) {
            v8 *p = Pm + r * P, *dp = DP + r * P, Dv = {0};
            const float inv = i0 + r < L ? stats[2 * (i0 + r) + 1] : 0.0f;          // padded query rows: no weights
            for (int64_t t = 0; t < P; t++) { p[t] *= inv; Dv += p[t] * dp[t]; }
            const float D = hsum(Dv);
            for (int64_t t = 0; t < P; t++) dp[t] = p[t] * (dp[t] - D);        // ds; the scale is in q and in dq
        }
        const float *p0 = (const float *)Pm, *p1 = p0 + 8 * P, *p2 = p1 + 8 * P, *p3 = p2 + 8 * P;
        const float *s0 = (const float *)DP, *s1 = s0 + 8 * P, *s2 = s1 + 8 * P, *s3 = s2 + 8 * P;
        for (int64_t kk = 0; kk < cv; kk++) {
            const v8 q0 = q[(i0 + 0) * cv + kk], q1 = q[(i0 + 1) * cv + kk], q2 = q[(i0 + 2) * cv + kk], q3 = q[(i0 + 3) * cv + kk];
            const v8 g0 = g[(i0 + 0) * cv + kk], g1 = g[(i0 + 1) * cv + kk], g2 = g[(i0 + 2) * cv + kk], g3 = g[(i0 + 3) * cv + kk];
            v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int64_t j = 0; j < L; j++) {
                const v8 kj = k[j * cv + kk];
                a0 += s0[j] * kj; a1 += s1[j] * kj; a2 += s2[j] * kj; a3 += s3[j] * kj;
                dk[j * cv + kk] += (s0[j] * q0 + s1[j] * q1) + (s2[j] * q2 + s3[j] * q3);
                dv[j * cv + kk] += (p0[j] * g0 + p1[j] * g1) + (p2[j] * g2 + p3[j] * g3);
            }
            dq[(i0 + 0) * cv + kk] = a0 * scale; dq[(i0 + 1) * cv + kk] = a1 * scale;
            dq[(i0 + 2) * cv + kk] = a2 * scale; dq[(i0 + 3) * cv + kk] = a3 * scale;
        }
    }
}

// The per-head loops with the sizes as constants for DSTformer's cases (8 features per head, up to 32 tokens; backward up
// to 24), so that the compiler unrolls them and keeps the logits in registers; other sizes run the same code with
// run-time sizes. Against run-time sizes at the seed preset (an interleaved A/B of the two builds) the forward was
// faster, and so was the backward up to 24 tokens; at 27 its two sets of logits no longer fit the registers.
#define WITH_CONSTANT_SIZES(body, c, P, ...)                                                                      \
    if ((c) == 8 && (P) == 1) body(L, 8, 1, __VA_ARGS__); else if ((c) == 8 && (P) == 2) body(L, 8, 2, __VA_ARGS__); \
    else if ((c) == 8 && (P) == 3) body(L, 8, 3, __VA_ARGS__); else if ((c) == 8 && (P) == 4) body(L, 8, 4, __VA_ARGS__); \
    else body(L, c, P, __VA_ARGS__)
static void head_forward(int64_t L, int64_t c, int64_t P, const v8 *restrict q, const v8 *restrict kT, const v8 *restrict v,
                         const v8 *restrict bias, v8 *restrict S, v8 *restrict o, float *restrict stats) {
    WITH_CONSTANT_SIZES(head_forward_body, c, P, q, kT, v, bias, S, o, stats);
}
static void head_backward(int64_t L, int64_t c, int64_t P, float scale, const v8 *restrict q, const v8 *restrict k,
                          const v8 *restrict g, const v8 *restrict kT, const v8 *restrict vT, const float *restrict stats,
                          const v8 *restrict bias, v8 *restrict Pm, v8 *restrict DP, v8 *restrict dq, v8 *restrict dk, v8 *restrict dv) {
    if (P > 3) head_backward_body(L, c, P, scale, q, k, g, kT, vT, stats, bias, Pm, DP, dq, dk, dv);   // 2 x 4 x 4 accumulators spill
    else WITH_CONSTANT_SIZES(head_backward_body, c, P, scale, q, k, g, kT, vT, stats, bias, Pm, DP, dq, dk, dv);
}

static void *forward_worker(void *arg) {
    FLUSH_DENORMALS;
    const job_t *J = (const job_t *)arg;
    const int64_t L = J->L, c = J->c, H = J->heads, cv = c / 8, P = (L + 7) / 8, Lr = PADDED_ROWS(L);
    const int64_t R = H * Lr * cv;                                                  // one per-head row buffer
    const float *B = J->bias;
    v8 *buf = (v8 *)aligned_alloc(32, sizeof(v8) * (4 * R + H * c * P + (TQ + 1) * P));
    v8 *q = buf, *k = q + R, *v = k + R, *o = v + R, *kT = o + R, *S = kT + H * c * P, *bias = S + TQ * P;
    if (!buf) { ((job_t *)arg)->failed = 1; RESTORE_FP; return NULL; }
    memset(buf, 0, sizeof(v8) * (4 * R + H * c * P));
    for (int64_t j = 0; j < 8 * P; j++) ((float *)bias)[j] = j < L ? 0.0f : -INFINITY;
    for (int64_t grp = J->begin; grp < J->end; grp++) {
        int64_t ib, ob; group_offsets(J, grp, &ib, &ob);
        gather(J->qkv, ib, J->isl, J, Lr, 3, B, J->scale, (v8 *const[3]){q, k, v});
        transpose_rows(J, Lr, P, k, kT);
        for (int64_t h = 0; h < H; h++)
            head_forward(L, c, P, q + h * Lr * cv, kT + h * c * P, v + h * Lr * cv, bias, S, o + h * Lr * cv,
                         J->stats + 2 * (grp * H + h) * L);
        scatter(J->out, ob, J->osl, J, Lr, 1, (const v8 *const[3]){o, NULL, NULL}, NULL);
    }
    free(buf);
    RESTORE_FP;
    return NULL;
}

static void *backward_worker(void *arg) {
    FLUSH_DENORMALS;
    const job_t *J = (const job_t *)arg;
    const int64_t L = J->L, c = J->c, H = J->heads, cv = c / 8, P = (L + 7) / 8, Lr = PADDED_ROWS(L);
    const int64_t R = H * Lr * cv;
    const float *B = J->bias;
    float *D = J->dbias;
    v8 *buf = (v8 *)aligned_alloc(32, sizeof(v8) * (7 * R + 2 * H * c * P + (2 * TQ + 1) * P));
    v8 *q = buf, *k = q + R, *g = k + R, *dq = g + R, *dk = dq + R, *dv = dk + R, *tmp = dv + R;
    v8 *kT = tmp + R, *vT = kT + H * c * P, *Pm = vT + H * c * P, *DP = Pm + TQ * P, *bias = DP + TQ * P;
    if (!buf) { ((job_t *)arg)->failed = 1; RESTORE_FP; return NULL; }
    memset(buf, 0, sizeof(v8) * (7 * R + 2 * H * c * P));
    for (int64_t j = 0; j < 8 * P; j++) ((float *)bias)[j] = j < L ? 0.0f : -INFINITY;
    for (int64_t grp = J->begin; grp < J->end; grp++) {
        int64_t ib, ob; group_offsets(J, grp, &ib, &ob);
        gather(J->qkv, ib, J->isl, J, Lr, 3, B, J->scale, (v8 *const[3]){q, k, tmp});   // q already scaled
        gather(J->go, ob, J->osl, J, Lr, 1, NULL, 1.0f, (v8 *const[3]){g, NULL, NULL});
        transpose_rows(J, Lr, P, k, kT); transpose_rows(J, Lr, P, tmp, vT);
        for (int64_t h = 0; h < H; h++) {
            const int64_t r = h * Lr * cv, t = h * c * P;
            head_backward(L, c, P, J->scale, q + r, k + r, g + r, kT + t, vT + t, J->stats + 2 * (grp * H + h) * L, bias, Pm, DP,
                          dq + r, dk + r, dv + r);
        }
        scatter(J->out, ib, J->isl, J, Lr, 3, (const v8 *const[3]){dq, dk, dv}, D);
    }
    free(buf);
    RESTORE_FP;
    return NULL;
}

static int run(job_t *J, int threads, void *(*worker)(void *)) {
    if (J->c % 8 || J->c <= 0 || J->L <= 0) return 1;
    J->failed = 0;
    const int64_t blocks = J->n0 * J->n1;
    if (threads < 1) threads = 1;
    if (threads > blocks) threads = (int)(blocks > 0 ? blocks : 1);
    // OpenMP: inside PyTorch this is PyTorch's own libgomp (same soname), so the kernel shares its thread pool
    #pragma omp parallel num_threads(threads)
    {
        job_t mine = *J;
        const int t = thread_index(), n = thread_count();
        mine.begin = blocks * t / n; mine.end = blocks * (t + 1) / n;
        if (mine.dbias) mine.dbias += (int64_t)t * 3 * J->C;                       // this worker's row of sums
        worker(&mine);
        if (mine.failed) {
            #pragma omp atomic write
            J->failed = 1;
        }
    }
    return J->failed ? 2 : 0;
}


int attention_forward(job_t *J, int threads) { return run(J, threads, forward_worker); }
int attention_backward(job_t *J, int threads) { return run(J, threads, backward_worker); }
int job_size(void) { return (int)sizeof(job_t); }
