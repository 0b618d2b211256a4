import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** The Python venv with the OASIS tools (stix2-matcher, stix2-validator, medallion, taxii2-client, pymisp). */
export function peersPython(): string | null {
  const base = process.env.VANTAGE_PEERS ?? join(process.env.HOME ?? '/root', '.cache', 'vantage-peers');
  const py = join(base, 'pyvenv', 'bin', 'python');
  return existsSync(py) ? py : null;
}

/** The venv's python with `module` importable, or skip (fail in CI) naming it. */
export function needPython(t: TestContext, module: string): string | null {
  const py = peersPython();
  const ok = py !== null && spawnSync(py, ['-c', `import ${module}`]).status === 0;
  if (ok) return py;
  const msg = `oracle ${module} (Python venv under $VANTAGE_PEERS/pyvenv) is not installed`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return null;
}

/** Run a Python snippet with JSON on stdin; its stdout parsed as JSON. */
export function runPython(py: string, code: string, input: unknown): unknown {
  const r = spawnSync(py, ['-c', code], { input: JSON.stringify(input), maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString());
}
