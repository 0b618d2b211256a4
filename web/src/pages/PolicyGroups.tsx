import { useId, useState } from 'react';
import { can, sendJson } from '../api';
import { ErrorBox, Panel } from '../components/Status';
import { int } from '../format';
import { type PolicyDoc, type PolicyGroup, splitName } from '../policy';
import { useSession } from '../state';

type GroupOp =
  | { op: 'rename'; group: string; name: string }
  | { op: 'pin'; group: string; pinned: boolean }
  | { op: 'merge'; groups: string[]; name: string }
  | { op: 'split'; group: string; members: string[]; name: string };

function GroupRow({
  g,
  edit,
  picked,
  onPick,
  apply,
  taken,
}: {
  g: PolicyGroup;
  edit: boolean;
  picked: boolean;
  onPick: (on: boolean) => void;
  apply: (op: GroupOp, what: string) => void;
  taken: string[];
}) {
  const [name, setName] = useState(g.name);
  const [open, setOpen] = useState(false);
  const [moving, setMoving] = useState<Set<string>>(new Set());
  const [splitTo, setSplitTo] = useState(() => splitName(g.name, taken));
  const id = useId();
  return (
    <>
      <tr data-group={g.id} data-name={g.name} data-pinned={g.pinned}>
        {edit && (
          <td>
            <input
              type="checkbox"
              aria-label={`Pick ${g.name} to merge`}
              checked={picked}
              onChange={(e) => onPick(e.target.checked)}
            />
          </td>
        )}
        <td>
          {edit ? (
            <form
              className="row"
              onSubmit={(e) => {
                e.preventDefault();
                if (name.trim() && name.trim() !== g.name)
                  apply({ op: 'rename', group: g.id, name: name.trim() }, `Renamed to ${name.trim()}`);
              }}
            >
              <input
                aria-label={`Name of ${g.name}`}
                value={name}
                maxLength={128}
                onChange={(e) => setName(e.target.value)}
              />
              <button type="submit" disabled={!name.trim() || name.trim() === g.name}>
                Rename
              </button>
            </form>
          ) : (
            g.name
          )}
        </td>
        <td>{g.kind}</td>
        <td className="num">{int(g.members.length + g.cidrs.length)}</td>
        <td>
          {edit ? (
            <label className="check">
              <input
                type="checkbox"
                checked={g.pinned}
                onChange={(e) =>
                  apply(
                    { op: 'pin', group: g.id, pinned: e.target.checked },
                    e.target.checked ? `Pinned ${g.name}` : `Unpinned ${g.name}`,
                  )
                }
              />{' '}
              pinned
            </label>
          ) : g.pinned ? (
            'pinned'
          ) : (
            ''
          )}
        </td>
        <td>
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide members' : 'Members'}
          </button>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={edit ? 6 : 5}>
            <div className="members">
              {[...g.members, ...g.cidrs].map((m) =>
                edit && g.members.includes(m) && g.members.length > 1 ? (
                  <label key={m} className="check">
                    <input
                      type="checkbox"
                      checked={moving.has(m)}
                      onChange={(e) => {
                        const s = new Set(moving);
                        if (e.target.checked) s.add(m);
                        else s.delete(m);
                        setMoving(s);
                      }}
                    />{' '}
                    <a href={`#/host/${encodeURIComponent(m)}`}>{m}</a>
                  </label>
                ) : (
                  <span key={m}>{m}</span>
                ),
              )}
            </div>
            {edit && g.members.length > 1 && (
              <div className="row">
                <label htmlFor={`${id}-s`}>Split the checked members into</label>
                <input
                  id={`${id}-s`}
                  value={splitTo}
                  maxLength={128}
                  onChange={(e) => setSplitTo(e.target.value)}
                />
                <button
                  type="button"
                  disabled={moving.size === 0 || moving.size === g.members.length || !splitTo.trim()}
                  onClick={() =>
                    apply(
                      { op: 'split', group: g.id, members: [...moving], name: splitTo.trim() },
                      `Split ${moving.size} members into ${splitTo.trim()}`,
                    )
                  }
                >
                  Split
                </button>
              </div>
            )}
          </td>
        </tr>
      )}
    </>
  );
}

/** The groups of a proposal; analysts rename, pin, merge and split them (edges follow). */
export function ProposalGroups({ doc, onChanged }: { doc: PolicyDoc; onChanged: () => void }) {
  const { me } = useSession();
  const edit = can(me.role, 'analyst');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [mergeName, setMergeName] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const id = useId();
  const apply = (op: GroupOp, what: string) => {
    setErr(null);
    setMsg(null);
    sendJson<PolicyDoc>('PATCH', `/api/v1/policy/proposals/${encodeURIComponent(doc.id)}/groups`, {
      ops: [op],
    }).then(
      () => {
        setMsg(`${what}.`);
        setPicked(new Set());
        onChanged();
      },
      (e: unknown) => setErr(`The server refused: ${(e as Error).message}`),
    );
  };
  const taken = doc.groups.map((g) => g.name);
  return (
    <Panel title={`Groups (${doc.groups.length})`} testId="policy-groups">
      {edit && (
        <div className="filterbar">
          <span className="muted">{picked.size} picked</span>
          <label htmlFor={`${id}-m`}>Merge them as</label>
          <input
            id={`${id}-m`}
            value={mergeName}
            maxLength={128}
            placeholder="name of the merged group"
            onChange={(e) => setMergeName(e.target.value)}
          />
          <button
            type="button"
            disabled={picked.size < 2 || !mergeName.trim()}
            onClick={() =>
              apply(
                {
                  op: 'merge',
                  // The document's order: the first picked group keeps its id.
                  groups: doc.groups.filter((g) => picked.has(g.id)).map((g) => g.id),
                  name: mergeName.trim(),
                },
                `Merged ${picked.size} groups into ${mergeName.trim()}`,
              )
            }
          >
            Merge
          </button>
          <span className="muted" aria-live="polite" data-testid="groups-msg">
            {msg}
          </span>
        </div>
      )}
      <ErrorBox error={err} />
      <table className="grid-table">
        <thead>
          <tr>
            {edit && <th scope="col">Merge</th>}
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Members</th>
            <th scope="col">Pinned</th>
            <th scope="col">
              <span className="sr-only">Members</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {doc.groups.map((g) => (
            <GroupRow
              // The name is part of the key so the rename box shows the server's name after a change.
              key={`${g.id}\u0000${g.name}\u0000${g.members.length}`}
              g={g}
              edit={edit}
              picked={picked.has(g.id)}
              onPick={(on) => {
                const s = new Set(picked);
                if (on) s.add(g.id);
                else s.delete(g.id);
                setPicked(s);
              }}
              apply={apply}
              taken={taken}
            />
          ))}
        </tbody>
      </table>
      {edit && (
        <p className="hint">
          A pinned group keeps its members when the next proposal is learned. Merging joins members and edges
          (the stricter status wins); a split group keeps a copy of every edge for review.
        </p>
      )}
    </Panel>
  );
}
