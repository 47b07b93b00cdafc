/**
 * A tiny metrics registry rendering the Prometheus text exposition format (version 0.0.4): counters,
 * gauges and histograms with labels, plus collectors that refresh gauges right before a scrape.
 *
 * @example
 * const m = new MetricsRegistry();
 * const sent = m.counter("transport_bytes_sent_total", "Bytes sent to peers");
 * sent.inc({ peer: "2" }, 512);
 * m.render(); // "# HELP transport_bytes_sent_total Bytes sent to peers\n# TYPE ... counter\n..."
 */
export type Labels = Record<string, string | number>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  name: string;
  help: string;
  kind: Kind;
  render(): string[];
}

/** A value that only goes up. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

/** Observations counted into cumulative buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
  count(labels?: Labels): number;
}

/** Default latency buckets in seconds: 0.5 ms .. 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => void | Promise<void>)[] = [];

  /** A counter; asking twice for the same name returns the same counter. */
  counter(name: string, help: string): Counter {
    return this.family(name, help, "counter", () => {
      const values = new Map<string, number>();
      const fam = {
        name, help, kind: "counter" as const,
        inc(labels?: Labels, by = 1) {
          const k = labelKey(labels);
          values.set(k, (values.get(k) ?? 0) + by);
        },
        get: (labels?: Labels) => values.get(labelKey(labels)) ?? 0,
        render: () => sortedEntries(values).map(([k, v]) => `${name}${k} ${fmt(v)}`),
      };
      return fam;
    });
  }

  /** A gauge; asking twice for the same name returns the same gauge. */
  gauge(name: string, help: string): Gauge {
    return this.family(name, help, "gauge", () => {
      const values = new Map<string, number>();
      return {
        name, help, kind: "gauge" as const,
        set(value: number, labels?: Labels) {
          values.set(labelKey(labels), value);
        },
        inc(labels?: Labels, by = 1) {
          const k = labelKey(labels);
          values.set(k, (values.get(k) ?? 0) + by);
        },
        get: (labels?: Labels) => values.get(labelKey(labels)) ?? 0,
        render: () => sortedEntries(values).map(([k, v]) => `${name}${k} ${fmt(v)}`),
      };
    });
  }

  /** A histogram with the given upper bounds (ascending); `+Inf` is implied. */
  histogram(name: string, help: string, buckets: number[] = LATENCY_BUCKETS): Histogram {
    return this.family(name, help, "histogram", () => {
      const series = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; count: number }>();
      return {
        name, help, kind: "histogram" as const,
        observe(value: number, labels?: Labels) {
          const k = labelKey(labels);
          let s = series.get(k);
          if (!s) series.set(k, s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 });
          for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) s.counts[i]!++;
          s.sum += value;
          s.count++;
        },
        count: (labels?: Labels) => series.get(labelKey(labels))?.count ?? 0,
        render: () => {
          const lines: string[] = [];
          for (const [, s] of sortedEntries(series)) {
            buckets.forEach((b, i) => lines.push(`${name}_bucket${labelKey({ ...s.labels, le: fmt(b) })} ${s.counts[i]}`));
            lines.push(`${name}_bucket${labelKey({ ...s.labels, le: "+Inf" })} ${s.count}`);
            lines.push(`${name}_sum${labelKey(s.labels)} ${fmt(s.sum)}`);
            lines.push(`${name}_count${labelKey(s.labels)} ${s.count}`);
          }
          return lines;
        },
      };
    });
  }

  /** Runs `fn` before every render (to set gauges from live state); async collectors run in `renderAsync`. */
  collect(fn: () => void | Promise<void>): void {
    this.collectors.push(fn);
  }

  /** Runs every collector (awaiting async ones), then renders. */
  async renderAsync(): Promise<string> {
    for (const fn of this.collectors) {
      try {
        await fn();
      } catch {
        // A collector reading a stopped component must not break the scrape.
      }
    }
    return this.format();
  }

  /** The whole registry in Prometheus text format, families in name order (sync collectors only). */
  render(): string {
    for (const fn of this.collectors) {
      try {
        const r = fn();
        if (r instanceof Promise) r.catch(() => {});
      } catch {
        // A collector reading a stopped component must not break the scrape.
      }
    }
    return this.format();
  }

  private format(): string {
    const out: string[] = [];
    for (const name of [...this.families.keys()].sort()) {
      const f = this.families.get(name)!;
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${f.kind}`);
      out.push(...f.render());
    }
    return out.join("\n") + "\n";
  }

  private family<T extends Family>(name: string, help: string, kind: Kind, make: () => T): T {
    const existing = this.families.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`metric ${name} already registered as a ${existing.kind}`);
      return existing as T;
    }
    const f = make();
    this.families.set(name, f);
    return f;
  }
}

/**
 * Mirrors a monotonically growing external count into `counter` (adds the growth since the last call).
 * Returns the function to call at each scrape.
 */
export function mirrorCount(counter: Counter, read: () => number, labels?: Labels): () => void {
  let last = 0;
  return () => {
    const now = read();
    if (now > last) counter.inc(labels, now - last);
    last = Math.max(last, now);
  };
}

/**
 * Rendered label sets by a cheap key (names and values in the caller's order): counters are bumped per
 * frame and per request, and sorting and escaping the labels each time cost more than the count itself.
 */
const labelKeyCache = new Map<string, string>();
const LABEL_KEY_CACHE_MAX = 4096;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let quick = "";
  let n = 0;
  for (const k in labels) {
    quick += k + "\u0000" + String(labels[k]) + "\u0001";
    n++;
  }
  if (quick === "") return "";
  const hit = labelKeyCache.get(quick);
  if (hit !== undefined) return hit;
  const key = renderLabels(labels);
  // Separators inside a name or value could make two label sets share a quick key: never cache those.
  if (labelKeyCache.size < LABEL_KEY_CACHE_MAX && quick.split("\u0000").length === n + 1 && quick.split("\u0001").length === n + 1) {
    labelKeyCache.set(quick, key);
  }
  return key;
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",") + "}";
}

function sortedEntries<V>(m: Map<string, V>): [string, V][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
