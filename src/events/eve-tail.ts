import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { EveFileConfig } from './config.js';
import { parseEveLine } from './eve.js';
import { LineSplitter } from './lines.js';
import { deliver, type EventDeps } from './sink.js';
import type { EventSource } from './source.js';
import { countWeird, newCounters } from './types.js';

export interface EveTailDeps extends EventDeps {
  dataDir: string;
  log: Logger;
}

interface SavedState {
  path: string;
  ino: number;
  offset: number;
}

/**
 * Follows Suricata's eve.json like `tail -F`: across rotation (the file renamed and a new one
 * created: the old one is read to its end first) and truncation (copytruncate: read again from
 * the start), resuming after a restart at the offset saved in the data directory.
 */
export class EveTail implements EventSource {
  readonly name: string;
  readonly format = 'eve';
  readonly counters = newCounters();
  readonly tail = { rotations: 0, truncations: 0 };
  private fd: number | null = null;
  private ino = -1;
  private offset = 0;
  private savedOffset = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly split: LineSplitter;
  private readonly buf = Buffer.allocUnsafe(256 * 1024);
  private readonly stateFile: string;

  constructor(
    private readonly cfg: EveFileConfig,
    private readonly deps: EveTailDeps,
  ) {
    this.name = `eve:${cfg.path}`;
    this.split = new LineSplitter(
      (l) => {
        this.counters.received++;
        deliver(parseEveLine(l.toString('utf8')), this.counters, this.deps);
      },
      () => {
        this.counters.received++;
        this.counters.dropped++;
        countWeird(this.counters, 'line_too_long');
      },
      cfg.maxLine,
    );
    const h = createHash('sha1').update(cfg.path).digest('hex').slice(0, 16);
    this.stateFile = join(deps.dataDir, 'events', `eve-tail-${h}.json`);
  }

  async start(): Promise<void> {
    mkdirSync(join(this.deps.dataDir, 'events'), { recursive: true });
    this.poll();
    this.timer = setInterval(() => this.poll(), this.cfg.pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.poll();
    this.save();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Read whatever is new; public so tests and `stop` can drive it without waiting. */
  poll(): void {
    let st: { ino: number; size: number };
    try {
      st = statSync(this.cfg.path);
    } catch {
      // Between a rename and the new file's creation: finish the old one.
      if (this.fd !== null) this.drain();
      return;
    }
    try {
      if (this.fd === null) this.open(st, true);
      else if (st.ino !== this.ino) {
        this.drain();
        closeSync(this.fd);
        this.fd = null;
        this.tail.rotations++;
        this.open(st, false);
      } else if (st.size < this.offset) {
        this.tail.truncations++;
        this.offset = 0;
        this.split.reset();
      }
      this.drain();
      this.save();
    } catch (e) {
      this.deps.log.warn(`events: reading ${this.cfg.path}: ${(e as Error).message}`);
    }
  }

  private open(st: { ino: number; size: number }, first: boolean): void {
    this.fd = openSync(this.cfg.path, 'r');
    this.ino = fstatSync(this.fd).ino;
    this.split.reset();
    this.offset = 0;
    if (!first) return;
    const saved = this.load();
    if (saved && saved.ino === this.ino && saved.offset <= st.size) this.offset = saved.offset;
    else if (!saved && this.cfg.from === 'end') this.offset = st.size;
  }

  private drain(): void {
    if (this.fd === null) return;
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) return;
      this.offset += n;
      this.counters.bytes += n;
      this.split.push(this.buf.subarray(0, n));
    }
  }

  private load(): SavedState | null {
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as SavedState;
      return s.path === this.cfg.path && Number.isInteger(s.ino) && Number.isInteger(s.offset) ? s : null;
    } catch {
      return null;
    }
  }

  /** The offset of the end of the last whole line: a partial line is read again after a restart. */
  private save(): void {
    if (this.fd === null) return;
    const off = this.offset - this.split.pendingBytes;
    if (off === this.savedOffset) return;
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify({ path: this.cfg.path, ino: this.ino, offset: off } satisfies SavedState),
    );
    renameSync(tmp, this.stateFile);
    this.savedOffset = off;
  }
}
