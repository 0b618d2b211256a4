/**
 * Third-party events benchmark (part of `npm run bench`; alone: node dist/bench/events.js).
 *
 * Lines per second from text to alerts, on one core, through the same path as the API and the
 * sources (`ingestText`: split, parse, normalize, Community ID when absent, fold in the live
 * AlertAggregator): Suricata EVE alerts (goal >= 100k/s), CEF over syslog, LEEF, and the syslog
 * TCP framer alone. The input is 200,000 lines over 2,000 signatures x host pairs, so that
 * folding works as it does on a real sensor (many repeats, some new episodes).
 */
import { AlertAggregator } from '../src/common/alerts.js';
import { SyslogFramer } from '../src/events/framing.js';
import { ingestText } from '../src/events/ingest.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const N = Number(process.env.VANTAGE_BENCH_EVENTS ?? 200_000);
const T0 = Date.UTC(2024, 0, 18, 10);

function eveLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 2000;
    const ts = new Date(T0 + i).toISOString().replace('Z', '000+0000');
    lines.push(
      `{"timestamp":"${ts}","flow_id":${1e15 + i},"in_iface":"eth0","event_type":"alert","src_ip":"10.${k >> 8}.${k & 255}.7","src_port":${1024 + (i % 60000)},"dest_ip":"192.0.2.${k % 200}","dest_port":443,"proto":"TCP","pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":${2_000_000 + (k % 97)},"rev":4,"signature":"ET POLICY Suspicious TLS certificate ${k % 97}","category":"Potentially Bad Traffic","severity":2},"app_proto":"tls","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":517,"bytes_toclient":1380,"start":"${ts}"}}`,
    );
  }
  return lines.join('\n');
}

function cefLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 2000;
    lines.push(
      `<134>Jan 18 10:00:00 fw01 ids: CEF:0|Security|threatmanager|1.0|${100 + (k % 97)}|worm successfully stopped ${k % 97}|7|src=10.${k >> 8}.${k & 255}.7 dst=192.0.2.${k % 200} spt=${1024 + (i % 60000)} dpt=445 proto=TCP act=blocked rt=${T0 + i} cs1Label=policy cs1=Default Policy`,
    );
  }
  return lines.join('\n');
}

function leefLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 2000;
    lines.push(
      `LEEF:2.0|Lancope|StealthWatch|1.0|${41 + (k % 97)}|^|src=10.${k >> 8}.${k & 255}.7^dst=192.0.2.${k % 200}^sev=5^srcPort=${1024 + (i % 60000)}^dstPort=21^proto=TCP^cat=anomaly`,
    );
  }
  return lines.join('\n');
}

/**
 * Best of 3: wall-clock rate, and the rate per second of CPU time the process actually got
 * (on a shared, loaded machine the wall rate measures the neighbours as much as the code).
 */
function measure(
  name: string,
  format: 'eve' | 'cef' | 'syslog' | 'leef',
  body: string,
  wantAlerts = N,
): { wall: number; cpu: number; alerts: number } {
  let best = 0;
  let bestCpu = 0;
  let alerts = 0;
  for (let run = 0; run < 3; run++) {
    let emitted = 0;
    const agg = new AlertAggregator(() => emitted++, { mode: 'live' });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = ingestText(format, body, { emitter: agg });
    agg.flush();
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    if (r.alerts !== wantAlerts)
      throw new Error(`${name}: ${r.alerts} alerts of ${N} lines (${JSON.stringify(r.weird)})`);
    best = Math.max(best, N / s);
    bestCpu = Math.max(bestCpu, N / cpu);
    alerts = agg.counters.alerts;
  }
  return { wall: best, cpu: bestCpu, alerts };
}

function rate(
  name: string,
  format: 'eve' | 'cef' | 'syslog' | 'leef',
  body: string,
  goal: string,
  wantAlerts = N,
): void {
  const m = measure(name, format, body, wantAlerts);
  out(
    `${name}: ${(m.wall / 1000).toFixed(0)}k lines/s wall, ${(m.cpu / 1000).toFixed(0)}k lines per CPU-second, into ${m.alerts} alerts (${goal})`,
  );
}

/** EVE lines/s ingested, every line an alert (the figure; the bus bench prints it too). */
export function eveRate(): { wall: number; cpu: number } {
  return measure('Suricata EVE', 'eve', eveLines(N));
}

/** A sensor's real mix: one alert in ten lines, the rest flow, dns and tls events. */
function eveMix(n: number): string {
  const alerts = eveLines(n / 10).split('\n');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 0) lines.push(alerts[i / 10]!);
    else {
      const ts = new Date(T0 + i).toISOString().replace('Z', '000+0000');
      const t = ['flow', 'dns', 'tls'][i % 3]!;
      lines.push(
        `{"timestamp":"${ts}","flow_id":${1e15 + i},"in_iface":"eth0","event_type":"${t}","src_ip":"10.0.0.7","src_port":${1024 + (i % 60000)},"dest_ip":"192.0.2.9","dest_port":443,"proto":"TCP","${t}":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":517,"bytes_toclient":1380,"start":"${ts}","end":"${ts}","state":"closed","reason":"timeout","alerted":false}}`,
      );
    }
  }
  return lines.join('\n');
}

export async function benchEvents(): Promise<void> {
  out(`${N} lines each, best of 3, one core`);
  const eve = eveLines(N);
  out(`EVE line: ${Math.round(eve.length / N)} bytes on average`);
  rate('Suricata EVE, every line an alert', 'eve', eve, 'goal >= 100k/s');
  rate('Suricata EVE, 1 alert in 10 lines', 'eve', eveMix(N), 'goal >= 100k/s', N / 10);
  rate('CEF in RFC 3164 syslog', 'syslog', cefLines(N), 'no goal set; shown beside EVE');
  rate('LEEF 2.0', 'leef', leefLines(N), 'no goal set');
  // The TCP framer alone, octet-counted, in 64 KiB reads.
  const msgs = cefLines(N).split('\n');
  const stream = Buffer.from(msgs.map((m) => `${Buffer.byteLength(m)} ${m}`).join(''));
  let best = 0;
  for (let run = 0; run < 3; run++) {
    let n = 0;
    const f = new SyslogFramer(() => n++);
    const t0 = performance.now();
    for (let p = 0; p < stream.length; p += 65536) f.push(stream.subarray(p, p + 65536));
    const s = (performance.now() - t0) / 1000;
    if (n !== N) throw new Error(`framer: ${n} of ${N}`);
    best = Math.max(best, stream.length / s);
  }
  out(`syslog TCP framer (octet counting): ${(best / 1e6).toFixed(0)} MB/s`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchEvents();
