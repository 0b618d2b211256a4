import type { ReactNode } from 'react';

/** A request's failure in plain words, announced to screen readers. */
export function ErrorBox({ error, onRetry }: { error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <span>{error}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A panel with a fixed-height body: it keeps its size while its data loads. */
export function Panel({
  title,
  loading,
  error,
  onRetry,
  children,
  actions,
  className,
  testId,
}: {
  title: ReactNode;
  loading?: boolean;
  error?: string | null;
  onRetry?: () => void;
  children: ReactNode;
  actions?: ReactNode;
  className?: string | undefined;
  testId?: string | undefined;
}) {
  return (
    <section
      className={`panel ${className ?? ''}`}
      aria-busy={loading ? true : undefined}
      data-testid={testId}
    >
      <header className="panel-head">
        <h2>{title}</h2>
        {loading && <span className="spinner" role="status" aria-label="Loading" />}
        {actions && <div className="panel-actions">{actions}</div>}
      </header>
      <ErrorBox error={error ?? null} {...(onRetry ? { onRetry } : {})} />
      <div className="panel-body">{children}</div>
    </section>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
