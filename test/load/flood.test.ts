/**
 * Flood and soak of `vantage start` (a real process): IPFIX from a paced loopback sender, a
 * VXLAN mirror stream, API queries from autocannon, then kill -9 while records flow. Checked
 * against the senders' own counts: for every source sent = stored + every drop counted by
 * reason, RSS inside the memory budget, health `degraded` exactly while data is lost, and
 * nothing the store acknowledged is lost to kill -9.
 *
 * The run: first the collector's capacity is measured (records stored per wall second until an
 * offered rate above it has settled), then IPFIX at 2× that capacity for the soak,
 * then 5× for a while, then an unpaced burst. Capacity is measured, not assumed, because the
 * machine's share of CPU differs from run to run: the assertions are about memory and exact
 * accounting, never a rate.
 *
 * `npm test` runs a short profile (seconds). `npm run test:soak` runs the long one
 * (SOAK_SECONDS, default 600; SOAK_RATE records/s overrides the measured 2×), which also
 * checks the RSS trend over the last 5 minutes of the soak, with its uncertainty (trend.ts).
 * Every API request must be answered (a 600-s run once failed half of them); the API's p99 is
 * printed beside its 500 ms goal and asserted.
 * The long profile's bounds (p99, peak RSS, slope) are all measured and printed before any of
 * them is asserted, so a run that misses one still reports the others.
 *
 * SOAK_PROFILE=steady (`npm run test:soak:steady`) is the issue's other sustained figure:
 * 100k records/s (or the measured capacity, if lower) for SOAK_SECONDS with the mirror and the
 * API, 0 records lost and a flat RSS slope; no 5× phase (the overload profile has it).
 *
 * The senders run niced (sender.ts): they stand in for machines of their own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import autocannon from 'autocannon';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { fixture } from '../support/fixtures.js';
import { send } from './sender.js';
import { describeKinds } from './smaps.js';
import { fmtTrend, judgeTrendTwice, trend } from './trend.js';
import { collectorAccount, freePort, startVantage, type VantageProcess } from './vantage-process.js';

const SOAK = process.env.SOAK_SECONDS !== undefined;
const STEADY = SOAK && process.env.SOAK_PROFILE === 'steady';
/** The steady profile's rate, unless the measured capacity is lower. */
const STEADY_RATE = 100_000;
const SECONDS = SOAK ? Number(process.env.SOAK_SECONDS) || 600 : 4;
/** Offered while capacity is measured: above what this machine's store takes. */
const CAL_RATE = Number(process.env.SOAK_CAL_RATE) || 600_000;
// The steady profile keeps the default spool, which takes the whole calibration and drains it
// at the store's rate: a shorter one measures the same rate sooner.
const CAL_SECONDS = SOAK ? Math.min(STEADY ? 5 : 20, SECONDS / 2) : 2;
/** 5× capacity, after the soak: the process stays up inside its budget and counts every drop. */
const FIVE_SECONDS = SOAK ? Math.min(60, SECONDS / 2) : 3;
const BUDGET = process.env.SOAK_BUDGET ?? '768MB';
const BUDGET_BYTES = Number.parseInt(BUDGET, 10) * 1e6;
const PER_DATAGRAM = 30;
/**
 * The soak's senders stand in for other machines: niced, they take what Vantage leaves
 * (sender.ts). The short profile in `npm test` keeps them at normal priority, so its few
 * seconds of 5× surely overload the collector. SOAK_SENDER_NICE sets another value (to measure
 * what the niced senders change).
 */
const NICE = SOAK ? Number(process.env.SOAK_SENDER_NICE ?? 19) : 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Packets the kernel dropped from its per-CPU receive backlogs (loopback goes through them). */
function backlogDrops(): number {
  try {
    return readFileSync('/proc/net/softnet_stat', 'latin1')
      .trim()
      .split('\n')
      .reduce((s, l) => s + Number.parseInt(l.split(/\s+/)[1] ?? '0', 16), 0);
  } catch {
    return 0;
  }
}

const root = mkdtempSync(join(tmpdir(), 'vantage-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * Wait until every datagram sent is decoded or counted and nothing waits for the store. A
 * starved machine drains slowly: the wait lasts while the store makes progress, and gives up
 * after 60 s without any.
 */
async function settle(v: VantageProcess, datagrams: number, stall = 60_000) {
  const t0 = Date.now();
  let progress = -1;
  let since = t0;
  for (;;) {
    const a = collectorAccount(await v.metrics());
    const seen = a.decodedDatagrams + (a.socket + a.queueFull) / PER_DATAGRAM;
    if (seen >= datagrams && a.waiting === 0) return { ...a, at: Date.now() - t0 };
    const p = seen + a.stored + a.storeBehind;
    if (p !== progress) [progress, since] = [p, Date.now()];
    else if (Date.now() - since > stall) return { ...a, at: Date.now() - t0 };
    await sleep(200);
  }
}

test(`flood${SOAK ? (STEADY ? ' (soak, steady)' : ' (soak)') : ''}: IPFIX at ${STEADY ? `${STEADY_RATE / 1000}k/s (or the measured capacity)` : '2× the measured capacity'} for ${SECONDS} s + a VXLAN mirror + API queries${STEADY ? ', 0 loss' : ', then 5×'}: every record accounted for, RSS inside the budget`, async () => {
  /** Bounds missed: all are measured and printed, then asserted together at the end. */
  const missed: string[] = [];
  const mirrorPort = await freePort('udp');
  const dir = join(root, 'data');
  // The soak bounds the collector's disk spool so that 2× and 5× overflow it within a minute:
  // it is the edge-drop path (spool_full, counted) that runs for minutes, not a spool of GBs.
  // The short profile keeps the default spool: everything offered is stored.
  const v = await startVantage(dir, {
    budget: BUDGET,
    mirrorPort,
    // Every 250 ms in the soak too: the RSS trend is read from dense samples (trend.ts).
    rssEveryMs: 250,
    ...(SOAK && !STEADY ? { extra: ['--collect-spool', '64MiB'] } : {}),
  });
  try {
    const backlog0 = backlogDrops();
    // Capacity: records stored per second of wall time, from the first datagram until the last
    // record of an offered rate above it is stored or counted (on a starved machine the store's
    // share of CPU is what it is: the soak then offers twice what this run can take).
    const t0 = Date.now();
    const cal = await send({
      kind: 'ipfix',
      nice: NICE,
      port: v.collectPort,
      rate: CAL_RATE / PER_DATAGRAM,
      seconds: CAL_SECONDS,
    });
    const calAccount = await settle(v, cal.datagrams);
    const capacity = Math.max(5000, Math.round((calAccount.stored * 1000) / (Date.now() - t0)));
    const rate = Number(process.env.SOAK_RATE) || (STEADY ? Math.min(STEADY_RATE, capacity) : 2 * capacity);
    const calDropped = calAccount.socket + calAccount.queueFull + calAccount.storeBehind;
    process.stdout.write(
      `# capacity: ${capacity} records/s into the store with ${cal.datagrams * PER_DATAGRAM} offered in ${cal.seconds.toFixed(1)} s (${calDropped} dropped${STEADY ? ', the rest spooled on disk while the store caught up' : `: ${calDropped > 0 ? 'overloaded, as meant' : 'NOT overloaded: the sender is the bound'}`}); soak at ${rate} records/s\n`,
    );

    const apiLoad = autocannon({
      url: `${v.url}/api/v1/top?by=bytes&dim=src_ip&limit=10&type=exported_flow`,
      headers: { authorization: `Bearer ${v.token}` },
      connections: 4,
      // Below the API's default rate limit (6,000 requests a minute per client): past it the
      // answers are 429s, which are fast and would hide the latency of the real ones.
      overallRate: 60,
      duration: SECONDS,
    });
    const soakStart = Date.now();
    const [ipfix, mirror, api] = await Promise.all([
      send({ kind: 'ipfix', nice: NICE, port: v.collectPort, rate: rate / PER_DATAGRAM, seconds: SECONDS }),
      send({
        kind: 'vxlan',
        nice: NICE,
        port: mirrorPort,
        rate: SOAK ? 20_000 : 5_000,
        seconds: SECONDS,
        capture: fixture('http-methods-many.pcap'),
      }),
      apiLoad,
    ]);
    const soakEnd = Date.now();
    const soakLoad = loadavg()[0]!;
    const soakMetrics = await v.metrics();
    // Why requests failed, if any did: the process's last logged failure.
    if (api.errors + api.non2xx > 0) {
      const failed = v
        .output()
        .split('\n')
        .filter((l) => l.includes('"request failed"'));
      process.stdout.write(`# last failed request: ${(failed.at(-1) ?? 'none logged').slice(0, 2000)}\n`);
    }
    const soakAccount = collectorAccount(soakMetrics);
    const cpuSoak = v.cpuSeconds();
    // Where the API's time went: the store's queries (run, or shared with an identical one),
    // their wait for a reader connection and their run (DuckDB's locks included), and the
    // time commits held the main thread that also answers HTTP.
    const reads = (k: string): number => soakMetrics.get(`vantage_store_reads{kind="${k}"}`) ?? 0;
    process.stdout.write(
      `# soak: API ${api.requests.total} requests, p50 ${api.latency.p50} ms, p99 ${api.latency.p99} ms, max ${api.latency.max} ms, errors ${api.errors + api.non2xx} (timeouts ${api.timeouts}, status ${JSON.stringify(api.statusCodeStats)}); store queries run ${reads('queries')}, shared ${reads('shared')}; per query run: wait for a reader ${((reads('waitSeconds') * 1000) / Math.max(1, reads('queries'))).toFixed(0)} ms, running ${((reads('runSeconds') * 1000) / Math.max(1, reads('queries'))).toFixed(0)} ms; ${reads('commits')} column commits held the main thread ${reads('commitSeconds').toFixed(1)} s (longest ${reads('commitMaxSeconds').toFixed(2)} s), waited for queries ${reads('commitYieldSeconds').toFixed(1)} s; ${reads('stagedCommits')} commits staged (DuckDB's thread; filling their temp tables held the main thread ${reads('stageSeconds').toFixed(1)} s, longest ${reads('stageMaxSeconds').toFixed(2)} s); requests that shared a running query waited ${((reads('sharedWaitSeconds') * 1000) / Math.max(1, reads('shared'))).toFixed(0)} ms each; the API's thread delayed p50 ${(reads('loopDelayP50Seconds') * 1000).toFixed(0)} ms, p99 ${(reads('loopDelayP99Seconds') * 1000).toFixed(0)} ms, max ${(reads('loopDelayMaxSeconds') * 1000).toFixed(0)} ms; load average ${soakLoad.toFixed(1)}; ${(v.logBytes() / 1e6).toFixed(1)} MB logged\n`,
    );

    const cps = (k: string): number => soakMetrics.get(`vantage_store_checkpoints{kind="${k}"}`) ?? 0;
    process.stdout.write(
      `# store checkpoints: ${cps('runs')} run (${cps('seconds').toFixed(1)} s in all, longest ${cps('maxSeconds').toFixed(2)} s), ${cps('busy')} put off while queries needed older rows, ${cps('failed')} failed; database reopened ${soakMetrics.get('vantage_store_reopens') ?? 0} times\n`,
    );
    // Why the store opened its database again, if it did (an Out of Memory or an invalidation).
    if ((soakMetrics.get('vantage_store_reopens') ?? 0) > 0)
      for (const l of v
        .output()
        .split('\n')
        .filter((x) => x.includes('opening the database again'))
        .slice(0, 3))
        process.stdout.write(`# reopened: ${l.slice(0, 1500)}\n`);
    // A reopening means DuckDB ran out of memory in a write or invalidated the database: nothing
    // acknowledged is lost, but it must not happen. Asserted at the end with the other bounds.
    if ((soakMetrics.get('vantage_store_reopens') ?? 0) > 0)
      missed.push(
        `the store opened its database again ${soakMetrics.get('vantage_store_reopens')} times, goal 0`,
      );
    assert.equal(api.errors + api.non2xx, 0, 'every API request answered');
    process.stdout.write(`# API p99 ${api.latency.p99} ms (goal < 500 ms)\n`);
    // The goal is the soak's; the short profile in `npm test` checks answers and accounting.
    // Asserted in every soak run (the issue's goal): on a 2-core machine shared with other work
    // the p99 follows the load average (bench/README.md, "The soak in CI"), so such a run fails
    // here, and says so with the load beside the figure.
    if (SOAK && api.latency.p99 >= 500)
      missed.push(`API p99 ${api.latency.p99} ms, goal < 500 ms (load average ${soakLoad.toFixed(1)})`);
    // The RSS trend over the soak's last 5 minutes (or the second half of a shorter soak: its
    // first minute is the climb to the steady state, not a trend), before anything else runs.
    // The RSS swings by tens of MB within seconds, so the least-squares slope alone moves by
    // ±1–2 MB/min with the window: the bound is on the trend with its uncertainty (trend.ts),
    // and the plain slope of 1-s samples (the figure printed before 2026-12-07) is shown beside it.
    if (SOAK) {
      const window = Math.min(5 * 60_000, (SECONDS * 1000) / 2);
      const last = v.rss.filter((x) => x.t >= soakEnd - window && x.t <= soakEnd);
      // The second look, when the last minutes cannot decide: the soak after its climb (its
      // first 2 minutes: glibc's heap and the detectors' state level off within them).
      const longer = v.rss.filter((x) => x.t >= soakStart + 120_000 && x.t <= soakEnd);
      const perSecond: typeof last = [];
      for (const x of last) if (x.t >= (perSecond.at(-1)?.t ?? 0) + 1000) perSecond.push(x);
      const verdict = judgeTrendTwice(last, longer);
      const tr = verdict.last;
      const peakIn = Math.max(...last.map((x) => x.bytes));
      process.stdout.write(
        `# RSS over the soak's last ${(window / 60_000).toFixed(1)} minutes: trend ${fmtTrend(tr)} MB/min (95%; least squares on ${tr.n} samples, standard error corrected for their autocorrelation; goal < 1); swing sd ${tr.swing.toFixed(1)} MB; plain least-squares slope of 1-s samples ${trend(perSecond).slope.toFixed(2)} MB/min; highest ${(peakIn / 1e6).toFixed(0)} MB; peak RSS so far ${(v.peakRss() / 1e6).toFixed(0)} MB; Vantage ${cpuSoak.toFixed(1)} CPU-s so far\n`,
      );
      if (verdict.longer)
        process.stdout.write(
          `# the last minutes could not decide; RSS from the soak's third minute (${((soakEnd - soakStart - 120_000) / 60_000).toFixed(1)} minutes): trend ${fmtTrend(verdict.longer)} MB/min, swing sd ${verdict.longer.swing.toFixed(1)} MB\n`,
        );
      if (verdict.missed)
        missed.push(`${verdict.missed}, over the soak's last minutes (load average ${soakLoad.toFixed(1)})`);
    }
    if (STEADY) {
      const lostSoak = soakAccount.socket + soakAccount.queueFull + soakAccount.storeBehind;
      const lostCal = calAccount.socket + calAccount.queueFull + calAccount.storeBehind;
      process.stdout.write(
        `# steady: ${ipfix.datagrams * PER_DATAGRAM} records offered at ${rate}/s; lost during it ${lostSoak - lostCal} (goal 0)\n`,
      );
    }

    // 5× capacity: the process stays up, inside its budget, and counts every drop by reason.
    // The steady profile offers nothing more (0 datagrams).
    const five = STEADY
      ? { datagrams: 0, errors: 0, seconds: 0 }
      : await send({
          kind: 'ipfix',
          nice: NICE,
          port: v.collectPort,
          rate: (5 * capacity) / PER_DATAGRAM,
          seconds: FIVE_SECONDS,
        });
    const fiveAccount = collectorAccount(await v.metrics());
    const dropped = (x: ReturnType<typeof collectorAccount>): number =>
      x.socket + x.queueFull + x.storeBehind;
    process.stdout.write(
      `# 5× capacity: ${five.datagrams * PER_DATAGRAM} records offered in ${five.seconds.toFixed(1)} s; dropped during it: socket ${fiveAccount.socket - soakAccount.socket}, queue_full ${fiveAccount.queueFull - soakAccount.queueFull}, store_behind ${fiveAccount.storeBehind - soakAccount.storeBehind}; RSS so far ${(v.peakRss() / 1e6).toFixed(0)} MB\n`,
    );
    // A few seconds of 5× fit in the queues (the short profile's burst overloads instead).
    if (SOAK && !STEADY)
      assert.ok(
        dropped(fiveAccount) > dropped(soakAccount),
        '5× capacity overloads the collector (or it proves nothing)',
      );
    // Under 5× the process answers, and says it is degraded while it loses data or its spooled
    // backlog is older than the 5 s threshold (read on both sides of the health request; near
    // the threshold either answer is right, and below it an earlier phase's loss may still show).
    const spoolAge = (m: Map<string, number>): number => m.get('vantage_collect_spool_seconds') ?? 0;
    const m1 = await v.metrics();
    const health5 = await v.health();
    const m2 = await v.metrics();
    const losing = dropped(collectorAccount(m2)) > dropped(soakAccount);
    const age = [spoolAge(m1), spoolAge(m2)];
    process.stdout.write(
      `# health under 5×: ${health5.status} (${health5.reasons?.join('; ') ?? ''}); spool backlog ${age.map((a) => a.toFixed(1)).join(' → ')} s; losing data: ${losing}\n`,
    );
    if (!STEADY) {
      assert.ok(losing || Math.max(...age) > 0, '5× capacity overloads the collector: it spools or drops');
      if (losing || Math.min(...age) > 6) assert.equal(health5.status, 'degraded');
    }

    // Then an unpaced burst: more than the socket and the queues can take at once.
    const burst = STEADY
      ? { datagrams: 0, errors: 0, seconds: 0 }
      : await send({ kind: 'ipfix', nice: NICE, port: v.collectPort, rate: 0, seconds: 0.3 });
    const burstEnd = Date.now();
    const datagrams = cal.datagrams + ipfix.datagrams + five.datagrams + burst.datagrams;
    const sent = datagrams * PER_DATAGRAM;
    const a = await settle(v, datagrams);
    // The mirror's socket may still hold datagrams: until each is received or counted.
    const mirrorKey = '{source="mirror.vxlan[0]",kind="vxlan"}';
    let m = await v.metrics();
    for (let t0 = Date.now(); Date.now() - t0 < 30_000; m = await v.metrics()) {
      const seen =
        (m.get(`vantage_source_packets${mirrorKey}`) ?? 0) +
        (m.get(`vantage_source_socket_drops${mirrorKey}`) ?? 0);
      if (seen >= mirror.datagrams) break;
      await sleep(200);
    }
    const lost = a.socket + a.queueFull + a.storeBehind + a.sampled + a.storeError;
    process.stdout.write(
      `# sent ${sent} records = stored ${a.stored} + socket ${a.socket} + queue_full ${a.queueFull} + store_behind ${a.storeBehind} + sampled ${a.sampled} + store_error ${a.storeError}; all stored ${a.at} ms after the end; Vantage used ${v.cpuSeconds().toFixed(1)} CPU-s (${(a.stored / Math.max(0.01, v.cpuSeconds()) / 1e3).toFixed(0)}k stored records per CPU-s, everything else included); peak RSS ${(v.peakRss() / 1e6).toFixed(0)} MB (budget ${BUDGET}); API ${api.requests.total} requests, p99 ${api.latency.p99} ms, errors ${api.errors + api.non2xx}\n`,
    );
    assert.equal(a.stored + lost, sent, 'IPFIX: sent = stored + counted drops, exactly');
    // The drops in records, as the process counted them from the datagrams' headers without
    // decoding them, against the sender's 30 a datagram.
    const countedRecords = m.get('vantage_collect_dropped_records') ?? 0;
    process.stdout.write(
      `# dropped records counted from the headers: ${countedRecords} (queue_full ${a.queueFull} = datagrams × ${PER_DATAGRAM})\n`,
    );
    assert.equal(countedRecords, a.queueFull, 'dropped records counted from the headers');
    // The mirror: every datagram received or counted by the kernel (packets are not dropped
    // past the socket: the sensor runs inline).
    const got = m.get(`vantage_source_packets${mirrorKey}`) ?? 0;
    const mdrops = m.get(`vantage_source_socket_drops${mirrorKey}`) ?? 0;
    // Loopback datagrams can also be dropped before any socket, from the kernel's per-CPU
    // backlog (softnet_stat, machine-wide): the only part not counted per socket.
    const backlog = backlogDrops() - backlog0;
    // Received includes what the receive thread could not put in its ring (counted `ring_full`,
    // when the sensor's thread was behind for longer than the ring holds).
    const ringFull = m.get(`vantage_source_ring_full${mirrorKey}`) ?? 0;
    process.stdout.write(
      `# mirror: sent ${mirror.datagrams} = received ${got} (of which ring_full ${ringFull}) + socket drops ${mdrops} + kernel backlog drops (machine-wide) ${backlog}\n`,
    );
    assert.ok(got + mdrops <= mirror.datagrams);
    assert.ok(
      mirror.datagrams - got - mdrops <= backlog,
      'mirror: every datagram received or counted by the kernel',
    );
    // RSS over the run, the highest of each 30 s: where the peak came (soak, 5×, burst).
    const t00 = v.rss[0]?.t ?? 0;
    const windows = new Map<number, number>();
    for (const x of v.rss) {
      const w = Math.floor((x.t - t00) / 30_000);
      windows.set(w, Math.max(windows.get(w) ?? 0, x.bytes));
    }
    process.stdout.write(
      `# RSS, highest per 30 s (MB): ${[...windows.values()].map((b) => (b / 1e6).toFixed(0)).join(' ')}\n`,
    );
    const kinds = v.peakKinds();
    if (kinds)
      process.stdout.write(
        `# resident memory at the largest 5-s breakdown (${(kinds.rss / 1e6).toFixed(0)} MB): ${describeKinds(kinds.kinds)}\n`,
      );
    if (!(v.peakRss() < BUDGET_BYTES))
      missed.push(
        `peak RSS ${(v.peakRss() / 1e6).toFixed(0)} MB, budget ${(BUDGET_BYTES / 1e6).toFixed(0)} MB`,
      );
    // The steady profile: every record of the steady rate stored, none dropped (the
    // calibration's overload, minutes before, aside).
    const calLost = calAccount.socket + calAccount.queueFull + calAccount.storeBehind;
    const lostRecent = STEADY ? lost - calLost : lost;
    if (STEADY && lostRecent !== 0)
      missed.push(`steady: ${lostRecent} records lost after the calibration, goal 0`);
    const h = await v.health();
    // Health reports the loss of its last 30 s: the soak's settle after the burst can outlast
    // that, and then `ok` is the right answer.
    if (lostRecent > 0 && Date.now() - burstEnd < 25_000) {
      assert.equal(h.status, 'degraded');
      assert.ok(h.reasons?.some((r) => r.startsWith('collector losing data')));
    } else if (lostRecent === 0 || Date.now() - burstEnd > 35_000) assert.equal(h.status, 'ok');

    // kill -9 while records flow: what the store acknowledged before is there after.
    const flowing = send({
      kind: 'ipfix',
      nice: NICE,
      port: v.collectPort,
      rate: capacity / PER_DATAGRAM,
      seconds: 3,
    });
    await sleep(1500);
    const acked = collectorAccount(await v.metrics()).stored;
    await v.kill9();
    await flowing;
    const s = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
    await s.start();
    const stored = await s.count('exported_flow', {});
    await s.stop();
    process.stdout.write(`# kill -9: ${acked} acknowledged before, ${stored} in the store after\n`);
    assert.ok(stored >= acked, `${stored} rows after kill -9, ${acked} acknowledged`);
    assert.deepEqual(missed, [], "the soak's bounds");
  } finally {
    await v.stop().catch(() => {});
    if (process.env.DEBUG_LOAD) process.stdout.write(v.output());
  }
});
