import { pushCommit } from '../../e2e/gitlab/git-server.js';
import type { Sample } from '../../e2e/support/prometheus.js';
import { sleep } from '../../e2e/testenv/probe.js';
import { LINKS } from '../../operator/api/v1alpha1/types.js';
import { mapLimit } from '../../operator/controllers/concurrency.js';
import { GIT_REPOSITORIES } from '../../operator/flux/types.js';
import { catchUpRequestCap } from '../../operator/reconcile/catch-up.js';
import type { BenchConfig } from '../config.js';
import { durationSeconds, maxInWindow, requestsBetween, retryAfterCheck, tallyRequests } from '../gitlab-stats.js';
import {
  apiLinkObject,
  type BenchOperator,
  createApiTokenSecret,
  createLink,
  createNamespaces,
  gitRepository,
  type Ground,
  startBenchOperator,
  startGround,
} from '../ground.js';
import type { CatchUpRecordSeen, CatchUpSizeResult, SweepBudgetResult } from '../results.js';
import { BenchTimeout, CatchUpRecords, lastCatchUp, RevisionWatcher, until, waitLinkReady } from '../watch.js';

/**
 * Part 5, catch-up after an operator outage, on a fresh ground per size: N projects on the test git server (the
 * GitLab API emulator answers for them), N GitRepositories (one per project, branch main, interval 1h, NOT suspended:
 * source-controller fetches every artifact for real), one link with an API token and no webhook URL (so no hook is
 * registered and every GitLab request is the catch-up's). Then:
 *  1. outage: the operator stopped, one `git push` to every project, the operator started (no webhook, no sweep due:
 *     GITLAB_SWEEP_INTERVAL_SECONDS=3600); timed from the process start to the catch-up's record and to every new
 *     artifact; GitLab requests from the emulator's log;
 *  2. baseline, the perfect trigger: the operator stopped again, one more push to every project, then every
 *     GitRepository annotated reconcile.fluxcd.io/requestedAt at once by an admin client (what a catch-up that
 *     knew the answer without asking GitLab would do); timed to every new artifact. The difference is what the
 *     catch-up adds to Flux's own fetching.
 * Part 7 (runSweepBudget) follows on the largest size's ground.
 */
const LINK = 'bench-catchup';
const SELECTOR = { 'bench.fluxlink.dev/catchup': 'yes' };
const REPOS_PER_NAMESPACE = 10;
/** Only the catch-up at the operator's start may act in part 5: the periodic sweep is pushed an hour away. */
const NO_SWEEP = { GITLAB_SWEEP_INTERVAL_SECONDS: '3600' };

export interface CatchUpPhaseResult {
  size: CatchUpSizeResult;
  sweep?: SweepBudgetResult;
  /** Part 7 failed; part 5's figures stand. */
  sweepError?: unknown;
}

interface Repo {
  namespace: string;
  name: string;
  project: string;
}

export async function runCatchUpSize(
  cfg: BenchConfig['catchup'],
  n: number,
  withSweep: boolean,
  logDir: string,
  log: (s: string) => void,
): Promise<CatchUpPhaseResult> {
  const groundStarted = Date.now();
  const ground = await startGround(logDir);
  const watcher = new RevisionWatcher(ground.admin);
  let op: BenchOperator | undefined;
  try {
    op = await startBenchOperator(ground, { env: NO_SWEEP });
    const groundStartSeconds = (Date.now() - groundStarted) / 1000;
    const { git } = ground.env;
    const namespaces = Array.from({ length: Math.ceil(n / REPOS_PER_NAMESPACE) }, (_, i) => `catchup-${i}`);
    const repos: Repo[] = Array.from({ length: n }, (_, i) => ({
      namespace: namespaces[Math.floor(i / REPOS_PER_NAMESPACE)]!,
      name: `r${i}`,
      project: `catchup/g${Math.floor(i / REPOS_PER_NAMESPACE)}/r${i}`,
    }));
    const projectsStarted = Date.now();
    await mapLimit(repos, 4, async (r) => void (await git.createProject(r.project)));
    const projectsSeconds = (Date.now() - projectsStarted) / 1000;
    const token = git.gitlab.createToken({ access: Object.fromEntries(repos.map((r) => [r.project, 'maintainer'])), username: 'bench' });
    await createApiTokenSecret(ground, token);
    await createNamespaces(ground, namespaces, SELECTOR);
    await watcher.synced();
    await mapLimit(repos, 32, async (r) => {
      await ground.admin.create(GIT_REPOSITORIES, gitRepository(r.namespace, r.name, `${git.baseURL}/${r.project}.git`));
    });
    const linkAt = Date.now();
    await createLink(ground, apiLinkObject(ground, LINK, SELECTOR, { requestsPerMinute: cfg.requestsPerMinute }));
    const timeout = Math.max(5 * 60_000, n * 600);
    await waitLinkReady(ground.admin, LINK, n, timeout, 500);
    const linkReadySeconds = (Date.now() - linkAt) / 1000;
    await until(
      'first artifacts',
      () => repos.every((r) => watcher.revision(r.namespace, r.name)),
      timeout,
      500,
      () => {
        const have = repos.filter((r) => watcher.revision(r.namespace, r.name)).length;
        return `${have} of ${n} have an artifact`;
      },
    );
    const firstArtifactsSeconds = (Date.now() - linkAt) / 1000;
    log(
      `catchup ${n}: ${n} projects and GitRepositories, link Ready in ${linkReadySeconds.toFixed(1)} s, first artifacts at ${firstArtifactsSeconds.toFixed(1)} s`,
    );

    // 1. The outage.
    await op.stop();
    op = undefined;
    const deliveriesBefore = git.deliveries.length;
    const outagePush = await pushAll(ground, repos, 'outage', cfg.pushConcurrency);
    const deliveries = git.deliveries.length - deliveriesBefore;
    log(`catchup ${n}: operator stopped, ${n} pushes in ${outagePush.seconds.toFixed(1)} s; starting the operator`);
    op = await startBenchOperator(ground, { env: NO_SWEEP });
    const started = op.spawnedAt;
    const outageWait = await waitCurrent(watcher, repos, outagePush.shas, started, timeout);
    const record = await until(
      'the catch-up recorded on the link',
      async () => {
        const r = await lastCatchUp(ground.admin, LINK);
        return r && Date.parse(r.at) >= started ? r : undefined;
      },
      60_000,
      500,
    ).catch((err: unknown) => (err instanceof BenchTimeout ? undefined : Promise.reject(err)));
    const after = await op.scrape();
    const outage: CatchUpSizeResult['outage'] = {
      pushes: n,
      pushSeconds: outagePush.seconds,
      deliveries,
      readySeconds: (op.readyAt - started) / 1000,
      catchUpDoneSeconds: record ? (Date.parse(record.at) - started) / 1000 : NaN,
      allCurrentSeconds: (outageWait.allAt - started) / 1000,
      perRepository: outageWait.perRepository,
      current: outageWait.perRepository.length,
      ...(record ? { record } : {}),
      triggersByReason: triggersByReason(after),
      gitlab: tallyRequests(
        requestsBetween(git.gitlab.requests, started, Number.isFinite(outageWait.allAt) ? outageWait.allAt + 1 : Date.now()),
      ),
      ...(outageWait.timedOut ? { timedOut: outageWait.timedOut } : {}),
    };
    log(
      `catchup ${n}: ${outage.current}/${n} current ${outage.timedOut ? 'NOT all' : `in ${outage.allCurrentSeconds.toFixed(1)} s`} after the start; ${outage.gitlab.total} GitLab requests`,
    );

    // 2. The perfect trigger, on the same ground and GitRepositories.
    await op.stop();
    op = undefined;
    const perfectPush = await pushAll(ground, repos, 'perfect', cfg.pushConcurrency);
    const annotated = Date.now();
    const stamp = new Date(annotated).toISOString();
    await mapLimit(repos, 16, async (r) => {
      await ground.admin.patch(
        GIT_REPOSITORIES,
        r.namespace,
        r.name,
        { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': stamp } } },
        'merge',
      );
    });
    const perfectWait = await waitCurrent(watcher, repos, perfectPush.shas, annotated, timeout);
    const perfect: CatchUpSizeResult['perfect'] = {
      pushSeconds: perfectPush.seconds,
      allCurrentSeconds: (perfectWait.allAt - annotated) / 1000,
      perRepository: perfectWait.perRepository,
      current: perfectWait.perRepository.length,
      ...(perfectWait.timedOut ? { timedOut: perfectWait.timedOut } : {}),
    };
    log(`catchup ${n}: perfect trigger: ${perfect.current}/${n} current in ${perfect.allCurrentSeconds.toFixed(1)} s`);

    const size: CatchUpSizeResult = {
      repositories: n,
      namespaces: namespaces.length,
      requestsPerMinute: cfg.requestsPerMinute,
      setup: { groundStartSeconds, projectsSeconds, linkReadySeconds, firstArtifactsSeconds },
      outage,
      perfect,
    };
    if (!withSweep) return { size };
    try {
      return { size, sweep: await runSweepBudget(ground, cfg, repos.length, log) };
    } catch (err) {
      return { size, sweepError: err };
    }
  } finally {
    await op?.stop();
    await watcher.stop();
    await ground.stop();
  }
}

/**
 * Part 7: the operator (started here, stopped at the end) sweeping the link's N project + branch pairs at the spec's
 * own interval with the link's budget lowered to `sweepRequestsPerMinute`; then GitLab's per-user rate limit set
 * below what a sweep asks, so the 429/Retry-After path is taken. Nothing is behind: the sweeps only ask.
 */
async function runSweepBudget(
  ground: Ground,
  cfg: BenchConfig['catchup'],
  pairs: number,
  log: (s: string) => void,
): Promise<SweepBudgetResult> {
  const { git } = ground.env;
  await ground.admin.patch(
    LINKS,
    undefined,
    LINK,
    { spec: { gitlab: { api: { requestsPerMinute: cfg.sweepRequestsPerMinute, sweepInterval: cfg.sweepInterval } } } },
    'merge',
  );
  const capPerSweep = catchUpRequestCap(cfg.sweepRequestsPerMinute, durationSeconds(cfg.sweepInterval) * 1000);
  log(
    `catchup: sweeps of ${pairs} pairs every ${cfg.sweepInterval} at ${cfg.sweepRequestsPerMinute} requests/min (cap ${capPerSweep} a sweep), ${cfg.sweepObserveSeconds} s`,
  );
  const op = await startBenchOperator(ground); // the spec's interval: no override
  try {
    const from = op.spawnedAt;
    const sweeps = await watchCatchUps(ground, from, cfg.sweepObserveSeconds);
    const to = from + cfg.sweepObserveSeconds * 1000;
    const window = requestsBetween(git.gitlab.requests, from, to);

    log(`catchup: GitLab's rate limit set to ${cfg.gitlabRateLimit} a minute for ${cfg.rateLimitObserveSeconds} s`);
    git.gitlab.setRateLimit(cfg.gitlabRateLimit);
    const limitedFrom = Date.now();
    const limitedSweeps = await watchCatchUps(ground, limitedFrom, cfg.rateLimitObserveSeconds);
    const limitedTo = limitedFrom + cfg.rateLimitObserveSeconds * 1000;
    git.gitlab.setRateLimit(undefined);
    const limited = requestsBetween(git.gitlab.requests, limitedFrom, limitedTo);
    const check = retryAfterCheck(limited);
    return {
      repositories: pairs,
      pairs,
      requestsPerMinute: cfg.sweepRequestsPerMinute,
      sweepInterval: cfg.sweepInterval,
      capPerSweep,
      observedSeconds: cfg.sweepObserveSeconds,
      sweeps,
      gitlab: tallyRequests(window),
      maxPerMinute: maxInWindow(
        window.map((r) => r.at),
        60_000,
      ),
      rateLimit: {
        gitlabPerMinute: cfg.gitlabRateLimit,
        observedSeconds: cfg.rateLimitObserveSeconds,
        sweeps: limitedSweeps,
        gitlab: tallyRequests(limited),
        ...check,
        maxAnsweredPerMinute: maxInWindow(
          limited.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.at),
          60_000,
        ),
      },
    };
  } finally {
    await op.stop();
  }
}

/** The link's catch-ups that finished within [fromMs, fromMs + seconds), watched for that long. */
async function watchCatchUps(ground: Ground, fromMs: number, seconds: number): Promise<CatchUpRecordSeen[]> {
  const records = new CatchUpRecords(ground.admin, LINK, fromMs);
  await sleep(Math.max(0, fromMs + seconds * 1000 - Date.now()));
  return records.stop(fromMs + seconds * 1000);
}

/** One commit pushed to main of every project (`concurrency` projects at a time); their shas. */
async function pushAll(
  ground: Ground,
  repos: readonly Repo[],
  round: string,
  concurrency: number,
): Promise<{ shas: Map<string, string>; seconds: number }> {
  const started = Date.now();
  const shas = new Map<string, string>();
  await mapLimit([...repos], concurrency, async (r) => {
    const { sha } = await pushCommit(ground.env.git, r.project, { branch: 'main', files: { 'v.txt': `${round} ${r.name}` } });
    shas.set(`${r.namespace}/${r.name}`, sha);
  });
  await ground.env.git.idle();
  return { shas, seconds: (Date.now() - started) / 1000 };
}

/** Waits until every GitRepository has its pushed commit as artifact; seconds from `fromMs` for each one reached. */
async function waitCurrent(
  watcher: RevisionWatcher,
  repos: readonly Repo[],
  shas: ReadonlyMap<string, string>,
  fromMs: number,
  timeoutMs: number,
): Promise<{ allAt: number; perRepository: number[]; timedOut?: string }> {
  const results = await Promise.allSettled(
    repos.map((r) => watcher.waitFor(r.namespace, r.name, `main@sha1:${shas.get(`${r.namespace}/${r.name}`)}`, timeoutMs)),
  );
  const reached = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
  const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed && !(failed.reason instanceof BenchTimeout)) throw failed.reason;
  return {
    allAt: failed ? NaN : Math.max(...reached),
    perRepository: reached.map((at) => (at - fromMs) / 1000),
    ...(failed ? { timedOut: `${repos.length - reached.length} of ${repos.length} not current: ${(failed.reason as Error).message}` } : {}),
  };
}

/** fluxlink_catchup_triggers_total by reason, of a process started for the window (its counters began at 0). */
function triggersByReason(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name === 'fluxlink_catchup_triggers_total' && s.value > 0)
      out[s.labels.reason ?? '?'] = (out[s.labels.reason ?? '?'] ?? 0) + s.value;
  }
  return out;
}
