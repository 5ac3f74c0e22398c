import { expect } from 'chai';
import { renderConsole, renderMarkdown } from './report.js';
import type { CatchUpSizeResult, OutboundResult, RunResults, SweepBudgetResult } from './results.js';
import { verdict } from './stats.js';
import { targets } from './targets.js';

const BRANCH = 'GET /projects/:id/repository/branches/:branch';

function size(n: number, over: { current?: number; requests?: number; all?: number; perfect?: number } = {}): CatchUpSizeResult {
  const requests = over.requests ?? n;
  return {
    repositories: n,
    namespaces: n / 10,
    requestsPerMinute: 2000,
    setup: { groundStartSeconds: 9, projectsSeconds: 20, linkReadySeconds: 15, firstArtifactsSeconds: 60 },
    outage: {
      pushes: n,
      pushSeconds: 40,
      deliveries: 0,
      readySeconds: 3,
      catchUpDoneSeconds: 8,
      allCurrentSeconds: over.all ?? 60,
      perRepository: [10, 30, 60],
      current: over.current ?? n,
      record: { reason: 'start', at: '2026-12-01T00:00:08.000Z', checked: n, triggered: n, requests: n },
      triggersByReason: { start: n },
      gitlab: { total: requests, byEndpoint: { [BRANCH]: requests }, byStatus: { 200: requests } },
    },
    perfect: { pushSeconds: 40, allCurrentSeconds: over.perfect ?? 50, perRepository: [5, 25, 50], current: n },
  };
}

const sweep: SweepBudgetResult = {
  repositories: 1000,
  pairs: 1000,
  requestsPerMinute: 300,
  sweepInterval: '1m',
  capPerSweep: 150,
  observedSeconds: 185,
  sweeps: [
    { reason: 'start', at: '2026-12-01T00:00:03.000Z', checked: 1000, triggered: 0, requests: 150 },
    { reason: 'sweep', at: '2026-12-01T00:01:05.000Z', checked: 1000, triggered: 0, requests: 150 },
  ],
  gitlab: { total: 300, byEndpoint: { [BRANCH]: 300 }, byStatus: { 200: 300 } },
  maxPerMinute: 150,
  rateLimit: {
    gitlabPerMinute: 100,
    observedSeconds: 185,
    sweeps: [{ reason: 'sweep', at: '2026-12-01T00:04:00.000Z', checked: 1000, triggered: 0, requests: 150 }],
    gitlab: { total: 152, byEndpoint: { [BRANCH]: 152 }, byStatus: { 200: 150, 429: 2 } },
    rateLimited: 2,
    violations: 0,
    longestRetryAfterSeconds: 41,
    maxAnsweredPerMinute: 100,
  },
};

const outbound: OutboundResult = {
  repositories: 4,
  sweepSeconds: 10,
  pollingInterval: '1m',
  webhook: [0.2, 0.3, 0.4, 0.5],
  webhookFromRequest: [0.1, 0.2, 0.3, 0.4],
  outbound: [2, 6, 9, 12],
  polling: [10, 30, 45, 62],
  outboundSweeps: [{ reason: 'sweep', at: '2026-12-01T00:00:10.000Z', checked: 4, triggered: 2, requests: 4 }],
  outboundSeconds: 30,
  outboundGitlab: { total: 12, byEndpoint: { [BRANCH]: 12 }, byStatus: { 200: 12 } },
  durationSeconds: 200,
};

function run(over: Partial<RunResults> = {}): RunResults {
  return {
    quick: false,
    machine: { nproc: 2, cpuModel: 'Test CPU', memoryGiB: 8, node: 'v24', go: 'go1.26', kernel: 'Linux 6', commit: 'abc', date: 'x' },
    startedAt: '2026-12-01T00:00:00.000Z',
    wallSeconds: 600,
    fluxClientArgs: [],
    operatorEnv: {},
    scale: [],
    profiles: [],
    errors: [],
    ...over,
  };
}

const byName = (r: RunResults) => Object.fromEntries(targets(r).map((t) => [t.name, t]));

describe('bench/report-gitlab (parts 5–7) and their targets', () => {
  it('a run without the GitLab parts has none of their sections or targets', () => {
    const md = renderMarkdown(run(), {});
    for (const h of ['## 5.', '## 6.', '## 7.']) expect(md).to.not.include(h);
    expect(targets(run()).some((t) => /catch-up|sweep|Retry-After|outbound/.test(t.name))).to.equal(false);
  });

  it('part 5: every size in a column, the ratio to the perfect trigger, requests per project, the per-repository change', () => {
    const md = renderMarkdown(
      run({ catchUp: { sizes: [size(200, { all: 20, perfect: 16 }), size(1000, { all: 120, perfect: 100 })] } }),
      {},
    );
    expect(md).to.include('## 5. Catch-up after an operator outage');
    expect(md).to.include('| repositories (one project each) | 200 | 1000 |');
    expect(md).to.include('| **catch-up / perfect trigger** (every artifact current) | **1.25×** | **1.20×** |');
    expect(md).to.include('| **GitLab requests per project** | **1.00** (200 in all) | **1.00** (1000 in all) |');
    expect(md).to.include('| the catch-up (status.lastCatchUp) | start: 200 checked, 200 triggered, 200 requests |');
    expect(md).to.include(
      'From 200 to 1000 repositories: GitLab requests per project 1.00 → 1.00; catch-up time per repository 100.0 ms → 120.0 ms (1.20×).',
    );
  });

  it('part 5 targets: none behind and at most one GitLab request per project are met; a shortfall is missed', () => {
    const ok = byName(run({ catchUp: { sizes: [size(1000)] } }));
    expect(verdict(ok['GitRepositories still behind after the catch-up (1000 repositories) = 0']!)).to.equal('met');
    expect(verdict(ok['GitLab requests per project in the catch-up (1000 repositories) ≤ 1']!)).to.equal('met');
    const bad = byName(run({ catchUp: { sizes: [size(1000, { current: 990, requests: 1500 })] } }));
    expect(bad['GitRepositories still behind after the catch-up (1000 repositories) = 0']!.value).to.equal(10);
    expect(verdict(bad['GitRepositories still behind after the catch-up (1000 repositories) = 0']!)).to.equal('missed');
    expect(verdict(bad['GitLab requests per project in the catch-up (1000 repositories) ≤ 1']!)).to.equal('missed');
  });

  it('part 6: the three methods, the sweep latency as a share of its interval, and the sweep cost', () => {
    const md = renderMarkdown(run({ outbound }), {});
    expect(md).to.include('## 6. Outbound-only: push → artifact');
    expect(md).to.include('| (o) outbound-only, sweep every 10 s | 4 | 6.00 s | 12.00 s | 12.00 s | 0.60 / 1.20 |');
    expect(md).to.include('| (p) Flux polling alone, interval 1m | 4 | 30.00 s | 62.00 s | 62.00 s | 0.50 / 1.03 |');
    expect(md).to.include('| o / w (p50, p95) | 20.00×, 24.00× |');
    expect(md).to.include('12, 24/min');
    const t = byName(run({ outbound }))['outbound-only push → artifact p95 ≤ sweep interval + 5 s (15 s)']!;
    expect(t.value).to.equal(12);
    expect(verdict(t)).to.equal('met');
  });

  it('part 7: the cap per sweep, the most in any minute against the budget, and the 429 path', () => {
    const md = renderMarkdown(run({ catchUp: { sizes: [size(1000)], sweep } }), {});
    expect(md).to.include('## 7. GitLab API requests per sweep against the budget');
    expect(md).to.include('at most **150 requests a sweep**');
    expect(md).to.include('every 7 sweeps');
    expect(md).to.include('| **most GitLab requests in any 60 s** (sliding) against the budget | **150** ≤ 300: **within**');
    expect(md).to.include('| **requests made while a Retry-After was running** | **0** |');
    const names = byName(run({ catchUp: { sizes: [], sweep } }));
    expect(verdict(names['sweeps: most GitLab requests in any 60 s ≤ requestsPerMinute (300)']!)).to.equal('met');
    expect(verdict(names['GitLab requests made inside a 429 Retry-After = 0']!)).to.equal('met');
    const over = byName(
      run({ catchUp: { sizes: [], sweep: { ...sweep, maxPerMinute: 301, rateLimit: { ...sweep.rateLimit!, violations: 3 } } } }),
    );
    expect(verdict(over['sweeps: most GitLab requests in any 60 s ≤ requestsPerMinute (300)']!)).to.equal('missed');
    expect(verdict(over['GitLab requests made inside a 429 Retry-After = 0']!)).to.equal('missed');
  });

  it('the console lists the catch-up, the sweeps and the three methods', () => {
    const text = renderConsole(run({ catchUp: { sizes: [size(1000, { all: 120, perfect: 100 })], sweep }, outbound }));
    expect(text).to.include('catch-up 1000 repos after an outage: all current');
    expect(text).to.include('(1.20×)');
    expect(text).to.include('cap 150 a sweep, max 150 in 60 s');
    expect(text).to.include('(o) outbound-only, sweep 10 s');
  });
});
