import { readFileSync } from 'node:fs';
import { createTransport } from 'nodemailer';
import { SIGNATURE_HEADER, signWebhook } from '../../bus/sinks/webhook.js';
import { call, expect2xx, masked } from './http.js';
import type { ActionAdapter, ActionRequest, ApprovalLinks, PlannedCall } from './types.js';

/**
 * Notifications: e-mail (nodemailer, as the bus's e-mail sink), a signed webhook (the bus's
 * `Vantage-Signature`), and the incoming-webhook shapes of Slack and Microsoft Teams. Params:
 * subject, text, and for approval requests `links` (approve, deny, console).
 */
export interface EmailNotifyConfig {
  host: string;
  port: number;
  secure: boolean;
  starttls: boolean;
  from: string;
  to: string[];
  user?: string;
  pass?: string;
  ca?: string;
}

export interface HookNotifyConfig {
  url: string;
  /** Signing key (webhook kind). */
  secret?: string;
  ca?: string;
  timeoutMs: number;
}

const linksOf = (req: ActionRequest): ApprovalLinks | null =>
  (req.params.links as ApprovalLinks | undefined) ?? null;

function plainText(req: ActionRequest): string {
  const l = linksOf(req);
  const text = String(req.params.text ?? '');
  return l ? `${text}\n\nApprove: ${l.approve}\nDeny: ${l.deny}\nConsole: ${l.console}\n` : `${text}\n`;
}

export function createEmailNotifier(name: string, cfg: EmailNotifyConfig): ActionAdapter {
  const mail = (req: ActionRequest) => {
    const to =
      Array.isArray(req.params.to) && req.params.to.length > 0 ? (req.params.to as string[]) : cfg.to;
    return {
      from: cfg.from,
      to,
      subject: String(req.params.subject ?? '')
        .replace(/[\r\n]+/g, ' ')
        .slice(0, 200),
      text: plainText(req),
      // A stable Message-ID: a retried send after a lost answer is recognisably the same mail.
      messageId: `<${req.key.replace(/[^A-Za-z0-9._-]/g, '_')}@vantage.respond>`,
    };
  };
  return {
    name,
    kind: 'email',
    family: 'notify',
    plan: (req) => [
      { adapter: name, kind: 'email', summary: `mail to ${mail(req).to.join(', ')}`, request: mail(req) },
    ],
    async apply(req) {
      const tx = createTransport({
        host: cfg.host,
        port: cfg.port,
        secure: cfg.secure,
        requireTLS: cfg.starttls,
        ignoreTLS: !cfg.starttls && !cfg.secure,
        connectionTimeout: 10_000,
        ...(cfg.user !== undefined && { auth: { user: cfg.user, pass: cfg.pass ?? '' } }),
        ...(cfg.ca !== undefined && { tls: { ca: readFileSync(cfg.ca) } }),
      });
      try {
        const info = await tx.sendMail(mail(req));
        return { message_id: info.messageId, accepted: info.accepted.length };
      } finally {
        tx.close();
      }
    },
  };
}

type Shape = 'webhook' | 'slack' | 'teams';

function payload(shape: Shape, req: ActionRequest): unknown {
  const subject = String(req.params.subject ?? '');
  const text = String(req.params.text ?? '');
  const l = linksOf(req);
  if (shape === 'slack') {
    // Slack incoming webhook: `text` is the fallback, `blocks` the message, buttons open URLs.
    return {
      text: `${subject}\n${text}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: subject.slice(0, 150) } },
        { type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) || ' ' } },
        ...(l
          ? [
              {
                type: 'actions',
                elements: [
                  {
                    type: 'button',
                    text: { type: 'plain_text', text: 'Approve' },
                    style: 'primary',
                    url: l.approve,
                  },
                  {
                    type: 'button',
                    text: { type: 'plain_text', text: 'Deny' },
                    style: 'danger',
                    url: l.deny,
                  },
                  { type: 'button', text: { type: 'plain_text', text: 'Open console' }, url: l.console },
                ],
              },
            ]
          : []),
      ],
    };
  }
  if (shape === 'teams') {
    // Teams incoming webhook (Workflows): a message carrying one Adaptive Card.
    return {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', text: subject, weight: 'Bolder', size: 'Medium', wrap: true },
              { type: 'TextBlock', text, wrap: true },
            ],
            actions: l
              ? [
                  { type: 'Action.OpenUrl', title: 'Approve', url: l.approve },
                  { type: 'Action.OpenUrl', title: 'Deny', url: l.deny },
                  { type: 'Action.OpenUrl', title: 'Open console', url: l.console },
                ]
              : [],
          },
        },
      ],
    };
  }
  return {
    subject,
    text,
    key: req.key,
    ...(l && { links: l }),
    ...(req.params.context as object | undefined),
  };
}

export function createHookNotifier(name: string, shape: Shape, cfg: HookNotifyConfig): ActionAdapter {
  const build = (req: ActionRequest) => {
    const body = JSON.stringify(payload(shape, req));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (cfg.secret) headers[SIGNATURE_HEADER] = signWebhook(cfg.secret, body, Math.floor(Date.now() / 1000));
    return { method: 'POST', url: cfg.url, headers, body };
  };
  return {
    name,
    kind: shape,
    family: 'notify',
    plan(req): PlannedCall[] {
      const r = build(req);
      return [
        {
          adapter: name,
          kind: shape,
          summary: `POST ${shape} message`,
          request: { ...r, headers: masked(r.headers), body: JSON.parse(r.body) },
        },
      ];
    },
    async apply(req) {
      const a = await call(build(req), {
        ...(cfg.ca !== undefined && { ca: cfg.ca }),
        timeoutMs: cfg.timeoutMs,
      });
      expect2xx(a, `${name}: ${shape}`);
      return { status: a.status };
    },
  };
}
