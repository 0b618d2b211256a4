import { PassThrough } from 'node:stream';
import type { Rec } from '../store/types.js';

export type ExportFormat = 'json' | 'ndjson' | 'csv' | 'parquet';

export const CONTENT_TYPE: Record<ExportFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

/** The export format an Accept header asks for, if any (JSON means "a page", not an export). */
export function formatFromAccept(accept: string | undefined): ExportFormat | null {
  if (!accept) return null;
  const a = accept.toLowerCase();
  if (a.includes('application/x-ndjson') || a.includes('application/ndjson')) return 'ndjson';
  if (a.includes('text/csv')) return 'csv';
  if (a.includes('parquet')) return 'parquet';
  return null;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * A stream that renders rows as they come; `write` waits when the client reads slowly so a
 * large export never sits in memory whole.
 */
export class RowStream {
  readonly stream = new PassThrough();
  private first = true;

  constructor(
    private readonly format: Exclude<ExportFormat, 'parquet'>,
    private readonly fields: string[],
    type = '',
  ) {
    if (format === 'csv') this.stream.write(`${fields.map(csvCell).join(',')}\r\n`);
    // A JSON export is one page holding every row: the same shape as a page of the list.
    if (format === 'json') this.stream.write(`{"type":${JSON.stringify(type)},"items":[`);
  }

  async write(rows: Rec[]): Promise<void> {
    let s = '';
    for (const r of rows) {
      if (this.format === 'ndjson') s += `${JSON.stringify(r)}\n`;
      else if (this.format === 'json') {
        s += `${this.first ? '\n' : ',\n'}${JSON.stringify(r)}`;
        this.first = false;
      } else s += `${this.fields.map((f) => csvCell(r[f])).join(',')}\r\n`;
    }
    if (this.stream.destroyed) throw new Error('client went away');
    if (!this.stream.write(s)) {
      await new Promise<void>((res, rej) => {
        this.stream.once('drain', res);
        this.stream.once('close', () => rej(new Error('client went away')));
      });
    }
  }

  end(): void {
    if (this.format === 'json') this.stream.write('\n],"next":null}\n');
    this.stream.end();
  }
}

/** Parse CSV text (RFC 4180) into rows of cells; used by tests and tools. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
