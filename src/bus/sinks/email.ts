import { readFileSync } from 'node:fs';
import { createTransport, type Transporter } from 'nodemailer';
import type { AlertRecord } from '../../schema/alert.js';
import type { DeliveryResult, EmailSinkConfig, Sink, SinkDeps, SinkHealth } from '../types.js';

/** One digest message per batch; the alerts are also attached as JSON for tools that read mail. */
export function digest(batch: readonly AlertRecord[], prefix: string): { subject: string; text: string } {
  const top = batch.reduce((m, a) => Math.max(m, a.severity), 0);
  const subject =
    batch.length === 1
      ? `${prefix} ${batch[0]!.severity_label}: ${batch[0]!.title}`
      : `${prefix} ${batch.length} alerts (highest severity ${top})`;
  const lines = batch.map(
    (a) =>
      `[${a.severity_label} ${a.severity}] ${a.title}\n  id ${a.alert_id}  detector ${a.detector}  ${a.src_ip ?? '-'} -> ${a.dst_ip ?? '-'}${a.dst_port !== null ? `:${a.dst_port}` : ''}\n  first ${a.first_ts}  last ${a.last_ts}  events ${a.count}`,
  );
  return { subject: subject.replace(/[\r\n]+/g, ' ').slice(0, 200), text: `${lines.join('\n\n')}\n` };
}

export function createEmailSink(name: string, cfg: EmailSinkConfig, _deps: SinkDeps): Sink {
  let tx: Transporter | null = null;
  let health: SinkHealth = { ok: true, detail: 'not started' };
  return {
    kind: 'email',
    name,
    async start() {
      tx = createTransport({
        host: cfg.host,
        port: cfg.port,
        secure: cfg.secure,
        requireTLS: cfg.starttls,
        ignoreTLS: !cfg.starttls && !cfg.secure,
        connectionTimeout: 10_000,
        ...(cfg.user !== undefined && { auth: { user: cfg.user, pass: cfg.pass ?? '' } }),
        ...(cfg.ca !== undefined && { tls: { ca: readFileSync(cfg.ca) } }),
      });
      health = { ok: true, detail: `smtp://${cfg.host}:${cfg.port}` };
    },
    async stop() {
      tx?.close();
      tx = null;
    },
    async deliver(batch): Promise<DeliveryResult> {
      if (!tx) throw new Error('e-mail sink not started');
      const { subject, text } = digest(batch, cfg.subjectPrefix);
      try {
        await tx.sendMail({
          from: cfg.from,
          to: cfg.to,
          subject,
          text,
          attachments: [
            { filename: 'alerts.json', content: JSON.stringify(batch), contentType: 'application/json' },
          ],
        });
        health = { ok: true, detail: `smtp://${cfg.host}:${cfg.port}` };
        return { failed: [] };
      } catch (e) {
        health = { ok: false, detail: (e as Error).message };
        throw e;
      }
    },
    health: () => health,
  };
}
