/**
 * The one reader of the Prometheus text exposition format (version 0.0.4) for the e2e suites and the
 * benchmarks. Every line goes through the same grammar (names, label escapes, Go's float syntax); a line that
 * is not a comment and not a sample is an error naming it.
 * - parseExposition: the whole document as a Prometheus server accepts it — each family has one TYPE before
 *   its samples and is not interleaved with another, no sample repeats, histograms are cumulative with +Inf
 *   equal to _count. The e2e asserts /metrics with it; it throws on the first violation.
 * - parseSamples: the samples alone, for reading figures (e2e counters, the benchmarks' scrapes), with sum()
 *   and histogram() over them.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (for a histogram: name_bucket, name_sum or name_count). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>(); // families whose samples are over: a later sample would interleave
  let current: Family | undefined;
  const seen = new Set<string>();
  const typed = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the document does not end with a newline');

  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = line.match(new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`));
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (closed.has(name)) throw new Error(`${where}: ${kind} for ${name} after its samples ended`);
      const family = families.get(name) ?? { name, type: 'untyped' as MetricType, samples: [] };
      if (family.samples.length) throw new Error(`${where}: ${kind} for ${name} after its first sample`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) throw new Error(`${where}: unknown type ${JSON.stringify(rest)}`);
        if (typed.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
        typed.add(name);
        family.type = rest as MetricType;
      } else {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        family.help = unescapeHelp(rest, where);
      }
      switchTo(family);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name) ?? implicitFamily(sample.name);
    if (family !== current) {
      if (closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are interleaved with another family`);
      switchTo(family);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate sample`);
    seen.add(key);
    family.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;

  function switchTo(family: Family) {
    if (current && current !== family) closed.add(current.name);
    families.set(family.name, family);
    current = family;
  }
  function familyOf(sampleName: string): Family | undefined {
    for (const f of families.values()) {
      if (SUFFIXES[f.type].some((s) => f.name + s === sampleName)) return f;
    }
    return undefined;
  }
  function implicitFamily(name: string): Family {
    return { name, type: 'untyped', samples: [] };
  }
}

/** Every sample of a scrape, in order; comments and blank lines skipped; no document-level checks. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line !== '' && !line.startsWith('#')) samples.push(parseSample(line, `line ${i + 1} (${JSON.stringify(line.slice(0, 120))})`));
  });
  return samples;
}

/** Sum of sample `name` over the label sets that include `match` (a RegExp matches the whole value or not). */
export function sum(samples: readonly Sample[], name: string, match: Record<string, string | RegExp> = {}): number {
  const matches = (s: Sample) =>
    Object.entries(match).every(([k, v]) => (v instanceof RegExp ? v.test(s.labels[k] ?? '') : s.labels[k] === v));
  return samples.filter((s) => s.name === name && matches(s)).reduce((t, s) => t + s.value, 0);
}

/** One cumulative bucket: `count` observations were ≤ `le` (the last one has le = Infinity). */
export interface Bucket {
  le: number;
  count: number;
}

/** The cumulative buckets of histogram `name` (summed over its other labels), sorted by bound. */
export function histogram(samples: readonly Sample[], name: string): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = parseValue(s.labels.le ?? '', `${name}_bucket le`);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

function parseSample(line: string, where: string): Sample {
  const m = line.match(new RegExp(`^(${NAME})(\\{.*\\})? (\\S+)(?: (-?\\d+))?$`));
  if (!m) throw new Error(`${where}: not a sample line`);
  const [, name, labelText, rawValue] = m;
  return { name, labels: labelText ? parseLabels(labelText.slice(1, -1), where) : {}, value: parseValue(rawValue, where) };
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${name} value not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        value += text[j];
        continue;
      }
      const next = text[++j];
      if (next === '\\' || next === '"') value += next;
      else if (next === 'n') value += '\n';
      else throw new Error(`${where}: bad escape \\${next} in label ${name}`);
    }
    if (j >= text.length) throw new Error(`${where}: unterminated value of label ${name}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`${where}: expected "," after label ${name}`);
      i++;
    }
  }
  return labels;
}

/** As Go's strconv.ParseFloat reads it (what Prometheus uses): NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(raw: string, where: string): number {
  const special = raw.match(/^([-+]?)(inf|infinity|nan)$/i);
  if (special) return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`${where}: bad value ${JSON.stringify(raw)}`);
  return Number(raw);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape \\${c} in HELP`);
  });
}

/** Per label set: buckets with ascending le, cumulative counts, a +Inf bucket equal to _count, and a _sum. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Array<{ le: number; value: number }>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push({ le: parseValue(le, `${f.name} le`), value: s.value });
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [labels, g] of groups) {
    const what = `${f.name}${labels}`;
    if (g.sum === undefined || g.count === undefined) throw new Error(`${what}: _sum or _count missing`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i].le > g.buckets[i - 1].le)) throw new Error(`${what}: le not ascending`);
      if (g.buckets[i].value < g.buckets[i - 1].value) throw new Error(`${what}: buckets not cumulative`);
    }
    const inf = g.buckets.at(-1);
    if (!inf || inf.le !== Infinity) throw new Error(`${what}: no +Inf bucket`);
    if (inf.value !== g.count) throw new Error(`${what}: +Inf bucket ${inf.value} differs from _count ${g.count}`);
  }
}
