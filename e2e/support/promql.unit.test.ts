import { expect } from 'chai';
import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../testenv/paths.js';
import { dashboardExpressions, metricNames } from './promql.js';

describe('promql: metric names read by an expression', () => {
  const cases: Array<[string, string, string[]]> = [
    ['a bare name', 'up', ['up']],
    ['matchers, a range and a function', 'rate(fluxlink_triggers_total{result!="delivered", job=~"a|b"}[5m])', ['fluxlink_triggers_total']],
    [
      'aggregation with by () before and after',
      'sum by (result) (rate(x_total[1m])) + sum(rate(y_total[1m])) by (le)',
      ['x_total', 'y_total'],
    ],
    [
      'histogram_quantile over buckets, Grafana interval',
      'histogram_quantile(0.99, sum by (le) (rate(h_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))',
      ['h_seconds_bucket'],
    ],
    ['set operators and on ()', '(a - b) > 0 unless on (namespace, pod) (c == 0)', ['a', 'b', 'c']],
    ['and / or / bool / offset', 'a and b or c > bool 1 offset 5m', ['a', 'b', 'c']],
    ['label values inside strings never count', 'sum(rate(w_total{result=~"unauthorized|bad_signature"}[10m]))', ['w_total']],
    ['a Grafana label_values query', 'label_values(process_resident_memory_bytes{job="x"}, namespace)', ['process_resident_memory_bytes']],
    ['numbers with exponents', 'a > 1e3', ['a']],
  ];
  for (const [story, expr, names] of cases) {
    it(story, () => expect(metricNames(expr)).to.deep.equal(names));
  }

  it('finds every query of a dashboard, nested panels and template variables included', () => {
    const dashboard = {
      panels: [{ targets: [{ expr: 'a' }] }, { type: 'row', panels: [{ targets: [{ expr: 'b' }, { refId: 'no expr' }] }] }],
      templating: {
        list: [
          { type: 'query', query: { query: 'label_values(c, pod)' } },
          { type: 'datasource', query: 'prometheus' },
        ],
      },
    };
    expect(dashboardExpressions(dashboard).flatMap(metricNames)).to.deep.equal(['a', 'b', 'c']);
  });
});

/** The shipped dashboard and alerts as files: they parse and say what a dashboard and a rule must say. */
describe('config/components: Grafana dashboard and PrometheusRule files', () => {
  const dashboardFile = path.join(repoRoot, 'config/components/grafana/gitlab-flux-link.json');
  const ruleFile = path.join(repoRoot, 'config/components/prometheus/prometheusrule.yaml');

  it('the dashboard is JSON with a uid, unique panel ids, and a query in every panel that is not a row', () => {
    const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8'));
    expect(dashboard.uid).to.equal('gitlab-flux-link');
    const panels: any[] = dashboard.panels;
    expect(new Set(panels.map((p) => p.id)).size).to.equal(panels.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.targets?.length, p.title).to.be.greaterThan(0);
      for (const t of p.targets) expect(metricNames(t.expr), `${p.title}: ${t.expr}`).to.not.be.empty;
    }
  });

  it('every alert has an expression reading a metric, a severity and a summary', () => {
    const rule = yaml.load(fs.readFileSync(ruleFile, 'utf8')) as any;
    const rules: any[] = rule.spec.groups.flatMap((g: any) => g.rules);
    expect(rules.length).to.be.greaterThan(0);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).to.match(/^GitLabFluxLink[A-Z]\w+$/);
      expect(metricNames(r.expr), r.alert).to.not.be.empty;
      expect(r.labels?.severity, r.alert).to.be.oneOf(['critical', 'warning', 'info']);
      expect(r.annotations?.summary, r.alert).to.be.a('string');
    }
  });
});
