import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createConnection, createServer as createNetServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real peers started on loopback with free ports, for tests and benchmarks. Each helper returns
 * null with the reason when its peer is not installed (and CI is not 'true'), and throws when
 * CI is 'true': CI installs every peer (scripts/peers/install.sh), so a skip there is a defect.
 */
export const PEERS = process.env.VANTAGE_PEERS ?? join(homedir(), '.cache', 'vantage-peers');

export type Missing = { missing: string };

function missing(what: string): Missing {
  if (process.env.CI === 'true') throw new Error(`peer missing in CI: ${what}`);
  return { missing: what };
}

export const isMissing = (x: unknown): x is Missing =>
  typeof x === 'object' && x !== null && 'missing' in x && !('stop' in x);

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Resolves when a TCP port on 127.0.0.1 accepts connections; rejects after `ms`. */
export async function waitPort(port: number, ms: number, proc?: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (proc && proc.exitCode !== null)
      throw new Error(`peer exited with ${proc.exitCode} before port ${port} opened`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 1 << 28 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${cmd} ${args.slice(-4).join(' ')}: ${stderr || err.message}`))
        : resolve(stdout),
    ),
  );
}

async function kill(p: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await done;
}

// Kafka ---------------------------------------------------------------------------------------

export interface KafkaPeer {
  brokers: string;
  dir: string;
  /** Create a topic (1 partition unless told). */
  createTopic(topic: string, partitions?: number): Promise<void>;
  /** Every message of a topic, read back by Kafka's own console consumer. */
  consume(topic: string): Promise<{ key: string; value: string }[]>;
  /** Kill the broker (-9) and leave it down. */
  kill(): Promise<void>;
  /** Start the broker again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `settings`: extra broker settings (`key=value` lines), e.g. the benchmark's thread counts. */
export async function startKafka(settings: readonly string[] = []): Promise<KafkaPeer | Missing> {
  const libs = join(PEERS, 'kafka', 'libs');
  if (!existsSync(libs) || !have('java')) return missing(`Kafka 4.1 jars in ${libs} and java`);
  const cp = `${libs}/*`;
  const dir = mkdtempSync(join(tmpdir(), 'vantage-kafka-'));
  const port = await freePort();
  const ctl = await freePort();
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${ctl}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${ctl}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      ...settings,
    ].join('\n'),
  );
  const id = (await run('java', ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid']))
    .trim()
    .split('\n')
    .at(-1)!;
  await run('java', ['-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', props]);
  let proc: ChildProcess | null = null;
  const boot = async (): Promise<void> => {
    proc = spawn(
      'java',
      ['-Xmx512m', `-Dkafka.logs.dir=${join(dir, 'logs')}`, '-cp', cp, 'kafka.Kafka', props],
      {
        stdio: 'ignore',
      },
    );
    await waitPort(port, 60_000, proc);
  };
  await boot();
  const brokers = `127.0.0.1:${port}`;
  const peer: KafkaPeer = {
    brokers,
    dir,
    async createTopic(topic, partitions = 1) {
      await run('java', [
        '-cp',
        cp,
        'org.apache.kafka.tools.TopicCommand',
        '--bootstrap-server',
        brokers,
        '--create',
        '--topic',
        topic,
        '--partitions',
        String(partitions),
        '--replication-factor',
        '1',
      ]);
    },
    async consume(topic) {
      const out = await run('java', [
        '-cp',
        cp,
        'org.apache.kafka.tools.consumer.ConsoleConsumer',
        '--bootstrap-server',
        brokers,
        '--topic',
        topic,
        '--from-beginning',
        '--timeout-ms',
        '20000',
        '--property',
        'print.key=true',
        '--property',
        'key.separator=\t',
      ]);
      return out
        .split('\n')
        .filter((l) => l.includes('\t'))
        .map((l) => {
          const i = l.indexOf('\t');
          return { key: l.slice(0, i), value: l.slice(i + 1) };
        });
    },
    async kill() {
      await kill(proc, 'SIGKILL');
    },
    async restart() {
      await kill(proc, 'SIGKILL');
      await boot();
    },
    async stop() {
      await kill(proc, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return peer;
}

// NATS ----------------------------------------------------------------------------------------

export interface NatsPeer {
  url: string;
  stop(): Promise<void>;
}

export async function startNats(): Promise<NatsPeer | Missing> {
  if (!have('nats-server')) return missing('nats-server (Debian package nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-nats-'));
  const port = await freePort();
  const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
    stdio: 'ignore',
  });
  await waitPort(port, 15_000, proc);
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// rsyslog -------------------------------------------------------------------------------------

export interface RsyslogPeer {
  udpPort: number;
  tcpPort: number;
  /** Raw messages received so far (rsyslog's %rawmsg%, one per line). */
  messages(): string[];
  stop(): Promise<void>;
}

export async function startRsyslog(): Promise<RsyslogPeer | Missing> {
  const bin = existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : have('rsyslogd') ? 'rsyslogd' : null;
  if (!bin) return missing('rsyslogd (Debian package rsyslog)');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-rsyslog-'));
  mkdirSync(join(dir, 'work'));
  const udpPort = await freePort();
  const tcpPort = await freePort();
  const out = join(dir, 'out.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="${udpPort}")
input(type="imtcp" address="127.0.0.1" port="${tcpPort}")
template(name="raw" type="string" string="%rawmsg%\\n")
*.* action(type="omfile" file="${out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
`,
  );
  const proc = spawn(bin, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: 'ignore' });
  await waitPort(tcpPort, 15_000, proc);
  return {
    udpPort,
    tcpPort,
    messages() {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0);
    },
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// SMTP ----------------------------------------------------------------------------------------

export interface SmtpPeer {
  port: number;
  /** Messages received so far, as raw RFC 5322 text. */
  messages(): string[];
  stop(): Promise<void>;
}

const SMTP_SCRIPT = `
import os, sys, time, uuid
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
class Keep:
    async def handle_DATA(self, server, session, envelope):
        p = os.path.join(out, uuid.uuid4().hex)
        with open(p + '.tmp', 'wb') as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(p + '.tmp', p + '.eml')
        return '250 OK'
c = Controller(Keep(), hostname='127.0.0.1', port=port)
c.start()
print('ready', flush=True)
while True:
    time.sleep(3600)
`;

export async function startSmtp(): Promise<SmtpPeer | Missing> {
  const py = join(PEERS, 'pyvenv', 'bin', 'python');
  if (!existsSync(py)) return missing(`aiosmtpd in ${py}`);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-smtp-'));
  const box = join(dir, 'box');
  mkdirSync(box);
  writeFileSync(join(dir, 'smtpd.py'), SMTP_SCRIPT);
  const port = await freePort();
  const proc = spawn(py, [join(dir, 'smtpd.py'), box, String(port)], { stdio: 'ignore' });
  await waitPort(port, 15_000, proc);
  return {
    port,
    messages() {
      return readdirSync(box)
        .filter((n) => n.endsWith('.eml'))
        .map((n) => readFileSync(join(box, n), 'utf8'));
    },
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Webhook (HTTPS) and Splunk HEC receivers ---------------------------------------------------

export interface Cert {
  dir: string;
  key: string;
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl. */
export async function selfSignedCert(): Promise<Cert | Missing> {
  if (!have('openssl')) return missing('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-cert-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { dir, key, cert };
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });

export interface WebhookPeer {
  url: string;
  /** CA file to trust (the receiver's self-signed certificate). */
  ca: string;
  /** Bodies whose signature checked out, parsed. */
  received: unknown[];
  /** Requests refused: bad or missing signature, or too old. */
  rejected: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An HTTPS receiver that checks `Vantage-Signature: t=<unix>,v1=<hex>` itself (HMAC-SHA256 of
 * "t.body", 5 min tolerance) and answers 401 when it does not hold.
 */
export async function startWebhookReceiver(secret: string): Promise<WebhookPeer | Missing> {
  const cert = await selfSignedCert();
  if ('missing' in cert) return cert;
  const port = await freePort();
  let server: Server | null = null;
  const peer: WebhookPeer = {
    url: `https://127.0.0.1:${port}/hook`,
    ca: cert.cert,
    received: [],
    rejected: 0,
    async up() {
      const s = createHttpsServer(
        { key: readFileSync(cert.key), cert: readFileSync(cert.cert) },
        async (req, res) => {
          const body = await readBody(req);
          const h = String(req.headers['vantage-signature'] ?? '');
          const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(h);
          const fresh = m && Math.abs(Date.now() / 1000 - Number(m[1])) <= 300;
          const want = m && createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
          if (!m || !fresh || !want || !timingSafeEqual(want, Buffer.from(m[2]!, 'hex'))) {
            peer.rejected++;
            res.writeHead(401).end('bad signature');
            return;
          }
          peer.received.push(JSON.parse(body));
          res.writeHead(204).end();
        },
      );
      await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
      server = s;
    },
    async down() {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
    async stop() {
      await peer.down();
      rmSync(cert.dir, { recursive: true, force: true });
    },
  };
  await peer.up();
  return peer;
}

export interface HecPeer {
  url: string;
  token: string;
  /** Events accepted, each the envelope as sent. */
  events: Record<string, unknown>[];
  /** Requests refused, with HEC's reason. */
  refused: string[];
  stop(): Promise<void>;
}

/**
 * A stand-in for Splunk's HTTP Event Collector (Splunk cannot run here): it checks the request
 * as Splunk documents it ("Format events for HTTP Event Collector"): POST
 * /services/collector/event, `Authorization: Splunk <token>`, a body of concatenated JSON
 * envelopes each with `event` and optional time (epoch seconds), host, source, sourcetype,
 * index; answers as HEC does: 200 {"text":"Success","code":0}, 401 code 2/3, 400 code 5/6.
 */
export async function startHecReceiver(token: string): Promise<HecPeer> {
  const events: Record<string, unknown>[] = [];
  const refused: string[] = [];
  const server = createHttpServer(async (req, res) => {
    const body = await readBody(req);
    const answer = (status: number, text: string, code: number): void => {
      if (code !== 0) refused.push(text);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ text, code }));
    };
    if (req.method !== 'POST' || req.url !== '/services/collector/event')
      return answer(404, 'Not found', 404);
    const auth = req.headers.authorization;
    if (!auth) return answer(401, 'Token is required', 2);
    if (auth !== `Splunk ${token}`) return answer(403, 'Invalid token', 4);
    const batch: Record<string, unknown>[] = [];
    let rest = body.trim();
    if (rest === '') return answer(400, 'No data', 5);
    while (rest.length > 0) {
      // Envelopes are JSON objects one after another, with or without whitespace between.
      let depth = 0;
      let inStr = false;
      let end = -1;
      for (let i = 0; i < rest.length; i++) {
        const c = rest[i];
        if (inStr) {
          if (c === '\\') i++;
          else if (c === '"') inStr = false;
        } else if (c === '"') inStr = true;
        else if (c === '{') depth++;
        else if (c === '}' && --depth === 0) {
          end = i + 1;
          break;
        }
      }
      if (end < 0) return answer(400, 'Invalid data format', 6);
      let env: Record<string, unknown>;
      try {
        env = JSON.parse(rest.slice(0, end)) as Record<string, unknown>;
      } catch {
        return answer(400, 'Invalid data format', 6);
      }
      if (env.event === undefined || env.event === null || env.event === '')
        return answer(400, 'Event field is required', 12);
      if (env.time !== undefined && (typeof env.time !== 'number' || env.time < 0))
        return answer(400, 'Invalid data format', 6);
      for (const k of ['host', 'source', 'sourcetype', 'index'] as const) {
        if (env[k] !== undefined && typeof env[k] !== 'string') return answer(400, 'Invalid data format', 6);
      }
      batch.push(env);
      rest = rest.slice(end).trimStart();
    }
    events.push(...batch);
    answer(200, 'Success', 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    events,
    refused,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
