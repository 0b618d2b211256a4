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

/**
 * runPython without blocking the event loop: for snippets that talk to a server running in
 * this process (taxii2-client reading our TAXII endpoint).
 */
export async function runPythonAsync(py: string, code: string, input: unknown): Promise<unknown> {
  const { spawn } = await import('node:child_process');
  const p = spawn(py, ['-c', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  p.stdout.on('data', (b: Buffer) => out.push(b));
  p.stderr.on('data', (b: Buffer) => err.push(b));
  p.stdin.end(JSON.stringify(input));
  const status = await new Promise<number | null>((r) => p.on('close', r));
  if (status !== 0) throw new Error(`python failed: ${Buffer.concat(err).toString()}`);
  return JSON.parse(Buffer.concat(out).toString());
}
