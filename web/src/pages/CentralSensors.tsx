import { type FormEvent, useState } from 'react';
import { ApiError, request, sendJson } from '../api';
import { Empty, ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { useLoad, useTime } from '../state';

/** One sensor of a central, as GET /api/v1/sensors reports it. */
export interface SensorRow {
  name: string;
  url: string;
  status: 'up' | 'down';
  version: string | null;
  backend: string | null;
  lagSeconds: number | null;
  rttMs: number | null;
  error: string | null;
  lastSeen: string | null;
  recordsPerSec: number | null;
  alertsPerSec: number | null;
  health: 'ok' | 'degraded' | null;
  reasons: string[];
}

interface Answer {
  sensors: SensorRow[];
  joinEnabled: boolean;
  /** Sensors a query left out (the vantage-missing-sensors header of a real query). */
  missing: string[];
}

/** Seconds as the largest whole unit: 42 s, 7 min, 3 h, 2 d. */
export function lag(s: number | null): string {
  if (s === null) return '—';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

const rate = (v: number | null) => (v === null ? '—' : `${v.toLocaleString('en-US')}/s`);

/**
 * The sensors of a central: health, lag, version, last seen, publish rates and errors, the
 * partial-answer note when one is down, and adding a sensor with the join token. On a
 * Vantage that is not a central the API has no sensors list (404) and nothing is shown.
 */
export function CentralSensors() {
  const { tick } = useTime();
  const [n, setN] = useState(0);
  const got = useLoad(`central${tick}/${n}`, async (signal): Promise<Answer | null> => {
    let res: Response;
    try {
      res = await request('/api/v1/sensors', { signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
    const body = (await res.json()) as Omit<Answer, 'missing'>;
    // A real (small) query: a central names the sensors it had to leave out.
    const q = await request('/api/v1/flows?limit=1&after=2000-01-01T00:00:00Z', { signal });
    const missing = (q.headers.get('vantage-missing-sensors') ?? '').split(',').filter(Boolean);
    return { ...body, missing };
  });
  if (got.data === null) return null;
  const a = got.data;
  const down = a?.sensors.filter((s) => s.status === 'down') ?? [];
  const gone: string[] = a && a.missing.length > 0 ? a.missing : down.map((s) => s.name);
  return (
    <>
      <Panel
        title="Sensors of this central"
        loading={got.loading}
        error={got.error}
        onRetry={got.reload}
        testId="central-sensors"
      >
        {gone.length > 0 && (
          <p className="error" role="alert" data-testid="partial-note">
            Partial answers: {gone.join(', ')} {gone.length > 1 ? 'are' : 'is'} not answering. Totals, top
            lists and charts leave out the missing sensor's data; they are not wrong, only incomplete.
          </p>
        )}
        {a && a.sensors.length === 0 && <Empty>No sensors yet. Add one below.</Empty>}
        {a && a.sensors.length > 0 && (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Sensor</th>
                <th scope="col">State</th>
                <th scope="col">Version</th>
                <th scope="col" title="Time since the newest flow the sensor holds">
                  Lag
                </th>
                <th scope="col">Last seen</th>
                <th scope="col">Records</th>
                <th scope="col">Alerts</th>
                <th scope="col">Errors</th>
              </tr>
            </thead>
            <tbody>
              {a.sensors.map((s) => (
                <tr key={s.name} data-testid={`sensor-${s.name}`} data-status={s.status}>
                  <th scope="row">
                    {s.name}
                    <div className="muted">{s.url}</div>
                  </th>
                  <td>
                    <span className={s.status === 'up' && s.health !== 'degraded' ? 'badge' : 'badge bad'}>
                      {s.status === 'down' ? 'down' : (s.health ?? 'up')}
                    </span>
                    {s.rttMs !== null && <div className="muted">{s.rttMs} ms</div>}
                  </td>
                  <td>{s.version ?? '—'}</td>
                  <td>{lag(s.lagSeconds)}</td>
                  <td>{s.lastSeen ? time(s.lastSeen) : 'never'}</td>
                  <td>{rate(s.recordsPerSec)}</td>
                  <td>{rate(s.alertsPerSec)}</td>
                  <td className={s.error || s.reasons.length ? 'error' : ''}>
                    {s.error ?? (s.reasons.length ? s.reasons.join('; ') : 'none')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      {a && <Join enabled={a.joinEnabled} onJoined={() => setN((x) => x + 1)} />}
    </>
  );
}

/** Adding a sensor: it registers itself with the central's join token (config central.joinToken). */
function Join({ enabled, onJoined }: { enabled: boolean; onJoined: () => void }) {
  const [form, setForm] = useState({ name: '', url: '', token: '', joinToken: '' });
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const origin = typeof location === 'undefined' ? '' : location.origin;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const r = await sendJson<{ joined: string }>('POST', '/api/v1/federation/join', form);
      setDone(r.joined);
      setForm({ name: '', url: '', token: '', joinToken: '' });
      onJoined();
    } catch (x) {
      setError((x as Error).message);
    }
  };
  const field = (k: keyof typeof form, label: string, placeholder: string, type = 'text') => (
    <label>
      {label}
      <input
        type={type}
        value={form[k]}
        placeholder={placeholder}
        required
        onChange={(e) => setForm({ ...form, [k]: e.target.value })}
        data-testid={`join-${k}`}
      />
    </label>
  );
  return (
    <Panel title="Add a sensor" testId="join">
      {!enabled ? (
        <p>
          Joining is off. Set <code>central.joinToken</code> in this central's config file to a secret of 16
          characters or more, restart, and give the secret to whoever runs the new sensor.
        </p>
      ) : (
        <>
          <ol className="list">
            <li>
              On the new sensor, create an API token with the analyst role (the central queries with it).
            </li>
            <li>
              Register the sensor with the central's join token, from the sensor's host:
              <code className="secret" data-testid="join-command">
                {`curl -X POST -H 'content-type: application/json' -d '{"name":"NAME","url":"http://SENSOR:8080","token":"SENSOR_TOKEN","joinToken":"JOIN_TOKEN"}' ${origin}/api/v1/federation/join`}
              </code>
            </li>
            <li>Or enter the same here. The sensor appears in the list above once the central reaches it.</li>
          </ol>
          <form onSubmit={submit} className="form">
            {field('name', 'Name', 's4')}
            {field('url', 'Sensor URL', 'http://10.0.0.9:8080')}
            {field('token', "Sensor's API token", 'vt_…', 'password')}
            {field('joinToken', 'Join token', 'the central.joinToken secret', 'password')}
            <button type="submit" data-testid="join-submit">
              Add sensor
            </button>
          </form>
          <ErrorBox error={error} />
          {done && (
            <p className="notice" role="status" data-testid="join-done">
              {done} joined.
            </p>
          )}
        </>
      )}
    </Panel>
  );
}
