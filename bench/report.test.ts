import { expect } from 'chai';
import { renderConsole, renderMarkdown } from './report.js';
import type { RunResults, ScaleResult } from './results.js';
import { verdict } from './stats.js';
import { targets } from './targets.js';

const MiB = 2 ** 20;
const none = { reads: 0, writes: 0, lease: 0, byVerbResource: {} };

function scale(
  repositories: number,
  over: { operator?: number; baseline?: number; steadyWrites?: number; restartWrites?: number; rss?: number } = {},
): ScaleResult {
  return {
    repositories,
    namespaces: repositories / 10,
    groundStartSeconds: 9,
    createRepositoriesSeconds: 3,
    baseline: { writesSeconds: 5, readySeconds: over.baseline ?? 10, requests: 2 * repositories },
    operator: {
      linkReadySeconds: over.operator ?? 12,
      allReceiversReadySeconds: over.operator ?? 12,
      convergenceSeconds: over.operator ?? 12,
      requests: { reads: 10, writes: 2 * repositories, lease: 12, byVerbResource: { 'create secrets': repositories } },
      reconciles: 40,
      meanReconcileSeconds: 0.05,
      cpuSeconds: 8,
      cpuSecondsTotal: 20,
      peakRssBytes: (over.rss ?? 200) * MiB,
    },
    steady: {
      seconds: 30,
      requests: {
        reads: 0,
        writes: over.steadyWrites ?? 0,
        lease: 30,
        byVerbResource: over.steadyWrites ? { 'patch secrets': over.steadyWrites } : {},
      },
      memory: { heapUsedBytes: 80 * MiB, heapTotalBytes: 120 * MiB, externalBytes: 5 * MiB, rssBytes: 180 * MiB },
    },
    restart: {
      readyzSeconds: 2,
      firstReconcileSeconds: 2.5,
      settleSeconds: 10,
      requests: { ...none, writes: over.restartWrites ?? 0 },
      peakRssBytes: 150 * MiB,
    },
  };
}

function run(over: Partial<RunResults> = {}): RunResults {
  return {
    quick: true,
    machine: {
      nproc: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 8,
      node: 'v20.0.0',
      go: 'go1.26',
      kernel: 'Linux 6',
      commit: 'abc123',
      date: '2026-01-01T00:00:00.000Z',
    },
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 300,
    fluxClientArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
    operatorEnv: {},
    push: {
      pushesPerMethod: 3,
      operator: [0.3, 0.4, 0.5],
      hand: [0.3, 0.3, 0.4],
      operatorFromPush: [0.4, 0.5, 0.6],
      handFromPush: [0.4, 0.4, 0.5],
      polling: [10, 30, 50],
      pollingRepos: 3,
      pollingInterval: '1m',
      pollingStaggerSeconds: 60,
      webhookStatuses: { operator: { 202: 3 }, hand: { 200: 3 } },
      dispatchBuckets: [
        { le: 0.001, count: 1 },
        { le: 0.005, count: 3 },
        { le: Infinity, count: 3 },
      ],
      reconcilesDuringPushes: 12,
      durationSeconds: 100,
    },
    scale: [scale(1000)],
    profiles: [],
    errors: [],
    ...over,
  };
}

describe('bench/targets and bench/report', () => {
  it('judges every performance target; what a quick run did not measure is "not measured"', () => {
    const byName = Object.fromEntries(targets(run()).map((t) => [t.name, verdict(t)]));
    expect(byName['operator added latency p99 ≤ 5 ms']).to.equal('met');
    expect(byName['answer p99 ≤ 20 ms at 200 webhooks/s']).to.equal('not measured');
    expect(byName['convergence ≤ 1.5× baseline at 10,000 repositories']).to.equal('not measured');
    expect(byName['peak RSS ≤ 256 MiB at 10,000 repositories']).to.equal('not measured');
    expect(byName['0 writes in steady state (1000 repositories, 30 s)']).to.equal('met');
    expect(byName['0 writes after a restart (1000 repositories)']).to.equal('met');
  });

  it('the added-latency target reads the bucket bound: p99 in the (5, 10] ms bucket is missed', () => {
    const r = run();
    r.push!.dispatchBuckets = [
      { le: 0.005, count: 90 },
      { le: 0.01, count: 100 },
      { le: Infinity, count: 100 },
    ];
    const t = targets(r).find((x) => x.name.startsWith('operator added latency'))!;
    expect(t.value).to.equal(10);
    expect(verdict(t)).to.equal('missed');
  });

  it('at 10,000 repositories: convergence ratio and RSS are judged', () => {
    const r = run({ scale: [scale(10_000, { operator: 200, baseline: 100, rss: 300 })] });
    const byName = Object.fromEntries(targets(r).map((t) => [t.name, t]));
    expect(byName['convergence ≤ 1.5× baseline at 10,000 repositories']!.value).to.equal(2);
    expect(verdict(byName['convergence ≤ 1.5× baseline at 10,000 repositories']!)).to.equal('missed');
    expect(verdict(byName['peak RSS ≤ 256 MiB at 10,000 repositories']!)).to.equal('missed');
  });

  it('load: non-2xx and lost triggers are counted; an exact account is met', () => {
    const load = {
      projects: 2,
      repositories: 10,
      namespaces: 1,
      rate: 200,
      seconds: 1,
      linkedRepositories: 10,
      convergenceSeconds: 3,
      sent: 200,
      answers: Array(200).fill(0.004),
      sendLag: Array(200).fill(0),
      statuses: { 202: 200 },
      non2xx: 0,
      expectedTriggers: 1000,
      calls: 100,
      delivered: 100,
      failedCalls: 0,
      coalesced: 900,
      dropped: 0,
      drainSeconds: 1,
      drained: true,
      dispatchBuckets: [],
      peakRssBytesBeforeLoad: 100 * MiB,
      peakRssBytes: 120 * MiB,
      cpuSecondsDuringLoad: 1,
      eventLoopLag: { p50: 0.001, p99: 0.01, max: 0.02 },
      reconcilesDuringLoad: 3,
      cpu: { perProcess: { operator: 1 }, machineBusy: 0.5 },
    };
    const ok = Object.fromEntries(targets(run({ load })).map((t) => [t.name, verdict(t)]));
    expect(ok['answer p99 ≤ 20 ms at 200 webhooks/s']).to.equal('met');
    expect(ok['non-2xx answers under load = 0']).to.equal('met');
    expect(ok['triggers lost or dropped under load = 0']).to.equal('met');
    const bad = Object.fromEntries(targets(run({ load: { ...load, non2xx: 2, calls: 90 } })).map((t) => [t.name, verdict(t)]));
    expect(bad['non-2xx answers under load = 0']).to.equal('missed');
    expect(bad['triggers lost or dropped under load = 0']).to.equal('missed');
  });

  it('the load section says which CPUs the operator and the rest of the ground had, or why they shared them', () => {
    const load = {
      projects: 2,
      repositories: 10,
      namespaces: 1,
      rate: 200,
      seconds: 1,
      linkedRepositories: 10,
      convergenceSeconds: 3,
      sent: 2,
      answers: [0.004, 0.005],
      sendLag: [0, 0],
      statuses: { 202: 2 },
      non2xx: 0,
      expectedTriggers: 10,
      calls: 10,
      delivered: 10,
      failedCalls: 0,
      coalesced: 0,
      dropped: 0,
      drainSeconds: 1,
      drained: true,
      dispatchBuckets: [],
      peakRssBytesBeforeLoad: 100 * MiB,
      peakRssBytes: 120 * MiB,
      cpuSecondsDuringLoad: 1,
      eventLoopLag: { p50: 0.001, p99: 0.01, max: 0.02 },
      reconcilesDuringLoad: 3,
      cpu: { perProcess: { operator: 1 }, machineBusy: 0.5 },
    };
    expect(renderMarkdown(run({ load: { ...load, cpuPinning: { operator: '1', others: '0' } } }), {})).to.include(
      "| CPUs during the load (taskset) | operator alone on CPU 1 (as a Deployment's CPU request gives it); the rest of the ground — API server, etcd, Flux, git server, load client — on 0 |",
    );
    expect(renderMarkdown(run({ load: { ...load, cpuPinning: { skipped: 'this process may use one CPU only (0)' } } }), {})).to.include(
      '| CPUs during the load (taskset) | not separated: this process may use one CPU only (0) |',
    );
    expect(renderMarkdown(run({ load }), {}), 'a run from before pinning').to.not.include('CPUs during the load');
  });

  it('the Markdown report names the machine, prints every target with its verdict, and the steady-state writes when any', () => {
    const r = run({ scale: [scale(1000, { steadyWrites: 4 })] });
    const md = renderMarkdown(r, { push: 'push-latency.svg', scale: 'convergence.svg' });
    for (const s of [
      '2 × Test CPU',
      '8 GiB',
      'v20.0.0',
      'go1.26',
      'Linux 6',
      'abc123',
      '--kube-api-qps=1000',
      '![push latency](push-latency.svg)',
      '![convergence](convergence.svg)',
    ])
      expect(md).to.include(s);
    for (const t of targets(r)) expect(md).to.include(`| ${t.name} |`);
    expect(md).to.include('| 0 writes in steady state (1000 repositories, 30 s) | 4 | **missed** |');
    expect(md).to.include('Writes in steady state at 1000: patch secrets: 4.');
    expect(md).to.not.include('## 2. Answer time under load');
  });

  it('part 4 shows each profiling pass with its window and top functions', () => {
    const summary = {
      windowMs: 30_000,
      busyMs: 20_000,
      idleMs: 10_000,
      gcMs: 2_000,
      programMs: 100,
      topSelf: [{ name: 'canonicalJson operator/reconcile/canonical.ts:2', ms: 3000, share: 0.15 }],
      topInclusiveOperator: [{ name: 'converge operator/controllers/link-controller.ts:125', ms: 14000, share: 0.7 }],
      byFile: [],
      byPackage: [],
    };
    const md = renderMarkdown(
      run({
        profiles: [
          { file: 'x.cpuprofile', windowLabel: 'convergence at 1000 repositories, profiled pass', window: summary, whole: summary },
        ],
      }),
      {},
    );
    expect(md).to.include('## 4. Where the time goes');
    expect(md).to.include('### Convergence at the largest size (the slowest phase)');
    expect(md).to.include('| `converge operator/controllers/link-controller.ts:125` | 14000 | 70.0 % |');
    expect(renderMarkdown(run(), {})).to.not.include('## 4.');
  });

  it('the console table lists the targets and any error', () => {
    const text = renderConsole(
      run({
        errors: [
          { phase: 'load', message: 'boom', kind: 'error' },
          { phase: 'scale 10000', message: 'not reached within 1200 s', kind: 'timeout' },
        ],
      }),
    );
    expect(text).to.match(/met\s+operator added latency p99 ≤ 5 ms: 5 ms/);
    expect(text).to.include('ERROR load: boom');
    expect(text).to.include('NOT REACHED scale 10000: not reached within 1200 s');
    expect(text).to.include('scale 1000 repos');
  });
});
