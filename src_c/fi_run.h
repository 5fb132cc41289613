/*
 * The loop every kernel shares: a partial Philox block at the head, whole
 * batches of NB blocks in the body, single blocks, then a partial block at
 * the tail.  Values depend only on the element index, so where a run starts
 * or ends never changes a bit.
 */
#ifndef FASTINIT_RUN_H
#define FASTINIT_RUN_H

#include <stdint.h>
#include <string.h>

#include "fastinit.h"

/*
 * NAME(p, first, count, dst): elements [first, first+count) of type T, EPB
 * per Philox block; UNIT(p, block, T *out) makes one block, BATCH(p, block,
 * T *out) makes NB consecutive blocks.  Before the batches, up to ALIGN_PEEL
 * single blocks are made until dst is ALIGN-byte aligned (for streaming
 * stores; FI_DEFINE_FILL: 32 bytes); FINISH(p) runs at the end.
 */
#define FI_DEFINE_FILL(NAME, T, EPB, UNIT, NB, BATCH, ALIGN_PEEL, FINISH)       \
    FI_DEFINE_FILL_ALIGNED(NAME, T, EPB, UNIT, NB, BATCH, ALIGN_PEEL, 32, FINISH)

#define FI_DEFINE_FILL_ALIGNED(NAME, T, EPB, UNIT, NB, BATCH, ALIGN_PEEL, ALIGN, FINISH) \
    static void NAME(const fi_params *p, uint64_t first, size_t count, void *dst_) \
    {                                                                           \
        T *dst = (T *)dst_;                                                     \
        T tmp[EPB];                                                             \
        uint64_t block = first / (EPB);                                         \
        size_t offset = (size_t)(first % (EPB));                                \
        if (offset && count) {                                                  \
            size_t n = (EPB) - offset < count ? (EPB) - offset : count;         \
            UNIT(p, block++, tmp);                                              \
            memcpy(dst, tmp + offset, n * sizeof(T));                           \
            dst += n;                                                           \
            count -= n;                                                         \
        }                                                                       \
        for (int peel = 0; peel < (ALIGN_PEEL) && count >= (size_t)(NB) * (EPB) \
                           && ((uintptr_t)dst & ((ALIGN) - 1u)); peel++) {      \
            UNIT(p, block++, dst);                                              \
            dst += (EPB);                                                       \
            count -= (EPB);                                                     \
        }                                                                       \
        for (; count >= (size_t)(NB) * (EPB); count -= (size_t)(NB) * (EPB)) {  \
            BATCH(p, block, dst);                                               \
            block += (NB);                                                      \
            dst += (size_t)(NB) * (EPB);                                        \
        }                                                                       \
        for (; count >= (EPB); count -= (EPB)) {                                \
            UNIT(p, block++, dst);                                              \
            dst += (EPB);                                                       \
        }                                                                       \
        if (count) {                                                            \
            UNIT(p, block, tmp);                                                \
            memcpy(dst, tmp, count * sizeof(T));                                \
        }                                                                       \
        FINISH(p);                                                              \
    }

#endif
