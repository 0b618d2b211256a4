/**
 * What a password sign-in costs, and whether its cost tells an attacker which user names
 * exist: Auth.signIn with a wrong password for a real user and for a name that does not exist,
 * interleaved, CPU time (process.cpuUsage: user + sys of every thread, scrypt runs on libuv's
 * pool) and wall time per attempt. Goals: the hash is memory-hard (scrypt N = 2^15, r = 8,
 * 32 MiB), and the two answers cost the same within 10%.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { parseAuthConfig } from '../src/api/auth/config.js';
import { createAuth } from '../src/api/auth/index.js';
import { hashPassword } from '../src/api/auth/password.js';
import { TokenStore } from '../src/api/auth.js';
import { Metrics } from '../src/common/metrics.js';

export async function benchAuth(rounds = 40): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-auth-'));
  try {
    const auth = createAuth(
      // No lock during the measurement: every attempt runs the password check.
      parseAuthConfig({ lockout: { userFailures: 1_000_000, addressFailures: 1_000_000 } }),
      { dataDir: dir, tokens: new TokenStore(dir), metrics: new Metrics() },
    );
    auth.users.add({
      name: 'alice',
      roles: ['analyst'],
      password: await hashPassword('alice-long-password', auth.scrypt),
      disabled: false,
      source: 'local',
      created: new Date().toISOString(),
      last_login: null,
    });
    const req = (i: number) =>
      ({ ip: `10.0.${i >> 8}.${i & 255}`, headers: {} }) as unknown as FastifyRequest;
    // Warm: the dummy hash for unknown names is made at the first such attempt.
    await auth.signIn(req(0), 'nobody', 'x');
    await auth.signIn(req(0), 'alice', 'x');
    const cost = { real: { cpu: 0, wall: 0 }, ghost: { cpu: 0, wall: 0 } };
    for (let i = 0; i < rounds; i++) {
      for (const who of ['real', 'ghost'] as const) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await auth.signIn(req(i + 1), who === 'real' ? 'alice' : `ghost${i}`, 'not-the-password');
        if (r.ok) throw new Error('a wrong password was accepted');
        const c = process.cpuUsage(c0);
        cost[who].cpu += (c.user + c.system) / 1000;
        cost[who].wall += performance.now() - t0;
      }
    }
    const ok0 = process.cpuUsage();
    const good = await auth.signIn(req(999), 'alice', 'alice-long-password');
    const okCpu = process.cpuUsage(ok0);
    if (!good.ok) throw new Error('the right password was refused');
    const per = (x: number) => (x / rounds).toFixed(1);
    process.stdout.write(
      [
        `scrypt N=${auth.scrypt.N} r=${auth.scrypt.r} p=${auth.scrypt.p} (${(128 * auth.scrypt.N * auth.scrypt.r) >> 20} MiB per check)`,
        `wrong password, real user:   ${per(cost.real.cpu)} ms CPU, ${per(cost.real.wall)} ms wall per attempt`,
        `wrong password, unknown name: ${per(cost.ghost.cpu)} ms CPU, ${per(cost.ghost.wall)} ms wall per attempt`,
        `unknown / real CPU ratio: ${(cost.ghost.cpu / cost.real.cpu).toFixed(3)} (goal 0.9–1.1); wall ratio ${(cost.ghost.wall / cost.real.wall).toFixed(3)}`,
        `right password: ${((okCpu.user + okCpu.system) / 1000).toFixed(1)} ms CPU (one check, session made)`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAuth();
