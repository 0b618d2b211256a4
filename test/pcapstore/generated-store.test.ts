import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { generate } from '../../bench/gen-capture.js';
import { recordFiles } from '../../src/pcapstore/record-files.js';
import { searchToStream } from '../../src/pcapstore/search.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { records, sameRecords, tcpdumpSelect, tcpdumpSkip } from './helpers.js';

/** A generated capture of ~100 MB over several segments: what tcpdump selects, we select. */
describe('generated store agrees with tcpdump', { skip: tcpdumpSkip() }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-gen-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const PACKETS = Number(process.env.PCAPSTORE_TEST_PACKETS ?? 150_000);

  it('for a table of filters, over every segment, byte for byte and in order', async () => {
    const cap = join(tmp, 'gen.pcap');
    generate(cap, PACKETS);
    const dir = join(tmp, 'store');
    await recordFiles([cap], { dir, fsync: false, segmentBytes: 24 * 1024 * 1024 });
    const store = await PcapStore.open(dir);
    assert.ok(store.segments.length >= 3);
    const filters = [
      'host 10.0.0.7',
      'host 10.0.1.17 and port 443',
      'udp port 53',
      'vlan and tcp',
      'ip6 and tcp port 80',
      'net 198.51.100.0/24 and not port 443',
      'tcp portrange 1024-1030',
      'less 80 and ip',
    ];
    for (const [i, filter] of filters.entries()) {
      const want = [];
      for (const [k, s] of store.segments.entries()) {
        const out = tcpdumpSelect(s.path, filter, join(tmp, `td-${i}-${k}.pcap`));
        assert.ok(out, `tcpdump refused ${filter}`);
        want.push(...(await records(out)));
      }
      const ours = join(tmp, `ours-${i}.pcap`);
      const ws = createWriteStream(ours);
      await searchToStream(store, { filter }, ws);
      ws.end();
      await finished(ws);
      const got = await records(ours);
      assert.equal(sameRecords(got, want), null, filter);
      rmSync(ours);
    }
  });
});
