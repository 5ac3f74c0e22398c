import { type CatchUpRecord, type GitLabFluxLink, type SecretKeyRef } from '../api/v1alpha1/types.js';
import { durationMs } from '../api/v1alpha1/validation.js';
import type { GitRepository } from '../flux/types.js';
import type { GitLabConnections, LinkGitLab } from '../gitlab-api/connections.js';
import { GitLabApiError, type TagCommit } from '../gitlab-api/types.js';
import type { Informer } from '../kube/informer.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import {
  behind,
  type CatchUpQuery,
  type CatchUpReason,
  type CatchUpRepository,
  catchUpNotable,
  catchUpRequestCap,
  chooseQueries,
  type HeadQuery,
  parseRevision,
  planCatchUp,
  semverBehind,
  tagFingerprint,
} from '../reconcile/catch-up.js';
import type { ReceiverIndex, Target } from './receiver-index.js';

/** How a catch-up hands a GitRepository to the push path: its Receiver is triggered as for a webhook. */
export type CatchUpTrigger = (link: string, target: Target, tag: boolean) => 'queued' | 'coalesced' | 'dropped';

export interface CatchUpDeps {
  index: ReceiverIndex;
  /** Its cache keeps status.artifact.revision (kube/slim.ts). */
  gitRepositories: Informer<GitRepository>;
  connections: GitLabConnections;
  secretValue(ref: Required<SecretKeyRef>): Promise<string | undefined>;
  trigger: CatchUpTrigger;
  records: { recordCatchUp(link: string, record: CatchUpRecord): void };
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
  /** Start paused (leader election): only the leader asks GitLab and triggers. */
  paused: boolean;
  /**
   * Whether the caches the catch-up reads (links, GitRepositories, namespaces) hold the whole cluster yet. Leading
   * starts as soon as the links are listed; a catch-up before the GitRepositories are would see none of them and find
   * nothing behind, and the pushes of the outage would wait for the next sweep.
   */
  cachesSynced: () => boolean;
  now?: () => Date;
  /** Every link's sweep interval instead of spec.gitlab.api.sweepInterval (tests only: GITLAB_SWEEP_INTERVAL_SECONDS). */
  intervalOverrideMs?: number;
  /** After a catch-up that failed somewhere, the next comes this soon (the API coming back is a catch-up). */
  retryMs?: number;
}

interface RepositoryAt extends CatchUpRepository {
  target: Target;
}

interface LinkState {
  timer?: NodeJS.Timeout;
  running: boolean;
  /** Why the next run runs (a reason other than `sweep` wins: it says a push may have been missed). */
  pending?: CatchUpReason;
  /** Where the next capped sweep starts among the link's project + ref pairs. */
  cursor: number;
  /** namespace/name → the newest tag last seen for a semver GitRepository (tagFingerprint). */
  seenTags: Map<string, string>;
  failed: boolean;
}

/**
 * No push lost (docs/adr/0017-no-push-lost.md): for each link with spec.gitlab.api, the leader compares every linked
 * GitRepository's tracked ref in GitLab with its status.artifact.revision and triggers the ones behind through the
 * push path (the same trigger queue and Receiver call as a webhook). It runs when a push may have been missed —
 * leading starts (operator start, leader change), the hooks controller's word (a hook disabled, failing or
 * re-enabled; the webhook Secret rotated; GitLab's API back) — and every spec.gitlab.api.sweepInterval, the safety
 * net for pushes no webhook announced (GitLab sends none for a push of more than 3 refs) and the delivery of an
 * outbound-only link. A catch-up spends at most half the link's request budget over its interval
 * (reconcile/catch-up.ts catchUpRequestCap); repositories of the same project + ref share one request.
 */
export class CatchUp {
  private readonly states = new Map<string, LinkState>();
  private paused: boolean;
  private closed = false;
  private readonly now: () => Date;

  constructor(private readonly deps: CatchUpDeps) {
    this.paused = deps.paused;
    this.now = deps.now ?? (() => new Date());
    for (const reason of ['start', 'leader', 'hook-trouble', 'secret-rotated', 'api-recovered', 'sweep'] as const) {
      deps.metrics.catchUpTriggers.inc({ reason }, 0);
    }
  }

  /** A catch-up of the link as soon as possible (coalesced with one pending or running). */
  request(link: string, reason: CatchUpReason): void {
    if (this.paused || this.closed || !this.apiSpec(link)) return;
    const state = this.state(link);
    state.pending = state.pending === undefined || state.pending === 'sweep' ? reason : state.pending;
    if (state.running) return;
    this.schedule(link, state, 0);
  }

  /** Every link with spec.gitlab.api, now (leading starts). */
  requestAll(reason: CatchUpReason): void {
    for (const link of this.deps.index.linkNames()) this.request(link, reason);
  }

  /** Leading: resumes with a catch-up of every link (pushes made while no leader looked may have been missed). */
  resume(reason: 'start' | 'leader'): void {
    this.paused = false;
    this.requestAll(reason);
  }

  /** Following (or stopping): no GitLab request, no trigger; runs under way finish. */
  pause(): void {
    this.paused = true;
    for (const state of this.states.values()) {
      clearTimeout(state.timer);
      state.timer = undefined;
      state.pending = undefined;
    }
  }

  /** A link was added, changed or deleted: new links with spec.gitlab.api get their first catch-up, gone ones stop. */
  sync(): void {
    if (this.paused || this.closed) return;
    const live = new Set(this.deps.index.linkNames().filter((l) => this.apiSpec(l)));
    for (const [link, state] of this.states) {
      if (live.has(link)) continue;
      clearTimeout(state.timer);
      this.states.delete(link);
    }
    for (const link of live) if (!this.states.has(link)) this.request(link, 'sweep');
  }

  close(): void {
    this.pause();
    this.closed = true;
  }

  /**
   * One catch-up of a link: which of its GitRepositories are behind GitLab, triggered; the record on the link's
   * status, metrics, and an Event when notable. Undefined when the link has no spec.gitlab.api (or is suspended).
   */
  async run(link: string, reason: CatchUpReason): Promise<CatchUpRecord | undefined> {
    const entry = this.deps.index.link(link);
    const spec = entry?.matcher.spec;
    const api = spec?.gitlab.api;
    if (!entry || !spec || !api || spec.suspend) return undefined;
    const state = this.state(link);
    const repositories = this.repositoriesOf(entry.byProject);
    const record: CatchUpRecord = { reason, at: '', checked: repositories.length, triggered: 0, requests: 0 };
    const triggered: RepositoryAt[] = [];
    // Each answer's GitRepositories are triggered as it arrives: Flux fetches while GitLab is still being asked.
    const trigger = (behind: readonly RepositoryAt[]) => {
      for (const repo of behind) {
        this.deps.trigger(link, repo.target, isTagQuery(repo));
        this.deps.metrics.catchUpTriggers.inc({ reason });
      }
      triggered.push(...behind);
    };
    const gitlab = await this.client(link, spec.gitlab.url, api);
    if (typeof gitlab === 'string') record.error = gitlab;
    else {
      const plan = planCatchUp(repositories);
      const cap = catchUpRequestCap(api.requestsPerMinute, this.intervalMs(link));
      const { chosen, next } = chooseQueries(plan.queries, cap, state.cursor);
      state.cursor = next;
      trigger(plan.opaque);
      for (const query of chosen) {
        record.requests++;
        let answer: Awaited<ReturnType<typeof ask>>;
        try {
          answer = await ask(gitlab, query);
        } catch (err) {
          const status = err instanceof GitLabApiError ? err.status : 0;
          record.error ??= err instanceof Error ? err.message : String(err);
          // GitLab away (no answer, 5xx, a long 429): the rest would fail alike; the retry comes soon.
          if (status === 0 || status === 429 || status >= 500) break;
          continue;
        }
        trigger(this.behindOf(state, query, answer));
      }
    }
    record.triggered = triggered.length;
    record.at = this.now().toISOString();
    state.failed = record.error !== undefined;
    this.report(entry.link, record, triggered, spec.webhook.url === undefined);
    return record;
  }

  /** The GitRepositories of a query that are behind what GitLab answered (a semver one is remembered as seen). */
  private behindOf(state: LinkState, query: CatchUpQuery<RepositoryAt>, answer: string | TagCommit | undefined): RepositoryAt[] {
    if (query.query.kind !== 'newest-tag') {
      const head = answer as string | undefined;
      // The ref is not in GitLab (deleted, or never pushed): nothing to fetch; Flux reports it at its interval.
      return head === undefined ? [] : query.repositories.filter((r) => behind(head, parseRevision(r.revision)));
    }
    const newest = answer as TagCommit | undefined;
    const out = query.repositories.filter((r) => semverBehind(newest, parseRevision(r.revision), state.seenTags.get(repoKey(r))));
    for (const r of query.repositories) if (newest) state.seenTags.set(repoKey(r), tagFingerprint(newest));
    return out;
  }

  private report(link: GitLabFluxLink, record: CatchUpRecord, triggered: readonly RepositoryAt[], outboundOnly: boolean): void {
    const name = link.metadata.name;
    this.deps.records.recordCatchUp(name, record);
    this.deps.metrics.catchUpRuns.inc({ reason: record.reason, result: record.error ? 'error' : 'ok' });
    const fields = { link: name, reason: record.reason, checked: record.checked, triggered: record.triggered, requests: record.requests };
    if (record.error) this.deps.log.warn('catch-up: GitLab not fully asked', { ...fields, error: record.error });
    else if (record.triggered > 0) this.deps.log.info('catch-up: GitRepositories behind GitLab triggered', fields);
    else this.deps.log.debug('catch-up: nothing behind', fields);
    if (!catchUpNotable(record.reason as CatchUpReason, record.triggered, outboundOnly)) return;
    const names = triggered.slice(0, 5).map((r) => `${r.namespace}/${r.name}`);
    const more = triggered.length > names.length ? `, and ${triggered.length - names.length} more` : '';
    const message = `Catch-up (${record.reason}): ${record.triggered} of ${record.checked} GitRepositories were behind GitLab and were triggered: ${names.join(', ')}${more}`;
    void this.deps.events.record(link, 'Normal', 'CatchUp', message, this.now());
  }

  private repositoriesOf(byProject: ReadonlyMap<string, Target[]>): RepositoryAt[] {
    const out: RepositoryAt[] = [];
    for (const targets of byProject.values()) {
      for (const target of targets) {
        const repo = this.deps.gitRepositories.get(target.namespace, target.gitRepository);
        if (!repo || repo.spec.suspend) continue; // Flux ignores a suspended one's triggers anyway
        out.push({
          namespace: target.namespace,
          name: target.gitRepository,
          project: target.project,
          ref: repo.spec.ref,
          revision: repo.status?.artifact?.revision,
          target,
        });
      }
    }
    return out;
  }

  /** The link's GitLab client (shared with the hooks controller: one budget), or what is missing. */
  private async client(link: string, url: string, api: NonNullable<ReturnType<CatchUp['apiSpec']>>): Promise<LinkGitLab | string> {
    const token = await this.deps.secretValue(api.tokenSecretRef);
    if (token === undefined) return secretMissing('spec.gitlab.api.tokenSecretRef', api.tokenSecretRef);
    let ca: string | undefined;
    if (api.caSecretRef) {
      ca = await this.deps.secretValue(api.caSecretRef);
      if (ca === undefined) return secretMissing('spec.gitlab.api.caSecretRef', api.caSecretRef);
    }
    return this.deps.connections.get(link, {
      instanceURL: url,
      token,
      ...(ca !== undefined ? { ca } : {}),
      requestsPerMinute: api.requestsPerMinute,
    });
  }

  private apiSpec(link: string) {
    const spec = this.deps.index.link(link)?.matcher.spec;
    return spec && !spec.suspend ? spec.gitlab.api : undefined;
  }

  private intervalMs(link: string): number {
    const api = this.apiSpec(link);
    return this.deps.intervalOverrideMs ?? (api ? (durationMs(api.sweepInterval) ?? 300_000) : 300_000);
  }

  private state(link: string): LinkState {
    let s = this.states.get(link);
    if (!s) this.states.set(link, (s = { running: false, cursor: 0, seenTags: new Map(), failed: false }));
    return s;
  }

  private schedule(link: string, state: LinkState, ms: number): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => void this.drive(link, state), ms);
    state.timer.unref?.();
  }

  /** Runs the pending catch-up, then waits for the next sweep (sooner after a failure). */
  private async drive(link: string, state: LinkState): Promise<void> {
    state.timer = undefined;
    if (this.paused || this.closed || state.running) return;
    if (!this.deps.cachesSynced()) {
      this.schedule(link, state, CACHES_SYNC_POLL_MS); // the pending reason stays
      return;
    }
    // After a failed catch-up, the next one that gets through is the API coming back.
    const reason = state.pending ?? (state.failed ? 'api-recovered' : 'sweep');
    state.pending = undefined;
    state.running = true;
    try {
      await this.run(link, reason);
    } catch (err) {
      state.failed = true;
      this.deps.log.warn('catch-up failed', { link, error: err instanceof Error ? err.message : String(err) });
    } finally {
      state.running = false;
    }
    if (this.paused || this.closed || this.states.get(link) !== state) return;
    if (!this.apiSpec(link)) {
      this.states.delete(link);
      return;
    }
    if (state.pending !== undefined) this.schedule(link, state, 0);
    else this.schedule(link, state, state.failed ? Math.min(this.deps.retryMs ?? 30_000, this.intervalMs(link)) : this.intervalMs(link));
  }
}

/** How often a catch-up that waits for the caches looks again. */
const CACHES_SYNC_POLL_MS = 200;

/** One GitLab request for a project + ref. */
function ask(gitlab: LinkGitLab, q: { project: string; query: HeadQuery }): Promise<string | TagCommit | undefined> {
  if (q.query.kind === 'branch') return gitlab.branchHead(q.project, q.query.name);
  if (q.query.kind === 'tag') return gitlab.tagCommit(q.project, q.query.name);
  return gitlab.newestTag(q.project);
}

const repoKey = (r: CatchUpRepository) => `${r.namespace}/${r.name}`;

/** Flux's gitlab Receiver checks the event header against its events: a tag or semver ref is a Tag Push Hook. */
function isTagQuery(r: CatchUpRepository): boolean {
  const ref = r.ref ?? {};
  if (ref.commit) return false;
  if (ref.name) return ref.name.startsWith('refs/tags/');
  return Boolean(ref.semver || ref.tag);
}

const secretMissing = (field: string, ref: Required<SecretKeyRef>) =>
  `${field}: Secret ${ref.namespace}/${ref.name} not found, not readable or without key ${ref.key}`;
