import './allocator.js';
import { createRequire } from 'node:module';
import type * as Api from '@duckdb/node-api';

/**
 * `@duckdb/node-api` taken with `require`, not `import`. The package is CommonJS whose index
 * re-exports ~190 files; an ESM `import` of it makes Node lex every one of them for its named
 * exports (cjs-module-lexer, in JavaScript: hot enough that Turbofan compiles its `parseSource`
 * on the compiler threads): ~0.12 CPU-s more than a `require` at every start of the process
 * (bench/README.md, 2026-12-07, branch s22-v8thr27). Types come from the package itself.
 */
const api = createRequire(import.meta.url)('@duckdb/node-api') as typeof Api;

export const { BIGINT, BOOLEAN, DOUBLE, TIMESTAMP, UBIGINT, UHUGEINT, VARCHAR, listValue } = api;
export const DuckDBAppender = api.DuckDBAppender;
export type DuckDBAppender = Api.DuckDBAppender;
export const DuckDBDataChunk = api.DuckDBDataChunk;
export type DuckDBDataChunk = Api.DuckDBDataChunk;
export const DuckDBInstance = api.DuckDBInstance;
export type DuckDBInstance = Api.DuckDBInstance;
export const DuckDBTableFunction = api.DuckDBTableFunction;
export type DuckDBTableFunction = Api.DuckDBTableFunction;
export type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
