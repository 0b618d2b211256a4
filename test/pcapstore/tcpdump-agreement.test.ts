import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { ipBytesToString } from '../../src/common/addr.js';
import { Decoder } from '../../src/decode/decoder.js';
import { recordFiles } from '../../src/pcapstore/record-files.js';
import { searchToStream } from '../../src/pcapstore/search.js';
import { PcapStore } from '../../src/pcapstore/store.js';
import { fixture, listCaptures } from '../support/fixtures.js';
import { records, sameRecords, tcpdumpSelect, tcpdumpSkip } from './helpers.js';

/** Filters with HOST / HOST2 / PORT replaced by values found in each capture. */
const FILTERS = [
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'ip',
  'ip6',
  'arp',
  'host HOST',
  'src host HOST',
  'dst host HOST',
  'host HOST and host HOST2',
  'host HOST or HOST2',
  'net 10.0.0.0/8',
  'net 192.168.0.0/16 or net 172.16.0.0/12',
  'port PORT',
  'tcp port PORT',
  'udp port 53',
  'src port PORT or dst port 53',
  'portrange 1-1024',
  'tcp portrange 1024-65535',
  'not tcp',
  'tcp and not port PORT',
  '(tcp or udp) and not port 53',
  'host HOST and (port PORT or icmp)',
  'vlan',
  'vlan and tcp',
  'less 100',
  'greater 1000',
  'ip6 and udp',
  'ip proto 17',
  'ip6 proto 58',
  'proto 47',
  'icmp or arp',
  'tcp && !port 22 || udp',
  'ip and not net 10.0.0.0/8',
];

async function sample(path: string): Promise<{ host: string; host2: string; port: number }> {
  const dec = new Decoder();
  let host = '10.0.0.1';
  let host2 = '10.0.0.2';
  let port = 80;
  let found = false;
  await readCaptureFile(path, (f) => {
    if (found) return;
    const p = dec.decode(f);
    if (p.ipVer === 4 && p.tunnelDepth === 0) {
      host = ipBytesToString(p.buf, p.srcOff, 4);
      host2 = ipBytesToString(p.buf, p.dstOff, 4);
      if (p.l4Off >= 0 && p.dstPort > 0) port = p.dstPort;
      found = true;
    }
  });
  return { host, host2, port };
}

describe('pcap store agrees with tcpdump on the fixture corpus', { skip: tcpdumpSkip() }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vantage-pcapstore-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const caps = listCaptures().filter((f) => !f.endsWith('.gz'));

  for (const cap of caps) {
    describe(cap, () => {
      const dir = join(tmp, cap.replace(/\W/g, '_'));
      let store: PcapStore;
      let segs: string[] = [];
      let vals: { host: string; host2: string; port: number };
      before(async () => {
        await recordFiles([fixture(cap)], { dir, fsync: false });
        store = await PcapStore.open(dir);
        segs = readdirSync(dir)
          .filter((f) => f.endsWith('.pcap'))
          .sort()
          .map((f) => join(dir, f));
        vals = await sample(fixture(cap));
      });

      it('segments hold every packet of the capture, byte for byte', async () => {
        const orig = await records(fixture(cap));
        const stored: Awaited<ReturnType<typeof records>> = [];
        for (const s of segs) stored.push(...(await records(s)));
        assert.equal(sameRecords(stored, orig), null);
      });

      it('every filter selects what tcpdump selects', async () => {
        const failures: string[] = [];
        let n = 0;
        for (const tmpl of FILTERS) {
          const filter = tmpl
            .replace('HOST2', vals.host2)
            .replace('HOST', vals.host)
            .replace(/PORT/g, String(vals.port));
          const want: Awaited<ReturnType<typeof records>> = [];
          let refused = false;
          for (const [i, s] of segs.entries()) {
            const out = tcpdumpSelect(s, filter, join(dir, `td-${n}-${i}.pcap`));
            if (out === null) refused = true;
            else want.push(...(await records(out)));
          }
          const ours = join(dir, `ours-${n}.pcap`);
          n++;
          let got: Awaited<ReturnType<typeof records>>;
          try {
            const ws = createWriteStream(ours);
            await searchToStream(store, { filter }, ws);
            ws.end();
            await finished(ws);
            got = await records(ours);
          } catch (e) {
            if (refused) continue; // both refuse (e.g. 'vlan' on a cooked capture)
            failures.push(`${filter}: we failed (${(e as Error).message}), tcpdump did not`);
            continue;
          }
          if (refused) {
            failures.push(`${filter}: tcpdump refused it, we did not`);
            continue;
          }
          const diff = sameRecords(got, want);
          if (diff) failures.push(`${filter}: ${diff}`);
        }
        assert.deepEqual(failures, []);
      });
    });
  }
});
