/* The seeded generator of one sequence: xoshiro256** seeded by splitmix64.
 * Same seed, same stream, on every machine and thread count. */
#ifndef TSR_CORE_RNG_H
#define TSR_CORE_RNG_H

#include <stdint.h>

#include "tessera/plugin.h"

struct tsr_rng {
    uint64_t state[4];
};

void tsr_rng_seed(tsr_rng *rng, uint64_t seed);
uint64_t tsr_rng_next(tsr_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double tsr_rng_uniform(tsr_rng *rng);

#endif
