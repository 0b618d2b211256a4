/**
 * Where a process's resident memory is, from /proc/PID/smaps, by kind of mapping: what a peak
 * RSS is made of when a soak breaks its budget. The kinds follow the allocators of this
 * program: files (code, the DuckDB library, mapped files), glibc's main heap (`[heap]`) and its
 * 64 MiB thread arenas, V8's pages and small buffers (mappings of 1 MiB or less), and the large
 * anonymous mappings, which are mostly DuckDB's allocator (jemalloc extents) and big Buffers.
 */
import { readFileSync } from 'node:fs';

export interface MemoryKinds {
  file: number;
  heap: number;
  small: number;
  arena64: number;
  mid: number;
  big: number;
}

export function memoryKinds(pid: number | 'self' = 'self'): MemoryKinds | null {
  const out: MemoryKinds = { file: 0, heap: 0, small: 0, arena64: 0, mid: 0, big: 0 };
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return null;
  }
  let kind: keyof MemoryKinds = 'small';
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      const size = Number.parseInt(m[2]!, 16) - Number.parseInt(m[1]!, 16);
      const name = m[3] ?? '';
      kind = name.startsWith('/')
        ? 'file'
        : name === '[heap]'
          ? 'heap'
          : size <= 1 << 20
            ? 'small'
            : size >= (64 << 20) - (1 << 20) && size <= 64 << 20
              ? 'arena64'
              : size < 64 << 20
                ? 'mid'
                : 'big';
      continue;
    }
    if (line.startsWith('Rss:')) out[kind] += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  }
  return out;
}

export function describeKinds(k: MemoryKinds): string {
  const mb = (n: number): string => (n / 1e6).toFixed(0);
  return `files ${mb(k.file)}, glibc heap ${mb(k.heap)} + 64 MiB arenas ${mb(k.arena64)}, ≤1 MiB mappings (V8, small) ${mb(k.small)}, 1–64 MiB ${mb(k.mid)}, > 64 MiB (DuckDB's jemalloc, big buffers) ${mb(k.big)} MB`;
}
