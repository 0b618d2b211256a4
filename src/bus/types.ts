import type { AlertRecord } from '../schema/alert.js';
import type { RecordSpans } from './sinks/kafka-batch.js';

/**
 * An alert sink: one way alerts leave Vantage (a Kafka topic, a JetStream subject, a syslog
 * collector, a webhook, Splunk HEC, e-mail). Every sink is driven the same way by the bus's
 * delivery loop and passes the same conformance suite (test/bus/conformance.ts).
 */
export interface Sink {
  readonly kind: SinkKind;
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Deliver a batch. Resolves when the receiver has taken it (Kafka acks=all, JetStream
   * PubAck, TCP write flushed, HTTP 2xx...). A rejection means the whole batch failed; `failed`
   * lists the indexes of the alerts that failed when the receiver answers per alert.
   */
  deliver(batch: readonly AlertRecord[]): Promise<DeliveryResult>;
  /**
   * Deliver a batch in the form the outbox stored it (the record's JSON bytes), when the sink
   * sends that form: the bus then neither parses nor re-encodes the alerts. Same contract as deliver.
   */
  deliverEncoded?(batch: readonly EncodedAlert[]): Promise<DeliveryResult>;
  /** Batches the bus may have in delivery at once (default 1: the next waits for the last). */
  readonly concurrency?: number;
  health(): SinkHealth;
}

/**
 * An alert as the outbox keeps it: id, version and the record's JSON encoding, also as spans of
 * the buffer the outbox read (`src`), which a sink that copies bytes reads without slicing.
 */
export interface EncodedAlert extends RecordSpans {
  readonly id: string;
  /** updated_ts of this version of the alert. */
  readonly updated: string;
  readonly json: Buffer;
  /** The id and the version as bytes (UTF-8), for sinks that send bytes. */
  readonly idBytes: Buffer;
  readonly updatedBytes: Buffer;
}

export interface DeliveryResult {
  failed: number[];
  error?: string;
}

export interface SinkHealth {
  ok: boolean;
  detail: string;
}

export const SINK_KINDS = ['kafka', 'nats', 'syslog', 'webhook', 'hec', 'email'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

/** Payload of sinks that carry JSON: the alert record as stored, or an OCSF Detection Finding. */
export type JsonFormat = 'record' | 'ocsf';

export interface KafkaSinkConfig {
  brokers: string[];
  topic: string;
  format: JsonFormat;
  clientId: string;
  /** Compression of each produce request. */
  compression: KafkaCompression;
  /** Produce requests in flight at once, pipelined on one connection (at most 5, Kafka's bound for idempotence). */
  inFlight: number;
  /**
   * Bound on one record batch as sent (after compression), bytes: a delivery is cut into
   * batches under it. Keep it under the broker's message.max.bytes (1,048,588 by default).
   */
  maxBatchBytes: number;
}

export const KAFKA_COMPRESSIONS = ['none', 'lz4', 'snappy', 'gzip'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export interface NatsSinkConfig {
  servers: string[];
  subject: string;
  format: JsonFormat;
  token?: string;
  user?: string;
  pass?: string;
}

export interface SyslogSinkConfig {
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  format: 'cef' | 'json';
  /** Syslog facility (default 4, security/authorization). */
  facility: number;
  appName: string;
  /** HOSTNAME of the syslog header (default: this machine's name). */
  hostname: string;
  /** PEM file of the CA that signed the collector's certificate (tls). */
  ca?: string;
  /** Name checked against the collector's certificate (default: host). */
  servername?: string;
  /** PEM files of this sender's certificate and key, for collectors that require mutual TLS. */
  cert?: string;
  key?: string;
}

export interface WebhookSinkConfig {
  url: string;
  /** HMAC-SHA256 key of the `Vantage-Signature` header. */
  secret: string;
  /** `batch`: one POST with a JSON array per batch; `single`: one POST per alert. */
  mode: 'batch' | 'single';
  format: JsonFormat;
  ca?: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface HecSinkConfig {
  /** Base URL of the HEC endpoint, e.g. https://splunk.example:8088. */
  url: string;
  token: string;
  index?: string;
  source: string;
  sourcetype: string;
  host: string;
  format: JsonFormat;
  ca?: string;
  timeoutMs: number;
}

export interface EmailSinkConfig {
  host: string;
  port: number;
  /** Implicit TLS (port 465). */
  secure: boolean;
  /** Require STARTTLS on a plain connection. */
  starttls: boolean;
  from: string;
  to: string[];
  user?: string;
  pass?: string;
  ca?: string;
  subjectPrefix: string;
}

interface SpecBase {
  name: string;
  /** Filter over alert fields in the product's filter language ('' = every alert). */
  filter: string;
  batchSize: number;
  /** Attempts before an alert becomes a dead letter. */
  maxAttempts: number;
  /** First retry delay, doubled at each attempt up to maxBackoffMs, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
}

export type SinkSpec = SpecBase &
  (
    | { kind: 'kafka'; kafka: KafkaSinkConfig }
    | { kind: 'nats'; nats: NatsSinkConfig }
    | { kind: 'syslog'; syslog: SyslogSinkConfig }
    | { kind: 'webhook'; webhook: WebhookSinkConfig }
    | { kind: 'hec'; hec: HecSinkConfig }
    | { kind: 'email'; email: EmailSinkConfig }
  );

/** What a sink needs from the product. */
export interface SinkDeps {
  /** Product version written in CEF headers and OCSF metadata. */
  version: string;
}
