/*
 * Philox4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * Scalar reference form.  The AVX2 kernels evaluate the same rounds on eight
 * blocks at once (kernels_avx2.c); both are checked against the Random123
 * known-answer vectors in tests/test_philox.py.
 */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H

#include <stdint.h>

#define FI_PHILOX_M0 0xD2511F53u     /* multiplier applied to counter word 0 */
#define FI_PHILOX_M1 0xCD9E8D57u     /* multiplier applied to counter word 2 */
#define FI_PHILOX_W0 0x9E3779B9u     /* key bump for k0: golden ratio */
#define FI_PHILOX_W1 0xBB67AE85u     /* key bump for k1: sqrt(3) - 1 */
#define FI_PHILOX_ROUNDS 10

/* The ten round keys, precomputed once per call: key r = (k0 + r*W0, k1 + r*W1). */
typedef struct {
    uint32_t k0[FI_PHILOX_ROUNDS];
    uint32_t k1[FI_PHILOX_ROUNDS];
} fi_philox_key;

static inline void fi_philox_key_init(fi_philox_key *key, uint64_t seed)
{
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < FI_PHILOX_ROUNDS; r++) {
        key->k0[r] = k0;
        key->k1[r] = k1;
        k0 += FI_PHILOX_W0;
        k1 += FI_PHILOX_W1;
    }
}

static inline uint32_t fi_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t product = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(product >> 32);
    return (uint32_t)product;
}

/* One Philox4x32 block with an explicit round count (the KAT tests use 7). */
static inline void fi_philox4x32_rounds(const fi_philox_key *key, int rounds,
                                        const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int r = 0; r < rounds; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = fi_mulhilo32(FI_PHILOX_M0, c0, &hi0);
        uint32_t lo1 = fi_mulhilo32(FI_PHILOX_M1, c2, &hi1);
        c0 = hi1 ^ c1 ^ key->k0[r];
        c1 = lo1;
        c2 = hi0 ^ c3 ^ key->k1[r];
        c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/*
 * Block `block` of stream `stream` (stream v1): counter
 * (block mod 2^32, block >> 32, stream mod 2^32, stream >> 32).
 */
static inline void fi_philox_block(const fi_philox_key *key, uint64_t stream,
                                   uint64_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32),
                       (uint32_t)stream, (uint32_t)(stream >> 32)};
    fi_philox4x32_rounds(key, FI_PHILOX_ROUNDS, ctr, out);
}

#endif
