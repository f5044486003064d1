// poselift's CPU kernels: the functions Python calls (through ctypes, see poselift/kernels.py) and the layout of the
// attention kernel's job, which poselift.kernels._AttentionJob mirrors field by field (checked on load via job_size()).
// float32 or bfloat16 storage, float32 arithmetic. Every function returns 0, 1 for a size it does not take, or 2 when
// a buffer could not be allocated; its last argument is the number of OpenMP threads (PyTorch's pool: same libgomp).
// - attention.c: multi-head self-attention over a short token axis, straight from the qkv projections. One group = one
//   sequence, all heads: its q, k, v rows (plus the projection's bias) are copied into small float32 buffers that stay
//   in cache, each head's logits, softmax and weighted sum are computed row by row, and the result is written straight
//   into the merged (..., C) layout. Backward recomputes the weights from each row's saved max and normaliser, and sums
//   the bias gradient on the way. Features per head must be a multiple of 8.
// - bias_gelu.c: the MLP's bias + exact GELU, forward and backward (with the bias gradient), in one pass each.
// - layer_norm.c: LayerNorm forward and backward (with the gradients of its weight and bias), writing the next
//   product's dtype. The widths of both must be a multiple of 16.
// simd.h holds the vector types and helpers they share.
#ifndef POSELIFT_KERNELS_H
#define POSELIFT_KERNELS_H
#include <stdint.h>

typedef struct {
    const void *qkv;      // (..., 3C) projections; q at +0, k at +C, v at +2C of each token, head h at +h*c
    const void *go;       // backward: gradient of the output, laid out as the output
    void *out;            // forward: output (..., C); backward: gradient of qkv, laid out as qkv
    float *stats;         // (groups, H, L, 2): each query row's largest logit and 1 / sum of its exponentials, for backward
    const float *bias;    // (3C) float32 bias of the projections, added to qkv as it is read; NULL: none
    float *dbias;         // backward: (threads, 3C) per-worker sums of the gradient of qkv over tokens; NULL: not wanted
    int64_t n0, n1, heads, L, c, C;             // batch counts, heads, tokens, features per head, features
    int64_t is0, is1, isl, os0, os1, osl;       // strides in elements of the two batch dims and the token axis: qkv, output
    float scale;                                // logit scale, usually c^-1/2
    int bf16;                                   // storage is bfloat16 (else float32)
    int64_t begin, end;                         // group range of one worker
    int failed;                                 // set when a worker could not allocate its buffers
} job_t;

int attention_forward(job_t *J, int threads);    // J->out <- attention output; J->stats <- each row's max, 1 / sum
int attention_backward(job_t *J, int threads);   // J->out <- gradient of qkv (J->dbias: per-worker bias sums)
int job_size(void);                              // sizeof(job_t), for the ctypes mirror's check

int bias_gelu_forward(const void *h, const float *b, void *a, int64_t M, int64_t N, int bf16, int threads);
int bias_gelu_backward(const void *g, const void *h, const float *b, void *gh, float *gb, int64_t M, int64_t N, int bf16,
                       int threads);

int layer_norm_forward(const void *x, const float *w, const float *b, void *y, float *mean, float *rstd, int64_t M,
                       int64_t C, float eps, int x_bf16, int y_bf16, int threads);
int layer_norm_backward(const void *gy, const void *x, const float *w, const float *mean, const float *rstd, void *gx,
                        float *gw, float *gb, int64_t M, int64_t C, int gy_bf16, int x_bf16, int threads);
#endif
