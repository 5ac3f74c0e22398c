import { table } from './markdown.js';
import type { CatchUpRecordSeen, CatchUpSizeResult, RunResults } from './results.js';
import { durationSeconds, relativeTo } from './gitlab-stats.js';
import { formatRatio, formatSeconds, ratio, summarize } from './stats.js';

/**
 * The report's sections on the GitLab API side (parts 5–7: catch-up after an outage, outbound-only latency, sweeps
 * against the budget), Markdown and console rows. Pure.
 */
const num = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const counts = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || 'none';
const spread = (values: readonly number[]) => {
  const s = summarize(values);
  return `${formatSeconds(s.p50)} / ${formatSeconds(s.p95)} / ${formatSeconds(s.max)}`;
};
const record = (r: CatchUpRecordSeen | undefined) =>
  r
    ? `${r.reason}: ${r.checked} checked, ${r.triggered} triggered, ${r.requests} requests${r.error ? `, error: ${r.error}` : ''}`
    : 'not seen';

/** GitLab requests per project of one catch-up size (the emulator's count over the window). */
export const requestsPerProject = (s: CatchUpSizeResult) => s.outage.gitlab.total / s.repositories;

export function catchUpSection(r: RunResults): string[] {
  const sizes = r.catchUp?.sizes ?? [];
  if (sizes.length === 0) return [];
  const out = ['## 5. Catch-up after an operator outage', ''];
  out.push(
    `One link with a GitLab API token (\`spec.gitlab.api\`, budget **${sizes[0]!.requestsPerMinute} requests a minute**) and no \`spec.webhook.url\`, so it registers no hook and every GitLab request is the catch-up's; N GitLab projects on the test git server (the GitLab API emulator of \`e2e/gitlab\` answers for them), one GitRepository each (branch \`main\`, \`interval: 1h\`, **not suspended**: source-controller fetches every artifact for real), 10 to a namespace. The operator is stopped, one \`git push\` is made to every project (no hook: nothing reaches the cluster, as when GitLab drops events for a disabled hook), then the operator is started with the periodic sweep an hour away (\`GITLAB_SWEEP_INTERVAL_SECONDS=3600\`), so only the catch-up at its start can explain a new artifact. Times are from the operator process's start. **Baseline, the perfect trigger**: on the same ground, with the operator stopped, one more push to every project, then every GitRepository annotated \`reconcile.fluxcd.io/requestedAt\` at once by an admin client — what a catch-up that knew the answer without asking GitLab would do; the difference is what the catch-up adds to Flux's own fetching (source-controller at its default \`--concurrent=2\`). GitLab requests are the emulator's own count, from the operator's start until every artifact was current.`,
    '',
  );
  const col = (f: (s: CatchUpSizeResult) => string) => sizes.map(f);
  const rows: Array<[string, (s: CatchUpSizeResult) => string]> = [
    ['namespaces', (s) => String(s.namespaces)],
    ['pushes while the operator was stopped; webhooks sent for them', (s) => `${s.outage.pushes}; ${s.outage.deliveries}`],
    ['operator start → /readyz', (s) => formatSeconds(s.outage.readySeconds)],
    ['operator start → catch-up done (status.lastCatchUp.at)', (s) => formatSeconds(s.outage.catchUpDoneSeconds)],
    ['the catch-up (status.lastCatchUp)', (s) => record(s.outage.record)],
    [
      '**operator start → every artifact current**',
      (s) =>
        `**${s.outage.timedOut ? `not reached (${s.outage.current} of ${s.repositories})` : formatSeconds(s.outage.allCurrentSeconds)}**`,
    ],
    ['per GitRepository p50 / p95 / max', (s) => spread(s.outage.perRepository)],
    [
      'perfect trigger → every artifact current',
      (s) => (s.perfect.timedOut ? `not reached (${s.perfect.current} of ${s.repositories})` : formatSeconds(s.perfect.allCurrentSeconds)),
    ],
    ['perfect trigger, per GitRepository p50 / p95 / max', (s) => spread(s.perfect.perRepository)],
    [
      '**catch-up / perfect trigger** (every artifact current)',
      (s) => `**${formatRatio(ratio(s.outage.allCurrentSeconds, s.perfect.allCurrentSeconds))}**`,
    ],
    ['catch-up time per repository (every artifact current / N)', (s) => formatSeconds(s.outage.allCurrentSeconds / s.repositories)],
    ['**GitLab requests per project**', (s) => `**${num(requestsPerProject(s), 2)}** (${s.outage.gitlab.total} in all)`],
    ['GitLab requests by endpoint; by answer', (s) => `${counts(s.outage.gitlab.byEndpoint)}; ${counts(s.outage.gitlab.byStatus)}`],
    ['catch-up triggers by reason (fluxlink_catchup_triggers_total)', (s) => counts(s.outage.triggersByReason)],
    [
      'setup: projects created / link Ready / first artifacts',
      (s) =>
        `${formatSeconds(s.setup.projectsSeconds)} / ${formatSeconds(s.setup.linkReadySeconds)} / ${formatSeconds(s.setup.firstArtifactsSeconds)}`,
    ],
    ['pushes: outage round / baseline round', (s) => `${formatSeconds(s.outage.pushSeconds)} / ${formatSeconds(s.perfect.pushSeconds)}`],
  ];
  out.push(
    table(
      ['repositories (one project each)', ...col((s) => String(s.repositories))],
      rows.map(([name, f]) => [name, ...col(f)]),
    ),
    '',
  );
  if (sizes.length > 1) {
    const [small, large] = [sizes[0]!, sizes[sizes.length - 1]!];
    out.push(
      `From ${small.repositories} to ${large.repositories} repositories: GitLab requests per project ${num(requestsPerProject(small), 2)} → ${num(requestsPerProject(large), 2)}; catch-up time per repository ${formatSeconds(small.outage.allCurrentSeconds / small.repositories)} → ${formatSeconds(large.outage.allCurrentSeconds / large.repositories)} (${formatRatio(ratio(large.outage.allCurrentSeconds / large.repositories, small.outage.allCurrentSeconds / small.repositories))}).`,
      '',
    );
  }
  for (const s of sizes) for (const t of [s.outage.timedOut, s.perfect.timedOut]) if (t) out.push(`At ${s.repositories}: ${t}.`, '');
  return out;
}

export function outboundSection(r: RunResults): string[] {
  const o = r.outbound;
  if (!o) return [];
  const pollSeconds = durationSeconds(o.pollingInterval);
  const out = ['## 6. Outbound-only: push → artifact', ''];
  out.push(
    `The same ${o.repositories} GitRepositories (one project each, branch \`main\`) of one link with an API token, measured three ways one after another, each from the end of \`git push\` to the new artifact revision (seen through a watch). **(w) webhooks**: a hook made by hand on every project calls the operator (sweep an hour away). **(o) outbound-only**: no hook at all; the operator restarted with \`GITLAB_SWEEP_INTERVAL_SECONDS=${o.sweepSeconds}\` (the test-only override: the spec's shortest \`sweepInterval\` is 1m), so the sweep is the only delivery; one push per repository per round, spread evenly over one sweep interval, so every phase of the cycle is sampled. **(p) Flux polling alone**: the operator stopped, every GitRepository's \`interval\` set to ${o.pollingInterval}, one push each spread over one interval. Latency in an outbound-only link scales with \`sweepInterval\`; the relative column is what carries over to the production intervals (1m..24h).`,
    '',
  );
  const row = (name: string, values: readonly number[], period?: number): string[] => {
    const s = summarize(values);
    const rel = period ? summarize(relativeTo(values, period)) : undefined;
    return [
      name,
      String(s.n),
      formatSeconds(s.p50),
      formatSeconds(s.p95),
      formatSeconds(s.max),
      rel ? `${num(rel.p50, 2)} / ${num(rel.p95, 2)}` : '–',
    ];
  };
  out.push(
    table(
      ['method', 'n', 'p50', 'p95', 'max', 'p50 / p95 as a share of the period'],
      [
        row('(w) webhook → operator → Receiver', o.webhook),
        row(`(o) outbound-only, sweep every ${o.sweepSeconds} s`, o.outbound, o.sweepSeconds),
        row(`(p) Flux polling alone, interval ${o.pollingInterval}`, o.polling, pollSeconds),
        row('(w) measured from the webhook request (as part 1)', o.webhookFromRequest),
      ],
    ),
    '',
  );
  const [w, ob, p] = [summarize(o.webhook), summarize(o.outbound), summarize(o.polling)];
  const sweeps = o.outboundSweeps;
  const perSweep = sweeps.map((s) => s.requests);
  const perMinute = (o.outboundGitlab.total / Math.max(1, o.outboundSeconds)) * 60;
  out.push(
    table(
      ['', ''],
      [
        ['o / w (p50, p95)', `${formatRatio(ratio(ob.p50, w.p50))}, ${formatRatio(ratio(ob.p95, w.p95))}`],
        [
          'o / p (p50, p95) — the sweep at its interval against polling at its own',
          `${formatRatio(ratio(ob.p50, p.p50))}, ${formatRatio(ratio(ob.p95, p.p95))}`,
        ],
        [
          'sweeps during the outbound pushes; GitLab requests per sweep',
          `${sweeps.length} in ${formatSeconds(o.outboundSeconds)}; ${perSweep.length ? `${Math.min(...perSweep)}–${Math.max(...perSweep)}` : '–'} (${o.repositories} project + branch pairs)`,
        ],
        [
          'GitLab requests during the outbound pushes (emulator): in all, per minute, by endpoint',
          `${o.outboundGitlab.total}, ${num(perMinute, 0)}/min, ${counts(o.outboundGitlab.byEndpoint)}`,
        ],
        ['GitRepositories triggered by those sweeps', String(sweeps.reduce((n, s) => n + s.triggered, 0))],
      ],
    ),
    '',
  );
  return out;
}

export function sweepSection(r: RunResults): string[] {
  const s = r.catchUp?.sweep;
  if (!s) return [];
  const out = ['## 7. GitLab API requests per sweep against the budget', ''];
  out.push(
    `On part 5's ground at ${s.repositories} repositories (${s.pairs} project + branch pairs, none behind: the sweeps only ask), the link patched to \`requestsPerMinute: ${s.requestsPerMinute}\` and \`sweepInterval: ${s.sweepInterval}\` (the spec's own interval, no override) and the operator started; watched for ${s.observedSeconds} s. A catch-up may spend half the budget over its interval (ADR 0017): at most **${s.capPerSweep} requests a sweep** here, the window moving on each sweep, so every pair is asked every ${Math.ceil(s.pairs / s.capPerSweep)} sweeps. Then GitLab's own per-user limit (the emulator's Rack::Attack \`throttle_authenticated_api\`) is set to ${s.rateLimit?.gitlabPerMinute ?? '–'} a minute, below what a sweep asks, for ${s.rateLimit?.observedSeconds ?? '–'} s: GitLab answers 429 with \`Retry-After\` (the seconds left in its minute), which the operator must wait out.`,
    '',
  );
  const sweepList = (list: readonly CatchUpRecordSeen[]) =>
    list.map((x) => `${x.reason} ${x.requests}${x.error ? ' (error)' : ''}`).join(', ') || 'none';
  const rows: string[][] = [
    ['catch-ups in the window (reason and GitLab requests each)', `${s.sweeps.length}: ${sweepList(s.sweeps)}`],
    ['GitLab requests (emulator): in all; by endpoint', `${s.gitlab.total}; ${counts(s.gitlab.byEndpoint)}`],
    [
      '**most GitLab requests in any 60 s** (sliding) against the budget',
      `**${s.maxPerMinute}** ≤ ${s.requestsPerMinute}: ${s.maxPerMinute <= s.requestsPerMinute ? '**within**' : '**over**'} (the catch-up's half: ${Math.floor(s.requestsPerMinute / 2)})`,
    ],
  ];
  const l = s.rateLimit;
  if (l)
    rows.push(
      [
        'with GitLab limiting to ' + l.gitlabPerMinute + ' a minute: catch-ups (reason and requests each)',
        `${l.sweeps.length}: ${sweepList(l.sweeps)}`,
      ],
      ['answers by status; 429s; longest Retry-After', `${counts(l.gitlab.byStatus)}; ${l.rateLimited}; ${l.longestRetryAfterSeconds} s`],
      ['**requests made while a Retry-After was running**', `**${l.violations}**`],
      [
        'most requests answered 2xx in any 60 s (GitLab counts fixed minutes, so a sliding 60 s may hold up to twice its limit)',
        String(l.maxAnsweredPerMinute),
      ],
    );
  out.push(table(['', ''], rows), '');
  return out;
}

export function gitlabConsoleRows(r: RunResults, row: (a: string, b: string) => void): void {
  for (const s of r.catchUp?.sizes ?? []) {
    row(
      `catch-up ${s.repositories} repos after an outage: all current`,
      `${s.outage.timedOut ? 'not reached' : formatSeconds(s.outage.allCurrentSeconds)} vs perfect trigger ${formatSeconds(s.perfect.allCurrentSeconds)} (${formatRatio(ratio(s.outage.allCurrentSeconds, s.perfect.allCurrentSeconds))})`,
    );
    row('  GitLab requests per project', num(requestsPerProject(s), 2));
  }
  const s = r.catchUp?.sweep;
  if (s) {
    row(
      `sweeps of ${s.pairs} pairs at ${s.requestsPerMinute}/min every ${s.sweepInterval}`,
      `cap ${s.capPerSweep} a sweep, max ${s.maxPerMinute} in 60 s`,
    );
    if (s.rateLimit)
      row(
        `  GitLab limit ${s.rateLimit.gitlabPerMinute}/min: 429s, inside Retry-After`,
        `${s.rateLimit.rateLimited}, ${s.rateLimit.violations}`,
      );
  }
  const o = r.outbound;
  if (o) {
    const f = (v: readonly number[]) => {
      const x = summarize(v);
      return `${formatSeconds(x.p50)} / ${formatSeconds(x.p95)}`;
    };
    row('push → artifact p50 / p95 (same repositories)', '');
    row('  (w) webhook', f(o.webhook));
    row(`  (o) outbound-only, sweep ${o.sweepSeconds} s`, f(o.outbound));
    row(`  (p) polling ${o.pollingInterval}`, f(o.polling));
  }
}
