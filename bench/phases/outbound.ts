import { pushCommit } from '../../e2e/gitlab/git-server.js';
import { sleep } from '../../e2e/testenv/probe.js';
import { mapLimit } from '../../operator/controllers/concurrency.js';
import { GIT_REPOSITORIES, type GitRepository } from '../../operator/flux/types.js';
import type { BenchConfig } from '../config.js';
import { durationSeconds, evenOffsets, requestsBetween, tallyRequests } from '../gitlab-stats.js';
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
  WEBHOOK_TOKEN,
} from '../ground.js';
import type { OutboundResult } from '../results.js';
import { CatchUpRecords, lastCatchUp, RevisionWatcher, until, waitLinkReady } from '../watch.js';

/**
 * Part 6, push → artifact on the SAME GitRepositories (one project each, branch main) three ways, one after another
 * on one ground, every time from the end of `git push` to the new artifact revision (seen through a watch):
 *  (w) webhooks: a hook made by hand on every project (the emulator's instance-wide hook) calls the operator's
 *      /hooks/<link>; the operator runs with the sweep an hour away;
 *  (o) outbound-only: no hook at all; the operator restarted with GITLAB_SWEEP_INTERVAL_SECONDS=<sweepSeconds> (the
 *      test-only override; the spec's minimum is 1m), so its sweep is the only delivery; pushes spread evenly over
 *      one interval, one per repository per round, so every phase of the sweep cycle is sampled;
 *  (p) Flux polling alone: the operator stopped, every GitRepository's interval set to <pollingInterval>, pushes
 *      spread over one interval the same way.
 * Until (p) the GitRepositories poll every hour, so only the method measured explains a new artifact.
 */
const LINK = 'bench-outbound';
const NAMESPACE = 'bench-outbound';
const SELECTOR = { 'bench.fluxlink.dev/outbound': 'yes' };
const BUDGET = 300; // the default requestsPerMinute

export async function runOutboundPhase(cfg: BenchConfig['outbound'], logDir: string, log: (s: string) => void): Promise<OutboundResult> {
  const started = Date.now();
  const ground = await startGround(logDir);
  const watcher = new RevisionWatcher(ground.admin);
  let op: BenchOperator | undefined;
  try {
    op = await startBenchOperator(ground, { env: { GITLAB_SWEEP_INTERVAL_SECONDS: '3600' } });
    const { git } = ground.env;
    const repos = Array.from({ length: cfg.repositories }, (_, i) => ({ name: `app-${i}`, project: `outbound/app-${i}` }));
    for (const r of repos) await git.createProject(r.project);
    await createApiTokenSecret(
      ground,
      git.gitlab.createToken({ access: Object.fromEntries(repos.map((r) => [r.project, 'maintainer'])), username: 'bench' }),
    );
    await createNamespaces(ground, [NAMESPACE], SELECTOR);
    await watcher.synced();
    for (const r of repos) await ground.admin.create(GIT_REPOSITORIES, gitRepository(NAMESPACE, r.name, `${git.baseURL}/${r.project}.git`));
    await createLink(ground, apiLinkObject(ground, LINK, SELECTOR, { requestsPerMinute: BUDGET }));
    await waitLinkReady(ground.admin, LINK, repos.length, 120_000);
    await until('first artifacts', () => repos.every((r) => watcher.revision(NAMESPACE, r.name)), 120_000);

    const result: OutboundResult = {
      repositories: repos.length,
      sweepSeconds: cfg.sweepSeconds,
      pollingInterval: cfg.pollingInterval,
      webhook: [],
      webhookFromRequest: [],
      outbound: [],
      polling: [],
      outboundSweeps: [],
      outboundSeconds: 0,
      outboundGitlab: tallyRequests([]),
      durationSeconds: 0,
    };
    let round = 0;
    /** One push to `repo`, then the time from its end to the new artifact; the push's webhook request time, if any. */
    const measure = async (repo: { name: string; project: string }, timeoutMs: number) => {
      const { sha } = await pushCommit(git, repo.project, { branch: 'main', files: { 'v.txt': `push ${round++}` } });
      const pushed = Date.now();
      const seen = await watcher.waitFor(NAMESPACE, repo.name, `main@sha1:${sha}`, timeoutMs);
      return { seconds: (seen - pushed) / 1000, seen, sha };
    };

    // (w) webhooks.
    log(`outbound: (w) ${cfg.pushes} pushes through webhooks, over ${repos.length} GitRepositories`);
    git.setWebhook({ url: `${op.hooksURL}/hooks/${LINK}`, token: WEBHOOK_TOKEN });
    for (let i = 0; i < cfg.pushes; i++) {
      const repo = repos[i % repos.length]!;
      const m = await measure(repo, 60_000);
      await git.idle();
      const delivery = git.deliveries.find((d) => d.project === repo.project && (d.body as { after?: string }).after === m.sha);
      if (!delivery) throw new Error(`no webhook was sent for push ${m.sha} of ${repo.project}`);
      result.webhook.push(m.seconds);
      result.webhookFromRequest.push((m.seen - delivery.at.getTime()) / 1000);
      await sleep(100);
    }

    // (o) outbound-only: no hook, the sweep every sweepSeconds.
    git.setWebhook(undefined);
    await op.stop();
    op = await startBenchOperator(ground, { env: { GITLAB_SWEEP_INTERVAL_SECONDS: String(cfg.sweepSeconds) } });
    const opStarted = op.spawnedAt;
    await until(
      'the catch-up at the start recorded',
      async () => {
        const r = await lastCatchUp(ground.admin, LINK);
        return r && Date.parse(r.at) >= opStarted;
      },
      60_000,
      500,
    );
    log(`outbound: (o) ${cfg.pushes} pushes, outbound-only, sweep every ${cfg.sweepSeconds} s`);
    const outboundFrom = Date.now();
    const sweeps = new CatchUpRecords(ground.admin, LINK, outboundFrom);
    result.outbound = await spreadRounds(repos, cfg.pushes, cfg.sweepSeconds * 1000, (r) =>
      measure(r, cfg.sweepSeconds * 3000 + 60_000).then((m) => m.seconds),
    );
    const outboundTo = Date.now();
    result.outboundSeconds = (outboundTo - outboundFrom) / 1000;
    result.outboundSweeps = await sweeps.stop(outboundTo);
    result.outboundGitlab = tallyRequests(requestsBetween(git.gitlab.requests, outboundFrom, outboundTo));
    await op.stop();
    op = undefined;

    // (p) polling alone.
    const intervalMs = durationSeconds(cfg.pollingInterval) * 1000;
    log(`outbound: (p) polling at ${cfg.pollingInterval}, one push to each of ${repos.length} GitRepositories over one interval`);
    await pollEvery(ground, repos, cfg.pollingInterval);
    result.polling = await spreadRounds(repos, repos.length, intervalMs, (r) => measure(r, intervalMs * 3 + 60_000).then((m) => m.seconds));
    result.durationSeconds = (Date.now() - started) / 1000;
    return result;
  } finally {
    await op?.stop();
    await watcher.stop();
    await ground.stop();
  }
}

/**
 * `pushes` measurements in rounds of one per repository (a repository's next push waits for its last artifact),
 * each round's pushes spread evenly over `spanMs` so they fall at every point of a periodic cycle.
 */
async function spreadRounds<R>(repos: readonly R[], pushes: number, spanMs: number, one: (repo: R) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let done = 0; done < pushes;) {
    const batch = repos.slice(0, Math.min(repos.length, pushes - done));
    const offsets = evenOffsets(batch.length, spanMs);
    const start = Date.now();
    out.push(
      ...(await Promise.all(
        batch.map(async (repo, i) => {
          await sleep(Math.max(0, start + offsets[i]! - Date.now()));
          return one(repo);
        }),
      )),
    );
    done += batch.length;
  }
  return out;
}

/** Sets every GitRepository's spec.interval and waits until source-controller has handled that generation. */
async function pollEvery(ground: Ground, repos: ReadonlyArray<{ name: string }>, interval: string): Promise<void> {
  await mapLimit([...repos], 8, (r) =>
    ground.admin.patch(GIT_REPOSITORIES, NAMESPACE, r.name, { spec: { interval } }, 'merge').then(() => undefined),
  );
  await until(
    `GitRepositories reconciled at interval ${interval}`,
    async () => {
      const list = await ground.admin.list<GitRepository>(GIT_REPOSITORIES, { namespace: NAMESPACE });
      return list.items.every(
        (g) =>
          g.spec.interval === interval &&
          (g.status as { observedGeneration?: number } | undefined)?.observedGeneration === g.metadata.generation,
      );
    },
    60_000,
    500,
  );
}
