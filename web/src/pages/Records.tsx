import { useEffect, useId, useState } from 'react';
import { RecordTable } from '../components/RecordTable';
import { ErrorBox } from '../components/Status';
import { navigate } from '../router';
import { useSession } from '../state';

/** Records of one type with a filter over the registry's fields: where every KPI drills down to. */
export function Records({ type, filter }: { type: string; filter: string }) {
  const { types } = useSession();
  const id = useId();
  const [text, setText] = useState(filter);
  useEffect(() => setText(filter), [filter]);
  const t = types.find((x) => x.type === type);
  return (
    <div className="page">
      <h1>Records</h1>
      <form
        className="filterbar"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/records/${type}`, { filter: text.trim() || undefined });
        }}
      >
        <label htmlFor={`${id}-type`}>Type</label>
        <select
          id={`${id}-type`}
          value={type}
          onChange={(e) => navigate(`/records/${e.target.value}`, { filter: text.trim() || undefined })}
        >
          {types.map((x) => (
            <option key={x.type} value={x.type}>
              {x.type}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-f`}>Filter</label>
        <input
          id={`${id}-f`}
          className="grow"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder='client_ip = 10.0.0.0/8 and server_port in (443, 8443) and app ~ "google"'
          aria-describedby={`${id}-h`}
        />
        <button type="submit" className="primary">
          Apply
        </button>
      </form>
      <p id={`${id}-h`} className="hint">
        Operators: = != &lt; &lt;= &gt; &gt;= ~ (contains) !~ in, not in, exists; and / or / not; parentheses.
        Column headings name the fields.
      </p>
      {t ? (
        <RecordTable type={t} filter={filter} />
      ) : (
        <ErrorBox error={`There is no record type "${type}".`} />
      )}
    </div>
  );
}
