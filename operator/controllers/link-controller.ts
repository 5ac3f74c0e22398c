import { randomBytes } from 'node:crypto';
import { Reason } from '../api/v1alpha1/conditions.js';
import type { GitLabFluxLink, GitLabFluxLinkSpec, RepositoryEntry } from '../api/v1alpha1/types.js';
import { formatFieldErrors, validateLinkSpec } from '../api/v1alpha1/validation.js';
import { receiverReadiness, type GitRepository, type Namespace, type Receiver, type Secret } from '../flux/types.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../kube/client.js';
import type { KubeObject } from '../meta/object.js';
import type { Informer } from '../kube/informer.js';
import { LINKS } from '../api/v1alpha1/types.js';
import { RECEIVERS } from '../flux/types.js';
import { SECRETS, type Resource } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Outcome } from '../queue/work-queue.js';
import { claimsOf, compileLink, type LinkMatcher } from '../reconcile/claims.js';
import { desiredPair, usableToken } from '../reconcile/desired.js';
import { Expectations } from '../reconcile/expectations.js';
import { FINALIZER, LABEL_LINK, LABEL_MANAGED_BY, linkSelector, MANAGED_BY, objectName } from '../reconcile/names.js';
import { Planner, type Action } from '../reconcile/plan.js';
import { computeStatus, statusChanged, summary, type StatusInput, type Verdict } from '../reconcile/status.js';
import { mapLimit } from './concurrency.js';

export interface Caches {
  gitRepositories: Informer<GitRepository>;
  receivers: Informer<Receiver>; // label-selected: managed by gitlab-flux-link
  secrets: Informer<Secret>; // label-selected: managed by gitlab-flux-link
  namespaces: Informer<Namespace>;
}

export interface LinkControllerDeps {
  client: KubeClient;
  caches: Caches;
  fluxInstalled: () => boolean;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  now?: () => Date;
  newToken?: () => string;
  /** Parallel writes within one reconcile (a link may cover thousands of repositories). */
  writeConcurrency?: number;
  /** How long a reconcile waits for the caches to show its own last writes before planning anyway. */
  echoTimeoutMs?: number;
}

/** What a pass keeps of each desired pair for the status. */
interface Linked {
  key: string; // namespace/gitRepositoryName
  project: string;
  namespace: string;
  name: string; // of the Receiver and its Secret
}

const RESOURCE_OF: Record<Action['kind'], Resource> = { Secret: SECRETS, Receiver: RECEIVERS };
const isManaged = (o: KubeObject) => o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;
const where = (a: Action) => (a.verb === 'create' ? `${a.object.metadata.namespace}/${a.object.metadata.name}` : `${a.namespace}/${a.name}`);
const FLUX_RECHECK_MS = 30_000;
const CACHE_WAIT_MS = 1_000;
const ECHO_WAIT_MS = 250;

/**
 * Reconciles one GitLabFluxLink: read → finalizer/deletion → validate → gather → desired (pure) → plan (pure)
 * → apply → status once. It reads the link fresh from the API server and everything else from the caches,
 * so a reconcile never trusts the event that woke it.
 */
export class LinkController {
  private readonly now: () => Date;
  private readonly newToken: () => string;
  private readonly expectations: Expectations;

  constructor(private readonly deps: LinkControllerDeps) {
    this.now = deps.now ?? (() => new Date());
    // 32 random bytes, hex-encoded: Flux hashes the token into the webhook path, so it must be unguessable.
    this.newToken = deps.newToken ?? (() => randomBytes(32).toString('hex'));
    this.expectations = new Expectations(deps.echoTimeoutMs ?? 30_000);
  }

  async reconcile(name: string): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const { metrics } = this.deps;
    try {
      const outcome = await this.reconcileOnce(name);
      // A reconcile that ends in a retry is an error however it ended (controller-runtime counts every
      // returned error in both series), so errors_total equals reconcile_total{result="error"}.
      if (outcome.kind === 'retry') metrics.reconcileErrors.inc({ controller: 'gitlabfluxlink' });
      metrics.reconcileTotal.inc({ controller: 'gitlabfluxlink', result: outcome.kind === 'requeueAfter' ? 'requeue_after' : outcome.kind === 'retry' ? 'error' : 'success' });
      return outcome;
    } catch (error) {
      if (isConflict(error)) {
        // Someone wrote the link (or an object) between our read and write: just run again.
        metrics.reconcileTotal.inc({ controller: 'gitlabfluxlink', result: 'requeue' });
        return { kind: 'requeueAfter', ms: 100 };
      }
      metrics.reconcileErrors.inc({ controller: 'gitlabfluxlink' });
      metrics.reconcileTotal.inc({ controller: 'gitlabfluxlink', result: 'error' });
      return { kind: 'retry', error };
    } finally {
      metrics.reconcileSeconds.observe({ controller: 'gitlabfluxlink' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async reconcileOnce(name: string): Promise<Outcome> {
    const { client, caches } = this.deps;
    const links = (await client.list<GitLabFluxLink>(LINKS)).items;
    const link = links.find((l) => l.metadata.name === name);

    if (!link) {
      // Deleted without our finalizer (removed by hand): still leave nothing behind.
      await this.deleteEverythingOf(name);
      return { kind: 'done' };
    }
    if (link.metadata.deletionTimestamp) return this.finalize(link);
    if (!link.metadata.finalizers?.includes(FINALIZER)) {
      const updated = await this.setFinalizers(link, [...(link.metadata.finalizers ?? []), FINALIZER]);
      link.metadata = updated.metadata;
    }
    if (link.spec?.suspend) return { kind: 'done' };

    const validated = validateLinkSpec(link.spec);
    if ('errors' in validated) {
      // Terminal until the spec changes (a new generation wakes us through the watch): no requeue.
      await this.writeStatus(link, { kind: 'stalled', reason: Reason.InvalidSpec, message: formatFieldErrors(validated.errors) });
      return { kind: 'done' };
    }
    if (!this.deps.fluxInstalled()) {
      await this.writeStatus(link, { kind: 'waiting', reason: Reason.FluxNotInstalled, message: 'Flux is not installed: the GitRepository and Receiver APIs (source.toolkit.fluxcd.io/v1, notification.toolkit.fluxcd.io/v1) are not served; re-checking every 30 s' });
      return { kind: 'requeueAfter', ms: FLUX_RECHECK_MS };
    }
    if (!Object.values(caches).every((c) => c.hasSynced())) return { kind: 'requeueAfter', ms: CACHE_WAIT_MS };

    const spec = validated.spec;
    const matchers = links.flatMap((l) => {
      const v = l === link ? validated : validateLinkSpec(l.spec);
      const m = compileLink(l, 'spec' in v ? v.spec : undefined);
      return m ? [m] : [];
    });
    const self = matchers.find((m) => m.name === name);
    if (!self) {
      await this.writeStatus(link, { kind: 'stalled', reason: Reason.InvalidSpec, message: 'spec: the GitLab URL, SSH hosts or project patterns cannot be compiled' });
      return { kind: 'done' };
    }
    return this.converge(link, spec, self, matchers);
  }

  private async converge(link: GitLabFluxLink, spec: GitLabFluxLinkSpec, self: LinkMatcher, matchers: LinkMatcher[]): Promise<Outcome> {
    const { caches } = this.deps;
    const name = link.metadata.name;
    // Our last writes not yet seen by the caches: planning now would redo them.
    if (!this.expectations.satisfied(name, (kind, ns, n) => this.cacheOf(kind).get(ns, n)?.metadata.resourceVersion ?? null, Date.now())) return { kind: 'requeueAfter', ms: ECHO_WAIT_MS };
    const nsLabels = (ns: string) => caches.namespaces.get(undefined, ns)?.metadata.labels ?? (caches.namespaces.get(undefined, ns) ? {} : undefined);
    const claims = claimsOf(self, matchers, caches.gitRepositories.list(), nsLabels);

    const owned = (o: KubeObject) => o.metadata.labels?.[LABEL_LINK] === name;
    const liveLinks = new Set(matchers.map((m) => m.name));
    const planner = new Planner(name, {
      secret: (ns, n) => caches.secrets.get(ns, n),
      receiver: (ns, n) => caches.receivers.get(ns, n),
      ownedSecrets: caches.secrets.list().filter(owned),
      ownedReceivers: caches.receivers.list().filter(owned),
      managedByOtherLink: (other) => liveLinks.has(other),
    });
    // Each desired pair is made, planned and dropped (Planner): only what the status needs is kept.
    const linked: Linked[] = [];
    const blocked = new Map<string, string>();
    for (const claim of claims.managed) {
      const objectNamespace = claim.repo.metadata.namespace ?? '';
      const token = usableToken(caches.secrets.get(objectNamespace, objectName(claim.repo.metadata.name)));
      const pair = desiredPair(name, spec, claim, token ?? this.newToken());
      const isBlocked = planner.add(pair, token !== undefined);
      if (isBlocked) blocked.set(pair.key, isBlocked.message);
      linked.push({ key: pair.key, project: pair.project, namespace: objectNamespace, name: pair.receiver.metadata.name });
    }
    const thePlan = planner.finish();

    const { failures, foreign } = await this.apply(name, thePlan.actions);

    const entries: RepositoryEntry[] = [];
    let ready = 0;
    for (const l of linked) {
      const message = foreign.get(`${l.namespace}/${l.name}`);
      if (message) blocked.set(l.key, message);
    }
    for (const l of linked) {
      const r = receiverReadiness(caches.receivers.get(l.namespace, l.name));
      const message = blocked.get(l.key) ?? r.message;
      const isReady = r.ready && !blocked.has(l.key);
      if (isReady) ready++;
      entries.push({ gitRepository: l.key, project: l.project, receiver: l.name, ready: isReady, ...(isReady ? {} : { message }) });
    }
    for (const c of claims.conflicts) {
      entries.push({ gitRepository: `${c.repo.metadata.namespace}/${c.repo.metadata.name}`, project: c.project, receiver: '', ready: false, message: `managed by link ${c.owner}` });
    }
    const total = linked.length;
    const message = summary(total, ready, claims.conflicts.length, blocked.size);
    let verdict: Verdict;
    if (failures.length) verdict = { kind: 'failed', reason: Reason.ReconciliationFailed, message: `${failures.length} writes failed, retrying: ${failures[0]}` };
    else if (ready < total || blocked.size) verdict = { kind: 'progressing', message };
    else verdict = { kind: 'ready', message };

    this.deps.metrics.managedRepositories.set({ link: name }, total);
    this.deps.metrics.readyReceivers.set({ link: name }, ready);
    await this.writeStatus(link, verdict, { total, ready, conflicts: claims.conflicts.length, entries });
    await this.recordChanges(link, thePlan.actions.length - failures.length, thePlan.actions);

    if (failures.length) return { kind: 'retry', error: new Error(failures[0]) };
    // Receivers becoming Ready wake us through their watch; blocked names need a person, so look again later.
    return blocked.size ? { kind: 'requeueAfter', ms: 60_000 } : { kind: 'done' };
  }

  /**
   * Secrets before Receivers (a Receiver without its token goes TokenNotFound), deletes last. Returns the
   * failed writes, and the objects whose names turned out to be taken by objects the operator does not
   * manage (the caches only hold managed objects, so the plan cannot know those in advance).
   */
  private async apply(link: string, actions: Action[]): Promise<{ failures: string[]; foreign: Map<string, string> }> {
    const phase = (a: Action) => (a.verb === 'delete' ? 2 : a.kind === 'Secret' ? 0 : 1);
    const failures: string[] = [];
    const foreign = new Map<string, string>(); // namespace/name → message
    for (const p of [0, 1, 2]) {
      const batch = actions.filter((a) => phase(a) === p && !foreign.has(where(a)));
      await mapLimit(batch, this.deps.writeConcurrency ?? 16, async (a) => {
        const result = await this.applyOne(link, a);
        if (result?.foreign) foreign.set(where(a), result.foreign);
        else if (result?.error) failures.push(result.error);
      });
    }
    return { failures, foreign };
  }

  /** One write; undefined when done or harmlessly superseded. */
  private async applyOne(link: string, a: Action): Promise<{ error?: string; foreign?: string } | undefined> {
    const { client, metrics, log } = this.deps;
    const resource = RESOURCE_OF[a.kind];
    const [namespace, name] = where(a).split('/') as [string, string];
    const before = this.cacheOf(a.kind).get(namespace, name)?.metadata.resourceVersion;
    try {
      let written: KubeObject | undefined;
      if (a.verb === 'create') written = await client.create(resource, a.object);
      else if (a.verb === 'patch') written = await client.patch(resource, a.namespace, a.name, a.patch, 'merge');
      else await client.delete(resource, a.namespace, a.name, { resourceVersion: a.resourceVersion });
      metrics.objectWrites.inc({ verb: a.verb, kind: a.kind });
      this.expectations.expect(link, a.kind, namespace, name, { before, after: written?.metadata.resourceVersion, deleted: a.verb === 'delete' }, Date.now());
      return undefined;
    } catch (err) {
      if (a.verb === 'create' && isAlreadyExists(err)) {
        // Either our cache is behind (ours: the next pass sees it) or the name belongs to someone else.
        const existing = await client.get(resource, a.object.metadata.namespace, a.object.metadata.name);
        if (existing && !isManaged(existing)) return { foreign: `${a.kind} ${where(a)} exists and is not managed by gitlab-flux-link; rename or delete it` };
        return undefined;
      }
      // Our cache was behind: the object changed or is gone already. The watch brings the truth and the next
      // pass decides again; never overwrite (a create never replaces an existing token).
      if (isConflict(err) || (a.verb !== 'create' && isNotFound(err))) return undefined;
      log.warn('write failed', { verb: a.verb, kind: a.kind, object: where(a), error: String(err) });
      return { error: `${a.verb} ${a.kind} ${where(a)}: ${(err as Error).message}` };
    }
  }

  private cacheOf(kind: string): Informer<KubeObject> {
    return (kind === 'Secret' ? this.deps.caches.secrets : this.deps.caches.receivers) as unknown as Informer<KubeObject>;
  }

  private async finalize(link: GitLabFluxLink): Promise<Outcome> {
    if (!link.metadata.finalizers?.includes(FINALIZER)) return { kind: 'done' };
    await this.deleteEverythingOf(link.metadata.name);
    await this.setFinalizers(link, link.metadata.finalizers.filter((f) => f !== FINALIZER));
    this.deps.log.info('link deleted: removed its receivers and secrets', { link: link.metadata.name });
    return { kind: 'done' };
  }

  /**
   * The finalizer list is replaced as a whole, so the patch carries the resourceVersion it was computed from:
   * if anyone changed the link meanwhile (another finalizer added), the API server answers 409 and the
   * reconcile runs again on fresh data.
   */
  private setFinalizers(link: GitLabFluxLink, finalizers: string[]): Promise<GitLabFluxLink> {
    return this.deps.client.patch(LINKS, undefined, link.metadata.name, { metadata: { resourceVersion: link.metadata.resourceVersion, finalizers } }, 'merge');
  }

  /**
   * Deletes every Receiver and Secret labelled with the link, listed fresh from the API server (the caches may
   * lag behind a create made a moment ago).
   */
  private async deleteEverythingOf(linkName: string): Promise<void> {
    const { client } = this.deps;
    for (const resource of [RECEIVERS, SECRETS]) {
      let items: KubeObject[];
      try {
        items = (await client.list(resource, { labelSelector: linkSelector(linkName) })).items;
      } catch (err) {
        if (isNotFound(err)) continue; // Flux CRDs gone: nothing of that kind can exist
        throw err;
      }
      await mapLimit(items, this.deps.writeConcurrency ?? 16, async (o) => {
        try {
          // With the resourceVersion listed: an object another link adopted after the list is not ours to delete.
          await client.delete(resource, o.metadata.namespace, o.metadata.name, { resourceVersion: o.metadata.resourceVersion });
          this.deps.metrics.objectWrites.inc({ verb: 'delete', kind: resource.kind });
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      });
    }
  }

  private async writeStatus(link: GitLabFluxLink, verdict: Verdict, repositories?: StatusInput['repositories']): Promise<void> {
    const previous = link.status;
    const status = computeStatus({ generation: link.metadata.generation ?? 0, previous, verdict, repositories, now: this.now().toISOString() });
    if (!statusChanged(previous, status)) return;
    // Replace (not patch) with the resourceVersion read at the start: a status computed from a stale spec
    // is refused with a conflict and the reconcile runs again.
    await this.deps.client.replace(LINKS, { ...link, status } as KubeObject, 'status');
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    const wasReady = previous?.conditions?.find((c) => c.type === 'Ready');
    if (ready && (ready.status !== wasReady?.status || ready.reason !== wasReady?.reason)) {
      this.deps.log.info('link status', { link: link.metadata.name, ready: ready.status, reason: ready.reason, message: ready.message });
      const warning = ready.reason === Reason.InvalidSpec || ready.reason === Reason.ReconciliationFailed || ready.reason === Reason.FluxNotInstalled;
      await this.deps.events.record(link, warning ? 'Warning' : 'Normal', ready.reason, ready.message);
    }
  }

  private async recordChanges(link: GitLabFluxLink, done: number, actions: Action[]): Promise<void> {
    if (done === 0) return;
    const count = (verb: Action['verb']) => actions.filter((a) => a.verb === verb && a.kind === 'Receiver').length;
    const [created, patched, deleted] = [count('create'), count('patch'), count('delete')];
    const parts = [created && `${created} created`, patched && `${patched} restored`, deleted && `${deleted} removed`].filter(Boolean);
    if (parts.length === 0) return;
    const message = `Receivers ${parts.join(', ')}`;
    this.deps.log.info(message, { link: link.metadata.name, created, restored: patched, removed: deleted });
    await this.deps.events.record(link, 'Normal', 'ReceiversChanged', message);
  }
}

