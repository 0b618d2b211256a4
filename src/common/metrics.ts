/** Counters and gauges every stage can register; rendered in the Prometheus text format. */
type Labels = Record<string, string>;

interface Family {
  help: string;
  kind: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => Promise<void> | void)[] = [];

  private family(name: string, help: string, kind: Family['kind']): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { help, kind, values: new Map() };
      this.families.set(name, f);
    }
    return f;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.family(name, help, 'counter');
    const key = JSON.stringify(labels);
    const e = f.values.get(key);
    if (e) e.value += by;
    else f.values.set(key, { labels, value: by });
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    this.family(name, help, 'gauge').values.set(JSON.stringify(labels), { labels, value });
  }

  /** A function run before each render to refresh gauges (e.g. store sizes). */
  collect(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    for (const c of this.collectors) await c();
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.kind}`);
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
          .join(',');
        out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}
