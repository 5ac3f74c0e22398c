/**
 * Summary of a V8 CPU profile (the .cpuprofile JSON `node --cpu-prof` writes): where the sampled time went,
 * by function (self and inclusive time) and by file and package, optionally within a time window. The
 * profile's timestamps are microseconds of the system's monotonic clock, the clock of process.hrtime(), so
 * another process can mark a window (e.g. "from link created to link Ready") in the same units.
 */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
  scriptId?: string | number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time in the window. */
  share: number;
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  idleMs: number;
  gcMs: number;
  programMs: number;
  topSelf: Entry[];
  topInclusiveOperator: Entry[];
  byFile: Entry[];
  byPackage: Entry[];
}

/** Maps a compiled position to its source (see sourcemap.ts): a repository-relative path and a 1-based line. */
export type Resolve = (url: string, line: number, column: number) => { file: string; line: number } | undefined;

/** A profile URL as a short repository path: `operator/kube/informer.js`, `node_modules/x/...`, `node:internal/...`. */
export function shortUrl(url: string): string {
  if (!url) return '(native)';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  const dist = u.lastIndexOf('/dist/');
  if (dist >= 0) u = u.slice(dist + '/dist/'.length);
  return u;
}

/** The package a file belongs to: `operator`, `node_modules/<pkg>`, `node (internals)`, `V8 / native`. */
export function packageOf(file: string): string {
  if (file.startsWith('node_modules/')) {
    const parts = file.split('/');
    return parts[1]!.startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1]!;
  }
  if (file.startsWith('node:')) return 'node (internals)';
  if (file === '(native)') return 'V8 / native';
  return file.split('/')[0]!;
}

const SPECIAL = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** Where a frame's function is: its TypeScript source when a source map says so, else the compiled file. */
function locate(f: CallFrame, resolve?: Resolve): { file: string; line: number } {
  const r = resolve?.(f.url, f.lineNumber, f.columnNumber);
  return r ?? { file: shortUrl(f.url), line: f.lineNumber + 1 };
}

function frameKey(f: CallFrame, resolve?: Resolve): string {
  const name = f.functionName || '(anonymous)';
  if (SPECIAL.has(name)) return name;
  const { file, line } = locate(f, resolve);
  return file === '(native)' ? `${name} (native)` : `${name} ${file}:${line}`;
}

/**
 * Sample i lasts until the next sample (the last one until endTime); samples whose start lies outside
 * [fromUs, toUs] are left out.
 */
export function summarizeProfile(
  p: CpuProfile,
  opts: { fromUs?: number; toUs?: number; top?: number; resolve?: Resolve } = {},
): ProfileSummary {
  const resolve = opts.resolve;
  const top = opts.top ?? 15;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const times: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) times.push((t += d));

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let windowUs = 0;
  let idle = 0;
  let gc = 0;
  let program = 0;
  const from = opts.fromUs ?? -Infinity;
  const to = opts.toUs ?? Infinity;
  for (let i = 0; i < p.samples.length; i++) {
    const start = times[i]!;
    if (start < from || start > to) continue;
    const dur = Math.max(0, (i + 1 < times.length ? times[i + 1]! : p.endTime) - start);
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    windowUs += dur;
    const key = frameKey(node.callFrame, resolve);
    if (key === '(idle)') {
      idle += dur;
      continue;
    }
    if (key === '(garbage collector)') gc += dur;
    if (key === '(program)') program += dur;
    self.set(key, (self.get(key) ?? 0) + dur);
    const file = SPECIAL.has(key) ? key : locate(node.callFrame, resolve).file;
    files.set(file, (files.get(file) ?? 0) + dur);
    // Inclusive time of operator functions: each function on the stack once per sample.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!locate(f, resolve).file.startsWith('operator/')) continue;
      const k = frameKey(f, resolve);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dur);
    }
  }
  const busy = windowUs - idle;
  const entries = (m: Map<string, number>, n = top): Entry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }));
  const packages = new Map<string, number>();
  for (const [file, us] of files) {
    const pkg = SPECIAL.has(file) ? file : packageOf(file);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  return {
    windowMs: windowUs / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    programMs: program / 1000,
    topSelf: entries(self),
    topInclusiveOperator: entries(inclusive),
    byFile: entries(files),
    byPackage: entries(packages, 10),
  };
}
