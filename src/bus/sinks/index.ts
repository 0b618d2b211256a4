import type { Sink, SinkDeps, SinkSpec } from '../types.js';
import { createEmailSink } from './email.js';
import { createHecSink } from './hec.js';
import { createKafkaSink } from './kafka.js';
import { createNatsSink } from './nats.js';
import { createSyslogSink } from './syslog.js';
import { createWebhookSink } from './webhook.js';

export function createSink(spec: SinkSpec, deps: SinkDeps): Sink {
  switch (spec.kind) {
    case 'kafka':
      return createKafkaSink(spec.name, spec.kafka, deps);
    case 'nats':
      return createNatsSink(spec.name, spec.nats, deps);
    case 'syslog':
      return createSyslogSink(spec.name, spec.syslog, deps);
    case 'webhook':
      return createWebhookSink(spec.name, spec.webhook, deps);
    case 'hec':
      return createHecSink(spec.name, spec.hec, deps);
    case 'email':
      return createEmailSink(spec.name, spec.email, deps);
  }
}
