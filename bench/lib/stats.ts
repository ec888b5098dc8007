import { readFileSync } from 'node:fs';
/** Small numeric helpers shared by the pipeline benchmarks. */

/** Nearest-rank percentile of an ascending-sorted array (p in [0, 100]). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** A growable Float64Array: millions of samples without boxing each number. */
export class Samples {
  private buf = new Float64Array(1 << 16);
  private n = 0;

  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  get length(): number {
    return this.n;
  }

  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

export const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
export const fmtMiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** RSS, heap and external memory sampled on an interval, with timestamps relative to `start`. */
export interface MemorySample {
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /** Records finished so far, when the sampler was given a progress callback. */
  readonly done: number;
}

export class MemorySampler {
  readonly samples: MemorySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly start = performance.now();

  constructor(
    private readonly intervalMs: number,
    private readonly progress: () => number = () => 0,
  ) {}

  begin(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  end(): MemorySample[] {
    clearInterval(this.timer);
    this.sample();
    return this.samples;
  }

  private sample(): void {
    const m = process.memoryUsage();
    this.samples.push({
      t: Math.round(performance.now() - this.start),
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external + m.arrayBuffers,
      done: this.progress(),
    });
  }
}

/**
 * Does memory plateau? Compares the peak RSS of the second half of the drain with the first half's: a leak or
 * an unbounded buffer keeps growing with the backlog, a bounded pipeline reaches its level early and stays.
 */
export function plateau(samples: readonly MemorySample[]): {
  peakRss: number;
  firstHalfPeak: number;
  secondHalfPeak: number;
  growth: number;
} {
  const mid = Math.floor(samples.length / 2);
  const peak = (xs: readonly MemorySample[]) => xs.reduce((m, s) => Math.max(m, s.rss), 0);
  const firstHalfPeak = peak(samples.slice(0, mid));
  const secondHalfPeak = peak(samples.slice(mid));
  return {
    peakRss: Math.max(firstHalfPeak, secondHalfPeak),
    firstHalfPeak,
    secondHalfPeak,
    growth: firstHalfPeak > 0 ? secondHalfPeak / firstHalfPeak - 1 : 0,
  };
}

/** Aggregate CPU ticks from /proc/stat: total and steal (Linux; zeros elsewhere). */
export function cpuTicks(): { total: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/** Share of CPU time stolen by the hypervisor between two cpuTicks() readings, in percent. */
export function stealPercent(
  from: { total: number; steal: number },
  to: { total: number; steal: number },
): number {
  return to.total > from.total ? (100 * (to.steal - from.steal)) / (to.total - from.total) : 0;
}
