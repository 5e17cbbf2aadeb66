/* Deterministic randomness for the sample generator.
 *
 * Two kinds: a sequential splitmix64 stream (layout, dates, weather: drawn in a
 * fixed order in one thread) and stateless hashes of (seed, keys) for pixels, so
 * that a pixel's noise depends only on its ground position and date. That makes
 * the rendering order-free (threads, windows, tiles) and makes two overlapping
 * tiles of the same date agree pixel for pixel, as real Sentinel-2 tiles of one
 * datatake do. Never rand(): its sequence differs between C libraries. */
#ifndef MOWCHECK_SAMPLE_PRNG_H
#define MOWCHECK_SAMPLE_PRNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t prng_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct prng {
    uint64_t state;
} prng;

static inline prng prng_seeded(uint64_t seed) { return (prng){prng_mix64(seed)}; }

static inline uint64_t prng_next(prng *p)
{
    p->state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = p->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double prng_uniform(prng *p) { return (double)(prng_next(p) >> 11) * 0x1.0p-53; }

static inline double prng_range(prng *p, double lo, double hi)
{
    return lo + (hi - lo) * prng_uniform(p);
}

/* Uniform integer in [lo, hi]. */
static inline int prng_int(prng *p, int lo, int hi)
{
    return lo + (int)(prng_next(p) % (uint64_t)(hi - lo + 1));
}

/* A stateless hash of a seed and three keys. */
static inline uint64_t prng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = prng_mix64(seed ^ 0x5851f42d4c957f2dULL);
    h = prng_mix64(h ^ a);
    h = prng_mix64(h ^ b);
    return prng_mix64(h ^ c);
}

static inline double prng_hash_uniform(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

/* About N(0, 1) from one hash: the sum of four 16-bit uniforms (Irwin-Hall),
 * rescaled to unit variance. Cheap, and plenty for sensor noise. */
static inline double prng_hash_normal(uint64_t h)
{
    double s = (double)(h & 0xffff) + (double)((h >> 16) & 0xffff) +
               (double)((h >> 32) & 0xffff) + (double)(h >> 48);
    return (s / 65536.0 - 2.0) * 1.7320508075688772;
}

/* Smooth value noise in [0, 1): lattice values at integer points, smoothstep in between. */
static inline double prng_value_noise(uint64_t seed, double x, double y)
{
    double fx = floor(x), fy = floor(y);
    int64_t ix = (int64_t)fx, iy = (int64_t)fy;
    double tx = x - fx, ty = y - fy;
    tx = tx * tx * (3.0 - 2.0 * tx);
    ty = ty * ty * (3.0 - 2.0 * ty);
    double v00 = prng_hash_uniform(prng_hash(seed, (uint64_t)ix, (uint64_t)iy, 0));
    double v10 = prng_hash_uniform(prng_hash(seed, (uint64_t)(ix + 1), (uint64_t)iy, 0));
    double v01 = prng_hash_uniform(prng_hash(seed, (uint64_t)ix, (uint64_t)(iy + 1), 0));
    double v11 = prng_hash_uniform(prng_hash(seed, (uint64_t)(ix + 1), (uint64_t)(iy + 1), 0));
    double a = v00 + (v10 - v00) * tx;
    double b = v01 + (v11 - v01) * tx;
    return a + (b - a) * ty;
}

#endif
