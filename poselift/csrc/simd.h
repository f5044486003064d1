// Shared by poselift's CPU kernels: vectors of 8 and 16 floats as GCC/Clang vector extensions, loads and stores of
// float32 or bfloat16 storage, e^x, horizontal reductions, denormal flushing and OpenMP thread numbering.
#ifndef POSELIFT_SIMD_H
#define POSELIFT_SIMD_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FLUSH_DENORMALS unsigned int csr_ = _mm_getcsr(); _mm_setcsr(csr_ | 0x8040)
#define RESTORE_FP _mm_setcsr(csr_)
#else
#define FLUSH_DENORMALS
#define RESTORE_FP
#endif

// Vectors of W floats (W = 8: 256 bits, W = 16: 512 bits) as GCC/Clang vector extensions, with loads and stores of
// float32 or bfloat16 storage (float32 in registers; stores round to nearest even, NaN kept) and e^x.
// e^x for x <= 0, exactly 0 below -80 (no denormals downstream): 2^n p(r), |r| <= ln2/2, Taylor degree 6, rel. error < 2e-7
#if defined(__AVX512BF16__) && defined(__AVX512VL__)                   // the CPU's own rounding, the same rule
#define NATIVE_BF16_8 { __m128bh h = _mm256_cvtneps_pbh((__m256)x); memcpy((uint16_t *)p + i, &h, 16); return; }
#define NATIVE_BF16_16 { __m256bh h = _mm512_cvtneps_pbh((__m512)x); memcpy((uint16_t *)p + i, &h, 32); return; }
#else
#define NATIVE_BF16_8
#define NATIVE_BF16_16
#endif
#define VECTORS(W)                                                                                                   \
typedef float v##W __attribute__((vector_size(4 * W)));                                                             \
typedef int32_t v##W##i __attribute__((vector_size(4 * W)));                                                        \
typedef uint32_t v##W##u __attribute__((vector_size(4 * W)));                                                       \
typedef uint16_t v##W##h __attribute__((vector_size(2 * W)));                                                       \
static inline v##W load##W(const void *p, int64_t i, int bf16) {                                                     \
    v##W r;                                                                                                          \
    if (bf16) { v##W##h h; memcpy(&h, (const uint16_t *)p + i, 2 * W);                                               \
                v##W##i u = __builtin_convertvector(h, v##W##i) << 16; memcpy(&r, &u, 4 * W); }                       \
    else memcpy(&r, (const float *)p + i, 4 * W);                                                                    \
    return r;                                                                                                        \
}                                                                                                                    \
static inline void store##W(void *p, int64_t i, v##W x, int bf16) {                                                  \
    if (!bf16) { memcpy((float *)p + i, &x, 4 * W); return; }                                                        \
    NATIVE_BF16_##W                                                                                                  \
    v##W##i u; memcpy(&u, &x, 4 * W);                                                                                \
    v##W##i nan = (u & 0x7fffffff) > 0x7f800000;                                                  /* -1 where NaN */ \
    v##W##i rounded = (v##W##i)(((v##W##u)(u + 0x7fff + ((u >> 16) & 1))) >> 16);                                    \
    v##W##i quiet = (v##W##i)(((v##W##u)u) >> 16) | 0x40;                                                            \
    v##W##h h = __builtin_convertvector((nan & quiet) | (~nan & rounded), v##W##h);                                   \
    memcpy((uint16_t *)p + i, &h, 2 * W);                                                                            \
}                                                                                                                    \
static inline v##W exp##W(v##W x) {                                                                                  \
    v##W##i keep = x >= -80.0f;                                                                                      \
    x = (v##W)((v##W##i)x & keep);                                    /* 0 where dropped (its result is masked) */   \
    v##W t = 0.5f - x * 1.44269504f;                                                                 /* >= 0.5 */    \
    v##W##i ni = -__builtin_convertvector(t, v##W##i);           /* round(x log2 e), since trunc = floor here */     \
    v##W n = __builtin_convertvector(ni, v##W);                                                                      \
    v##W r = x - n * 0.693359375f + n * 2.12194440e-4f;                                                              \
    v##W p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720)))))); \
    v##W##i e = (ni + 127) << 23;                                                                                    \
    v##W s; memcpy(&s, &e, 4 * W);                                                                                   \
    return (v##W)((v##W##i)(p * s) & keep);                                                                          \
}
VECTORS(8)
VECTORS(16)

static inline v8 max8(v8 a, v8 b) { const v8i gt = a > b; return (v8)(((v8i)a & gt) | ((v8i)b & ~gt)); }
#define INLINE static inline __attribute__((always_inline))
static inline float hmax(v8 x) {                                              // in three shuffles
    x = max8(x, __builtin_shufflevector(x, x, 4, 5, 6, 7, 0, 1, 2, 3));
    x = max8(x, __builtin_shufflevector(x, x, 2, 3, 0, 1, 6, 7, 4, 5));
    return max8(x, __builtin_shufflevector(x, x, 1, 0, 3, 2, 5, 4, 7, 6))[0];
}
#ifdef _OPENMP
static inline int thread_index(void) { return omp_get_thread_num(); }     // this thread: 0 ... thread_count() - 1
static inline int thread_count(void) { return omp_get_num_threads(); }
#else
static inline int thread_index(void) { return 0; }
static inline int thread_count(void) { return 1; }
#endif
static inline float hsum(v8 x) { return ((x[0] + x[4]) + (x[1] + x[5])) + ((x[2] + x[6]) + (x[3] + x[7])); }
static inline float hsum16(v16 x) { float t = 0; for (int j = 0; j < 16; j++) t += x[j]; return t; }
#endif
