import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { fixture } from '../../test/support/fixtures.js';
import { pcapFile, pcapngFile, type TestPacket } from '../../test/support/pcap-writer.js';
import { readCaptureFile } from './capture-file.js';
import type { Frame } from './frame.js';

const tmp = mkdtempSync(join(tmpdir(), 'vantage-capture-'));

interface Seen {
  ts: string;
  len: number;
  wire: number;
  link: number;
  ifIndex: number;
  sum: number;
}

async function readAll(path: string): Promise<{ seen: Seen[]; error: string | null; offset: number | null }> {
  const seen: Seen[] = [];
  const r = await readCaptureFile(path, (f: Frame) => {
    let sum = 0;
    for (let i = f.off; i < f.off + f.caplen; i++) sum = (sum * 31 + f.buf[i]!) >>> 0;
    seen.push({
      ts: `${f.tsSec}.${String(f.tsNs).padStart(9, '0')}`,
      len: f.caplen,
      wire: f.wirelen,
      link: f.linkType,
      ifIndex: f.ifIndex,
      sum,
    });
  });
  return { seen, error: r.error?.message ?? null, offset: r.error?.offset ?? null };
}

function write(name: string, data: Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
}

describe('pcap reader', () => {
  test('reads a real capture with the timestamps tshark reports', async () => {
    const { seen, error } = await readAll(fixture('tcp-bulk-transfer-timestamps.pcap'));
    assert.equal(error, null);
    assert.equal(seen.length, 878);
    assert.equal(seen[0]!.ts, '1533585360.505285000');
    assert.equal(seen.at(-1)!.ts, '1533585361.054417000');
  });

  test('nanosecond pcap on Linux cooked capture', async () => {
    const { seen } = await readAll(fixture('sll-tcp-handshake-nanosecond.pcap'));
    assert.equal(seen.length, 3);
    assert.equal(seen[0]!.ts, '1418145369.924505488');
    assert.equal(seen[2]!.ts, '1418145370.052115157');
    assert.equal(seen[0]!.link, 113);
  });

  const pkts: TestPacket[] = Array.from({ length: 50 }, (_, i) => ({
    data: Buffer.alloc(60 + i * 7, i),
    tsSec: 1_700_000_000 + i,
    tsNs: i * 1_234_567,
    wirelen: 60 + i * 7 + (i % 3),
  }));
  for (const be of [false, true]) {
    for (const ns of [false, true]) {
      test(`${be ? 'big' : 'little'}-endian ${ns ? 'nanosecond' : 'microsecond'} pcap`, async () => {
        const { seen, error } = await readAll(
          write(`v-${be}-${ns}.pcap`, pcapFile(pkts, { be, ns, linkType: 101 })),
        );
        assert.equal(error, null);
        assert.equal(seen.length, pkts.length);
        seen.forEach((s, i) => {
          const p = pkts[i]!;
          const wantNs = ns ? p.tsNs : Math.floor(p.tsNs / 1000) * 1000;
          assert.equal(s.ts, `${p.tsSec}.${String(wantNs).padStart(9, '0')}`);
          assert.equal(s.len, p.data.length);
          assert.equal(s.wire, p.wirelen);
          assert.equal(s.link, 101);
        });
      });
    }
  }

  test('gzip-compressed capture reads the same as the plain one', async () => {
    const plain = readFileSync(fixture('http-methods-many.pcap'));
    const a = await readAll(fixture('http-methods-many.pcap'));
    const b = await readAll(write('gz.pcap.gz', gzipSync(plain)));
    assert.equal(b.error, null);
    assert.deepEqual(b.seen, a.seen);
  });

  test('records crossing the read-chunk edge (file larger than several chunks)', async () => {
    const big: TestPacket[] = [];
    for (let i = 0; i < 9000; i++) {
      const d = Buffer.alloc(1000 + (i % 517));
      d.writeUInt32BE(i, 0);
      big.push({ data: d, tsSec: 1_600_000_000, tsNs: i });
    }
    const path = write('big.pcap', pcapFile(big));
    const { seen, error } = await readAll(path);
    assert.equal(error, null);
    assert.equal(seen.length, big.length);
    for (let i = 0; i < big.length; i += 997) assert.equal(seen[i]!.len, 1000 + (i % 517));
  });

  test('a file cut in the middle of a record yields every whole packet, then the offset', async () => {
    const data = readFileSync(fixture('tcp-bulk-transfer-timestamps.pcap'));
    const cut = data.subarray(0, data.length - 100);
    const whole = (await readAll(fixture('tcp-bulk-transfer-timestamps.pcap'))).seen;
    let end = 24;
    let complete = 0;
    for (const s of whole) {
      end += 16 + s.len;
      if (end > cut.length) break;
      complete++;
    }
    const { seen, error, offset } = await readAll(write('cut.pcap', cut));
    assert.equal(seen.length, complete);
    assert.ok(complete >= 876);
    assert.match(error ?? '', /truncated/);
    assert.ok(offset !== null && offset > 0 && offset < cut.length);
  });

  test('a corrupt record length stops the read after the valid packets (as tshark)', async () => {
    const { seen, error, offset } = await readAll(fixture('corrupt-record-length-tls.pcap'));
    assert.equal(seen.length, 6);
    assert.match(error ?? '', /captured length 4325376 exceeds/);
    assert.equal(offset, 5035);
  });

  test('not a capture file', async () => {
    const { seen, error } = await readAll(write('junk.pcap', Buffer.from('hello, this is not a capture')));
    assert.equal(seen.length, 0);
    assert.match(error ?? '', /not a pcap or pcapng file/);
  });

  test('empty file', async () => {
    const { error } = await readAll(write('empty.pcap', Buffer.alloc(0)));
    assert.match(error ?? '', /empty file/);
  });
});

describe('pcapng reader', () => {
  test('two interfaces with nanosecond and microsecond resolution (as tshark)', async () => {
    const { seen, error } = await readAll(fixture('pcapng-two-interfaces-dns.pcapng'));
    assert.equal(error, null);
    assert.deepEqual(
      seen.map((s) => [s.ts, s.ifIndex]),
      [
        ['1767663089.500330493', 0],
        ['1767663089.514291940', 0],
        ['1767663437.111897000', 1],
        ['1767663437.126460000', 1],
        ['1767663437.128303000', 1],
        ['1767663437.140942000', 1],
      ],
    );
  });

  for (const be of [false, true]) {
    test(`${be ? 'big' : 'little'}-endian section, interfaces of different link types and binary resolution`, async () => {
      const ifaces = [{ linkType: 1, tsresol: 9 }, { linkType: 101 }, { linkType: 276, tsresol: 0x80 | 20 }];
      const pkts: TestPacket[] = Array.from({ length: 30 }, (_, i) => ({
        data: Buffer.alloc(40 + i, i),
        tsSec: 1_750_000_000 + i,
        tsNs: 500_000_000 + i * 1000,
        ifIndex: i % 3,
      }));
      const { seen, error } = await readAll(write(`ng-${be}.pcapng`, pcapngFile(ifaces, pkts, { be })));
      assert.equal(error, null);
      assert.equal(seen.length, 30);
      seen.forEach((s, i) => {
        assert.equal(s.ifIndex, i % 3);
        assert.equal(s.link, ifaces[i % 3]!.linkType);
        assert.equal(s.len, 40 + i);
        const [sec, frac] = s.ts.split('.');
        assert.equal(Number(sec), 1_750_000_000 + i);
        // 2^-20 s resolution is ~954 ns: allow for it
        assert.ok(Math.abs(Number(frac) - (500_000_000 + i * 1000)) < 1000, s.ts);
      });
    });
  }

  test('a block whose trailing length disagrees is reported with its offset', async () => {
    const good = pcapngFile([{ linkType: 1 }], [{ data: Buffer.alloc(60), tsSec: 1, tsNs: 0 }]);
    const bad = Buffer.from(good);
    bad.writeUInt32LE(12345, bad.length - 4);
    const { seen, error } = await readAll(write('badtrail.pcapng', bad));
    assert.equal(seen.length, 0);
    assert.match(error ?? '', /trailing length/);
  });
});
