/**
 * The ingest's defaults that its command line reads before the ingest's own modules load (they
 * load while the store opens: src/cli/ingest-store.ts).
 */

/**
 * Worker threads by default: none. On this 2-core class of machine the one-thread path already
 * keeps 1.3 cores busy (DuckDB's and the recorder's I/O threads), and the worker path measured
 * the same wall time for 30% more CPU and 120 MB more RSS (bench/README.md, 2026-12-06): it
 * pays where cores are idle, so it is asked for with `workers`.
 */
export const DEFAULT_INGEST_WORKERS = 0;
