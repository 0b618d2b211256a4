import { ConfigError } from '../common/errors.js';
import type { SensorSpec } from './federated-store.js';

/** The `central` key: {"sensors": [{"name", "url", "token"}], "timeoutMs", "joinToken"}. */
export interface CentralConfig {
  sensors: SensorSpec[];
  /** Longest wait for one sensor's answer (default 10 s); a slower sensor is left out, named. */
  timeoutMs?: number;
  /** Sensors that present this token at POST /api/v1/federation/join are added. */
  joinToken?: string;
  /** Consume the records sensors publish (their `publish` key) into this central's store. */
  ingest?: IngestConfig;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function parseSensor(v: unknown, key: string): SensorSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['name', 'url', 'token'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key; known: name, url, token');
  if (typeof o.name !== 'string' || !NAME.test(o.name) || o.name === 'central')
    throw new ConfigError(`${key}.name`, 'expected a name of letters, digits, _ . - (not "central")');
  let u: URL;
  try {
    u = new URL(String(o.url));
  } catch {
    throw new ConfigError(`${key}.url`, 'expected the sensor API URL, e.g. http://10.0.0.5:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(`${key}.url`, 'expected http(s)://');
  if (typeof o.token !== 'string' || o.token.length < 8)
    throw new ConfigError(`${key}.token`, 'expected an API token of the sensor (analyst role or higher)');
  return { name: o.name, url: String(o.url).replace(/\/+$/, ''), token: o.token };
}

export function parseCentralConfig(v: unknown, key = 'central'): CentralConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['sensors', 'timeoutMs', 'joinToken', 'ingest'].includes(k))
      throw new ConfigError(`${key}.${k}`, 'unknown key; known: sensors, timeoutMs, joinToken, ingest');
  if (o.sensors !== undefined && !Array.isArray(o.sensors))
    throw new ConfigError(`${key}.sensors`, 'expected a list');
  const sensors = ((o.sensors as unknown[] | undefined) ?? []).map((s, i) =>
    parseSensor(s, `${key}.sensors[${i}]`),
  );
  const names = new Set<string>();
  for (const [i, s] of sensors.entries()) {
    if (names.has(s.name))
      throw new ConfigError(`${key}.sensors[${i}].name`, `duplicate sensor name ${s.name}`);
    names.add(s.name);
  }
  const c: CentralConfig = { sensors };
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs >= 100 && o.timeoutMs <= 600_000))
      throw new ConfigError(`${key}.timeoutMs`, 'expected a number of ms from 100 to 600000');
    c.timeoutMs = o.timeoutMs;
  }
  if (o.joinToken !== undefined) {
    if (typeof o.joinToken !== 'string' || o.joinToken.length < 16)
      throw new ConfigError(`${key}.joinToken`, 'expected a secret of at least 16 characters');
    c.joinToken = o.joinToken;
  }
  if (o.ingest !== undefined) c.ingest = parseIngestConfig(o.ingest, `${key}.ingest`);
  return c;
}

/** A Kafka topic on some brokers: where sensors publish and the central's ingester reads. */
export interface KafkaTopicConfig {
  brokers: string[];
  topic: string;
  clientId?: string;
}

/** The `publish` key of a sensor: {"kafka": {"brokers": ["host:9092"], "topic": "vantage-records"}}. */
export interface PublishConfig {
  kafka: KafkaTopicConfig;
}

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function parseKafkaTopic(
  v: unknown,
  key: string,
  extra: readonly string[] = [],
): Record<string, unknown> & KafkaTopicConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(
      key,
      'expected an object such as {"brokers": ["127.0.0.1:9092"], "topic": "vantage-records"}',
    );
  const o = v as Record<string, unknown>;
  const keys = ['brokers', 'topic', 'clientId', ...extra];
  for (const k of Object.keys(o))
    if (!keys.includes(k)) throw new ConfigError(`${key}.${k}`, `unknown key; known: ${keys.join(', ')}`);
  if (!Array.isArray(o.brokers) || o.brokers.length === 0)
    throw new ConfigError(`${key}.brokers`, 'expected a non-empty list of HOST:PORT');
  const brokers = o.brokers.map((b, i) => {
    if (typeof b !== 'string' || !/^[^\s:/]+:\d{1,5}$/.test(b) || Number(b.split(':').pop()) > 65535)
      throw new ConfigError(`${key}.brokers[${i}]`, 'expected HOST:PORT such as 127.0.0.1:9092');
    return b;
  });
  if (typeof o.topic !== 'string' || !TOPIC.test(o.topic))
    throw new ConfigError(`${key}.topic`, 'expected a Kafka topic name (letters, digits, . _ -)');
  const out: Record<string, unknown> & KafkaTopicConfig = { ...o, brokers, topic: o.topic };
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || o.clientId.length === 0))
    throw new ConfigError(`${key}.clientId`, 'expected a non-empty string');
  return out;
}

/** Validate `publish`: a sensor sends every record and alert it stores to the central's bus. */
export function parsePublishConfig(v: unknown, key = 'publish'): PublishConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(key, 'expected an object such as {"kafka": {"brokers": [...], "topic": "..."}}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'kafka')
      throw new ConfigError(
        `${key}.${k}`,
        k === 'nats'
          ? 'records are published to Kafka only (alerts can go to NATS through sinks)'
          : 'unknown key; known: kafka',
      );
  if (o.kafka === undefined)
    throw new ConfigError(`${key}.kafka`, 'required: the brokers and topic to publish to');
  const { brokers, topic, clientId } = parseKafkaTopic(o.kafka, `${key}.kafka`);
  return { kafka: { brokers, topic, ...(clientId ? { clientId } : {}) } };
}

/** `central.ingest`: the central consumes the sensors' topic into its (ClickHouse) store. */
export interface IngestConfig extends KafkaTopicConfig {
  groupId: string;
}

export function parseIngestConfig(v: unknown, key: string): IngestConfig {
  const o = parseKafkaTopic(v, key, ['groupId']);
  const groupId = o.groupId ?? 'vantage-central';
  if (typeof groupId !== 'string' || !TOPIC.test(groupId))
    throw new ConfigError(`${key}.groupId`, 'expected a consumer group name (letters, digits, . _ -)');
  return { brokers: o.brokers, topic: o.topic, groupId, ...(o.clientId ? { clientId: o.clientId } : {}) };
}
