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
 * But both at 0 cost the store a third of its rows per CPU-second (207k against 317k, quiet,
 * bench/store-columns.ts), and the 400k/s run's last record came 39 s after the end instead
 * of 23 s. So freed pages stay reusable for DuckDB's 1 s and are then returned at once instead
 * of lingering a second more as lazily freed pages: 309k rows per CPU-second; at 400k/s peak
 * RSS 660 MB (736 with DuckDB's delays, 605 with both at 0), last record 16.7 s after the end.
 */
export const DUCKDB_ALLOCATOR_CONF = 'dirty_decay_ms:1000,muzzy_decay_ms:0';

process.env.DUCKDB_JE_MALLOC_CONF ??= DUCKDB_ALLOCATOR_CONF;
