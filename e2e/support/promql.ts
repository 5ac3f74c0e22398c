/**
 * The metric names a PromQL expression (or a Grafana query) reads, for checking that the shipped dashboard and
 * alerts query only series the operator exposes. Not a PromQL parser: it removes what cannot be a metric name
 * (string literals, label matchers in braces, range and offset durations, grouping label lists, Grafana
 * variables), then takes every identifier that is not a function call, a keyword or a number.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

export function metricNames(expr: string): string[] {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ') // Grafana variables: $__rate_interval, ${datasource}
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ');
  // label_values(metric, label) in Grafana template queries: the second argument is a label.
  s = s.replace(/\blabel_values\s*\(([^,()]*),[^)]*\)/g, ' $1 ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const before = s.slice(0, m.index);
    const after = s.slice(m.index! + word.length);
    if (/^\s*\(/.test(after)) continue; // a function call: rate(, sum(, histogram_quantile(
    if (/[0-9.]$/.test(before)) continue; // the unit of a number, as in 1e3
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows' nested panels too) and template queries. */
export function dashboardExpressions(dashboard: any): string[] {
  const exprs: string[] = [];
  const walk = (panels: any[] = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') exprs.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (typeof q === 'string') exprs.push(q);
  }
  return exprs;
}
