/* SPDX-License-Identifier: MIT */
/* Frame buffers: one reserved mapping carved into equal buffers, with a
 * lock-free rte_ring as the free list (workers take, the recorder returns).
 * Pages are committed only as frames touch them. Needs no running EAL. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <rte_common.h>
#include <rte_ring.h>

#include "vigil/frame.h"

struct vigil_frame_pool {
	struct rte_ring *free;
	uint8_t *mem;
	size_t mem_len;
	size_t stride;
	uint32_t frame_bytes;
};

struct vigil_frame_pool *vigil_frame_pool_create(const char *name, unsigned count, size_t frame_bytes)
{
	struct vigil_frame_pool *pool;
	unsigned ring_size = rte_align32pow2(count + 1);
	ssize_t ring_len = rte_ring_get_memsize(ring_size);

	if (count == 0 || frame_bytes == 0 || frame_bytes > UINT32_MAX || ring_len < 0) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	pool->free = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL((size_t)ring_len, RTE_CACHE_LINE_SIZE));
	if (pool->free == NULL)
		goto err_pool;
	if (rte_ring_init(pool->free, name, ring_size, 0) < 0) {
		errno = EINVAL;
		goto err_ring;
	}
	pool->stride = RTE_ALIGN_CEIL(sizeof(struct vigil_frame) + frame_bytes, 4096);
	pool->mem_len = pool->stride * count;
	pool->mem = mmap(NULL, pool->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	if (pool->mem == MAP_FAILED)
		goto err_ring;
	pool->frame_bytes = (uint32_t)frame_bytes;
	/* Only addresses: a buffer's pages stay uncommitted until it is used. */
	for (unsigned i = 0; i < count; i++)
		rte_ring_enqueue(pool->free, pool->mem + (size_t)i * pool->stride);
	return pool;

err_ring:
	free(pool->free);
err_pool:
	free(pool);
	return NULL;
}

void vigil_frame_pool_free(struct vigil_frame_pool *pool)
{
	if (pool == NULL)
		return;
	munmap(pool->mem, pool->mem_len);
	free(pool->free);
	free(pool);
}

struct vigil_frame *vigil_frame_get(struct vigil_frame_pool *pool)
{
	void *f;

	if (rte_ring_dequeue(pool->free, &f) != 0)
		return NULL;
	((struct vigil_frame *)f)->cap = pool->frame_bytes;
	return f;
}

void vigil_frame_put(struct vigil_frame_pool *pool, struct vigil_frame *f)
{
	f->len = 0;
	f->flags = 0;
	/* Cannot fail: the ring holds every buffer the pool has. */
	rte_ring_enqueue(pool->free, f);
}

unsigned vigil_frame_pool_available(const struct vigil_frame_pool *pool)
{
	return rte_ring_count(pool->free);
}
