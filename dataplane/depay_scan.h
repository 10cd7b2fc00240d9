/* SPDX-License-Identifier: MIT */
/* The start code prefix scan of NAL unit bytes, which touches every payload
 * byte on the worker's path: vectorized (AVX2 where the CPU has it, else
 * SSE2, else 8 bytes at a time), with a byte loop for the first two bytes
 * and for what is too short for a block. Each width
 * is kept so that tests and benchmarks can hold them against one another. */
#ifndef VIGIL_DEPAY_SCAN_H
#define VIGIL_DEPAY_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/*
 * Emulation prevention (H.264 7.4.1, H.265 7.4.2) keeps 00 00 00, 00 00 01
 * and 00 00 02 out of every NAL unit: an encoder writes 00 00 03 xx for
 * them, so 00 00 03 is allowed. A NAL unit that holds one anyway would
 * split into other NAL units, made up by the sender, once it is in the
 * Annex-B byte stream. Its last byte is not 00 either (it holds the
 * rbsp_stop_one_bit, or is the 03 of a cabac_zero_word).
 *
 * Byte p[j] (j >= 2) ends a prefix when p[j-2] | p[j-1] | sat(p[j] - 2)
 * is 0: three loads a byte apart, a saturating subtract, two ORs and a
 * compare for 16 or 32 positions at once. The scan carries `zeros`, how
 * many 00 bytes (at most 2) end the bytes before p: a NAL unit's fragments
 * are scanned one after the other.
 */

/* The bytes [i, len) of p one at a time. */
static inline bool depay_scan_bytes(const uint8_t *p, size_t i, size_t len, unsigned *zeros)
{
	unsigned z = *zeros;

	for (; i < len; i++) {
		if (z == 2 && p[i] <= 2)
			return false;
		z = p[i] != 0 ? 0 : z + (z < 2);
	}
	*zeros = z;
	return true;
}

/* Blocks from *i (>= 2) on, as far as they fit in len (the vector widths
 * also the rest, as a block that ends at len, when len allows): false at
 * a prefix, else *i moves past what they saw. */
typedef bool depay_scan_blocks_fn(const uint8_t *p, size_t *i, size_t len);

static inline bool depay_scan_blocks_words(const uint8_t *p, size_t *pos, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = *pos;

	for (; len - i >= 8; i += 8) {
		uint64_t a, b, v;

		memcpy(&a, p + i - 2, 8);
		memcpy(&b, p + i - 1, 8);
		v = a | b;
		/* Nonzero iff some byte of v is 00: two 00 bytes in a row. */
		if (((v - ones) & ~v & highs) != 0)
			for (size_t j = i; j < i + 8; j++)
				if (p[j - 2] == 0 && p[j - 1] == 0 && p[j] <= 2)
					return false;
	}
	*pos = i;
	return true;
}

#if defined(__SSE2__)
static inline bool depay_scan_blocks_sse2(const uint8_t *p, size_t *pos, size_t len)
{
	const __m128i two = _mm_set1_epi8(2), zero = _mm_setzero_si128();
	size_t i = *pos;

	for (;; i += 16) {
		__m128i a, b, c, v;

		if (len - i < 16) { /* the rest: as for AVX2, below */
			if (i == len || len < 18)
				break;
			i = len - 16;
		}
		a = _mm_loadu_si128((const __m128i *)(p + i - 2));
		b = _mm_loadu_si128((const __m128i *)(p + i - 1));
		c = _mm_loadu_si128((const __m128i *)(p + i));
		v = _mm_or_si128(_mm_or_si128(a, b), _mm_subs_epu8(c, two));
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) != 0)
			return false;
		if (i + 16 == len) {
			i = len;
			break;
		}
	}
	*pos = i;
	return true;
}
#endif

#if defined(__x86_64__)
#define DEPAY_SCAN_AVX2 1
/* Built for AVX2 whatever the build's -march (DPDK's pkg-config says
 * corei7), used where the CPU has it. Tuned as for the first AVX2 cores:
 * GCC's generic tuning splits each unaligned 32-byte load in two, which
 * made the scan twice as slow here. */
__attribute__((target("avx2,tune=haswell"))) static inline bool
depay_scan_blocks_avx2(const uint8_t *p, size_t *pos, size_t len)
{
	const __m256i two = _mm256_set1_epi8(2), zero = _mm256_setzero_si256();
	size_t i = *pos;

	for (;; i += 32) {
		__m256i a, b, c, v;

		/* The rest, shorter than a block, as one block that ends at
		 * len and overlaps the last (a position seen twice gives the
		 * same answer): no byte loop for it. */
		if (len - i < 32) {
			if (i == len || len < 34)
				break;
			i = len - 32;
		}
		a = _mm256_loadu_si256((const __m256i *)(p + i - 2));
		b = _mm256_loadu_si256((const __m256i *)(p + i - 1));
		c = _mm256_loadu_si256((const __m256i *)(p + i));
		v = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_subs_epu8(c, two));
		if (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)) != 0)
			return false;
		if (i + 32 == len) {
			i = len;
			break;
		}
	}
	*pos = i;
	return true;
}
#endif

/* The first two bytes (they follow the carried zeros) and what blocks leave
 * over, a byte at a time; blocks in between. */
static inline __attribute__((always_inline)) bool
depay_scan_with(depay_scan_blocks_fn *blocks, const uint8_t *p, size_t len, unsigned *zeros)
{
	size_t i = len < 2 ? len : 2;
	unsigned z = *zeros;

	if (!depay_scan_bytes(p, 0, i, &z) || !blocks(p, &i, len))
		return false;
	if (i > 2)
		z = p[i - 1] != 0 ? 0 : p[i - 2] != 0 ? 1 : 2;
	if (!depay_scan_bytes(p, i, len, &z))
		return false;
	*zeros = z;
	return true;
}

/* Whether the len bytes at p, which follow *zeros 00 bytes of the same NAL
 * unit, hold no start code prefix; *zeros then counts those that end them. */
static inline bool depay_scan(const uint8_t *p, size_t len, unsigned *zeros)
{
#if defined(DEPAY_SCAN_AVX2)
	if (__builtin_cpu_supports("avx2"))
		return depay_scan_with(depay_scan_blocks_avx2, p, len, zeros);
#endif
#if defined(__SSE2__)
	return depay_scan_with(depay_scan_blocks_sse2, p, len, zeros);
#else
	return depay_scan_with(depay_scan_blocks_words, p, len, zeros);
#endif
}

/* Every block width this build has, narrowest first, named: the one list
 * the unit test, the fuzz target and the bench hold against each other. */
struct depay_scan_width {
	const char *name;
	depay_scan_blocks_fn *blocks;
};

static const struct depay_scan_width depay_scan_widths[] = {
	{"words", depay_scan_blocks_words},
#if defined(__SSE2__)
	{"sse2", depay_scan_blocks_sse2},
#endif
#if defined(DEPAY_SCAN_AVX2)
	{"avx2", depay_scan_blocks_avx2},
#endif
};

#define DEPAY_SCAN_WIDTHS (sizeof(depay_scan_widths) / sizeof(depay_scan_widths[0]))

/* Whether this CPU runs w (a build for x86-64 has AVX2's, a CPU may not). */
static inline bool depay_scan_width_usable(const struct depay_scan_width *w)
{
#if defined(DEPAY_SCAN_AVX2)
	if (w->blocks == depay_scan_blocks_avx2)
		return __builtin_cpu_supports("avx2");
#endif
	(void)w;
	return true;
}

/* A whole NAL unit: no start code prefix, and not ending in 00. */
static inline bool depay_nal_clean(const uint8_t *nal, size_t len)
{
	unsigned zeros = 0;

	return depay_scan(nal, len, &zeros) && zeros == 0;
}

#endif
