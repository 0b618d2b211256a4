/**
 * DuckDB's allocator (jemalloc inside the library) configuration for this process, when the
 * environment does not set one (`DUCKDB_JE_MALLOC_CONF`, read once when the library loads: so
 * this module is imported before `@duckdb/node-api` by every module that imports it).
 *
 * DuckDB keeps the pages it frees for 1 s (`dirty_decay_ms`) and then 1 s more as lazily freed
 * pages (`muzzy_decay_ms`, MADV_FREE), which stay in the process's RSS until the kernel needs
 * them. A store taking a backlog frees and allocates its buffer pool's blocks at every commit
 * and checkpoint (the pool swung between 2 and 170 MB within seconds), so each freed block was
 * resident twice for about 2 s, once freed and once allocated again. Measured with
 * bench/collect-store.ts --trace at 400k records/s: the anonymous memory beside V8's heaps,
 * Buffers and DuckDB's pool was 130–380 MB with DuckDB's delays, 14–92 MB with both at 0.
 */
export const DUCKDB_ALLOCATOR_CONF = 'dirty_decay_ms:0,muzzy_decay_ms:0';

process.env.DUCKDB_JE_MALLOC_CONF ??= DUCKDB_ALLOCATOR_CONF;
