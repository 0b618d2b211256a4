import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./stream-child.js', import.meta.url));

/** A streaming child and the last alert it reported durable. */
export class StreamChild {
  readonly proc: ChildProcess;
  lastPublished = -1;
  done: string | null = null;
  private readonly listeners: (() => void)[] = [];

  constructor(dataDir: string, sinks: unknown[], first: number, count: number) {
    this.proc = spawn(
      process.execPath,
      [CHILD, dataDir, JSON.stringify(sinks), String(first), String(count)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buf = '';
    this.proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('published ')) this.lastPublished = Number(line.slice(10));
        if (line.startsWith('done')) this.done = line;
        for (const l of this.listeners) l();
        nl = buf.indexOf('\n');
      }
    });
    this.proc.on('exit', () => {
      for (const l of this.listeners) l();
    });
  }

  /** Resolves once `cond` holds (checked at each line the child prints) or the child exits. */
  until(cond: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) resolve();
        else if (this.proc.exitCode !== null || this.proc.signalCode !== null)
          reject(new Error(`child exited (${this.proc.exitCode ?? this.proc.signalCode}) first`));
        else return;
        this.listeners.splice(this.listeners.indexOf(check), 1);
      };
      this.listeners.push(check);
      check();
    });
  }

  kill9(): Promise<void> {
    const p = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGKILL');
    return p;
  }
}

/** Count how often each expected id arrived; missing ids and duplicates. */
export function tally(
  expected: number,
  ids: string[],
): { missing: number[]; duplicates: number; distinct: number } {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  const missing: number[] = [];
  for (let i = 0; i < expected; i++) if (!seen.has(`alert-${i}`)) missing.push(i);
  return { missing, duplicates: ids.length - seen.size, distinct: seen.size };
}
