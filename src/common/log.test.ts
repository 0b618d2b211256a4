import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, LOG_BURST, LOG_FIELD_MAX, LOG_WINDOW_MS } from './log.js';

/** The lines a logger writes while fn runs. */
function captured(fn: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => {
    lines.push(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a long field is cut, saying by how much', () => {
  const log = createLogger('t', 'info');
  const [line] = captured(() => log.error('boom', { error: 'x'.repeat(LOG_FIELD_MAX + 5), n: 3 }));
  assert.equal(line!.error, `${'x'.repeat(LOG_FIELD_MAX)}… (5 more characters)`);
  assert.equal(line!.n, 3);
});

test('a repeated warning or error is written LOG_BURST times per window, then counted', () => {
  let t = 0;
  const log = createLogger('t', 'info', () => t);
  const lines = captured(() => {
    for (let i = 0; i < LOG_BURST + 30; i++) log.error('request failed', { i });
    log.warn('other', {});
    for (let i = 0; i < 5; i++) log.info('progress', { i });
    t += LOG_WINDOW_MS;
    log.error('request failed', { i: 'next' });
  });
  const failed = lines.filter((l) => l.msg === 'request failed');
  assert.equal(failed.length, LOG_BURST + 2);
  assert.deepEqual(
    failed.slice(0, LOG_BURST).map((l) => l.i),
    Array.from({ length: LOG_BURST }, (_, i) => i),
  );
  assert.equal(failed[LOG_BURST]!.suppressed, 30);
  assert.equal(failed[LOG_BURST + 1]!.i, 'next');
  assert.equal(lines.filter((l) => l.msg === 'other').length, 1);
  // Info lines are never held back.
  assert.equal(lines.filter((l) => l.msg === 'progress').length, 5);
});
