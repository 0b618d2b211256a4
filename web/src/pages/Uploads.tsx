import { useEffect, useId, useRef, useState } from 'react';
import { can } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { time } from '../format';
import { useJson, useSession } from '../state';
import { cancelJob, describeJob, ENDED, followJob, type Job, uploadCapture } from '../uploads';

/**
 * Upload captures (pcap, pcapng; plain, gzip, zstd or xz). Each becomes a job that the server
 * ingests within its limits; the page follows it and lists the recent ones.
 */
export function Uploads() {
  const { me } = useSession();
  const [tick, setTick] = useState(0);
  const list = useJson<{ items: Job[] }>(can(me.role, 'analyst') ? '/api/v1/jobs' : null, tick);
  const [current, setCurrent] = useState<Job | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const file = useRef<HTMLInputElement>(null);
  const abort = useRef<AbortController | null>(null);
  const id = useId();
  useEffect(() => () => abort.current?.abort(), []);
  if (!can(me.role, 'analyst')) {
    return (
      <div className="page" data-testid="uploads-denied">
        <h1>Uploads</h1>
        <ErrorBox error={`Uploading needs the analyst role; your token has the ${me.role} role.`} />
      </div>
    );
  }
  const start = async (f: File) => {
    setErr(null);
    setBusy(true);
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    try {
      const j = await uploadCapture(f, f.name);
      setCurrent(j);
      setTick((t) => t + 1);
      await followJob(j.id, setCurrent, { signal: ac.signal });
      setTick((t) => t + 1);
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setErr(`Upload failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="page" data-testid="uploads">
      <h1>Uploads</h1>
      <Panel title="Upload a capture">
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            const f = file.current?.files?.[0];
            if (f) void start(f);
          }}
        >
          <label htmlFor={`${id}-f`}>Capture file</label>
          <input id={`${id}-f`} ref={file} type="file" accept=".pcap,.pcapng,.cap,.gz,.zst,.xz" />
          <button type="submit" disabled={busy}>
            Upload
          </button>
        </form>
        <ErrorBox error={err} />
        {current && (
          <p role="status" data-testid="upload-job" data-state={current.state}>
            {current.files.join(', ')}: {describeJob(current)}{' '}
            {!ENDED.has(current.state) && (
              <button
                type="button"
                onClick={() => {
                  cancelJob(current.id).then(setCurrent, (e: unknown) => setErr((e as Error).message));
                }}
              >
                Cancel
              </button>
            )}
          </p>
        )}
      </Panel>
      <Panel title="Recent uploads" loading={list.loading} error={list.error} onRetry={list.reload}>
        <table>
          <thead>
            <tr>
              <th>Created</th>
              <th>Files</th>
              <th>State</th>
              <th>What happened</th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.items ?? []).map((j) => (
              <tr key={j.id}>
                <td>{time(j.created)}</td>
                <td>{j.files.join(', ')}</td>
                <td>{j.state}</td>
                <td>{describeJob(j)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </div>
  );
}
