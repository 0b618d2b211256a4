/**
 * The trend of a memory series (bytes over wall time) with its uncertainty, for the soak's
 * "flat RSS" bound (issue 21: < 1 MB/min over the last 5 minutes).
 *
 * Why not the least-squares slope alone: under a steady load the RSS swings by ±25–40 MB within
 * seconds (DuckDB's buffer pool filling between checkpoints and its allocator returning the
 * pages after them; bench/README.md, "The soak's RSS slope"), and over 5 minutes that swing
 * moves a slope by ±1–2 MB/min: in one quiet soak, shifting the window by 20 s moved it between
 * +0.26 and −2.02 MB/min. A slope printed without its uncertainty cannot tell a leak of 2 MB/min
 * from that noise, and a bound on it fails or passes by chance.
 *
 * The estimate: the least-squares slope over dense samples (every 250 ms: the swing's
 * samples are correlated over a few seconds, so denser ones still add information; over the
 * same quiet soak the slope's spread across shifted windows was 1.18 MB/min from 250-ms samples
 * against 1.88 from 1-s ones), and its standard error corrected for the residuals'
 * autocorrelation (Newey–West, Bartlett weights over a 30-s lag: the residuals' correlation
 * dies out within ~20 s, and 30-s block means of the quiet soak varied as independent ones).
 * The ordinary standard error would assume independent samples and be several times too small.
 *
 * The verdict (`judgeTrend`): the trend must be below the goal, and its standard error small
 * enough that a leak of twice the goal would have read above the goal (80% power): a run whose
 * swing hides a 2 MB/min leak does not pass by luck, it fails as one that cannot be judged.
 * With the swing measured so far (sd ~22 MB) the standard error over 5 minutes is ~0.6–1
 * MB/min, so a flat run still reads ≥ 1 about one time in eight, and a 2 MB/min leak < 1 as
 * often: a smaller swing is what makes the bound sharper, not another estimator.
 */
export interface Trend {
  /** Least-squares slope, MB per minute. */
  slope: number;
  /** Its standard error, corrected for autocorrelation, MB per minute. */
  se: number;
  /** Half-width of the 95% interval (1.96 standard errors), MB per minute. */
  half: number;
  /** Samples used. */
  n: number;
  /** Lags summed in the standard error (samples). */
  lags: number;
  /** Standard deviation of the residuals around the line, MB: the swing. */
  swing: number;
}

/** Samples of a series: wall time in ms, value in bytes. */
export type Series = readonly { t: number; bytes: number }[];

/**
 * Least-squares slope of `s` with a Newey–West standard error over lags spanning `lagMs`.
 * Fewer than 3 samples or no time span give NaN (a verdict on them fails).
 */
export function trend(s: Series, lagMs = 30_000): Trend {
  const n = s.length;
  if (n < 3) return { slope: Number.NaN, se: Number.NaN, half: Number.NaN, n, lags: 0, swing: Number.NaN };
  // Minutes and MB: the slope comes out in MB/min.
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const t0 = s[0]!.t;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    x[i] = (s[i]!.t - t0) / 60_000;
    y[i] = s[i]!.bytes / 1e6;
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - mx) ** 2;
    sxy += (x[i]! - mx) * (y[i]! - my);
  }
  if (!(sxx > 0))
    return { slope: Number.NaN, se: Number.NaN, half: Number.NaN, n, lags: 0, swing: Number.NaN };
  const slope = sxy / sxx;
  // u_i = (x_i − x̄)·e_i: the slope's error is Σu/Sxx, so its variance is that of a sum of
  // correlated terms: Σ_i Σ_j cov(u_i, u_j), estimated with weights falling to 0 at the lag.
  const u = new Float64Array(n);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const e = y[i]! - my - slope * (x[i]! - mx);
    ss += e * e;
    u[i] = (x[i]! - mx) * e;
  }
  const span = s[n - 1]!.t - t0;
  const lags = Math.min(n - 1, Math.max(1, Math.round((lagMs * (n - 1)) / Math.max(1, span))));
  let v = 0;
  for (let i = 0; i < n; i++) v += u[i]! * u[i]!;
  for (let l = 1; l <= lags; l++) {
    let c = 0;
    for (let i = l; i < n; i++) c += u[i]! * u[i - l]!;
    v += 2 * (1 - l / (lags + 1)) * c;
  }
  // n/(n−2): the two fitted parameters; a negative sum (possible with few lags) counts as 0.
  const se = Math.sqrt((Math.max(0, v) * n) / (n - 2)) / sxx;
  return { slope, se, half: 1.96 * se, n, lags, swing: Math.sqrt(ss / (n - 2)) };
}

/** The normal quantile of 80%: the conventional power a test is designed for. */
const Z80 = 0.8416;

/**
 * The bound on a trend: below `goal` MB/min, measured precisely enough that a leak of `leak`
 * MB/min would have been seen (read at or above the goal at least four times in five: a
 * standard error at most (leak − goal)/z₀.₈, a 95% half-width of ~2.3 MB/min for 1 and 2).
 * Returns why the bound is missed, or null.
 */
export function judgeTrend(tr: Trend, goal = 1, leak = 2): string | null {
  if (!(tr.slope < goal)) return `RSS trend ${fmtTrend(tr)} MB/min, goal < ${goal}`;
  if (!(tr.se <= (leak - goal) / Z80))
    return `RSS trend ${fmtTrend(tr)} MB/min cannot be judged: the swing (sd ${tr.swing.toFixed(1)} MB) could hide a leak of ${leak} MB/min (it would read below ${goal} more than one time in five)`;
  return null;
}

export function fmtTrend(tr: Trend): string {
  return `${tr.slope >= 0 ? '+' : ''}${tr.slope.toFixed(2)} ± ${tr.half.toFixed(2)}`;
}

/** A verdict on the soak's RSS trend and the windows it read. */
export interface TrendVerdict {
  /** Why the bound is missed, or null. */
  missed: string | null;
  /** The trend over the goal's window (the soak's last minutes). */
  last: Trend;
  /** The trend over the longer window, when the goal's window could not decide. */
  longer?: Trend;
}

/**
 * The bound read in two looks. The goal's window (the soak's last 5 minutes) decides when it
 * can: a trend below the goal measured precisely enough passes; one whose 95% interval lies
 * wholly at or above the goal fails. A trend in between (its interval holding the goal, or too
 * wide to judge) is what the swing alone produces about one time in eight on a flat run, so the
 * longer window after the climb to the steady state (`longer`, e.g. the soak from its second
 * minute) decides it with the same bound: the standard error of a slope over correlated noise falls
 * as the window's length to the power 3/2, so it is half as large over 8 minutes as over 5 and
 * a flat run fails there about one time in a hundred, while a 2 MB/min leak,
 * which the first look passes as rarely as before, reads ~2 there and fails. What the second
 * look could miss is a growth that began only inside the last minutes (it reads smaller over
 * the longer window): under a steady load nothing starts growing halfway, and the first look
 * still fails any trend whose interval lies above the goal.
 */
export function judgeTrendTwice(last: Series, longer: Series, goal = 1, leak = 2): TrendVerdict {
  const tl = trend(last);
  const first = judgeTrend(tl, goal, leak);
  if (first === null) return { missed: null, last: tl };
  if (tl.slope - tl.half >= goal) return { missed: first, last: tl };
  const tg = trend(longer);
  if (!(tg.n > tl.n)) return { missed: first, last: tl };
  const second = judgeTrend(tg, goal, leak);
  return {
    missed: second === null ? null : `${first}; over the longer window: ${second}`,
    last: tl,
    longer: tg,
  };
}
