import { randomBytes } from 'node:crypto';
import { Reason } from '../api/v1alpha1/conditions.js';
import { type GitLabFluxLink, LINKS } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import { type GitRepository, type Namespace, type Receiver, RECEIVERS, type Secret } from '../flux/types.js';
import { weakSecretMessage, weakSigningKeyReason, weakTokenReason, type WebhookSecretField } from '../gitlab/webhook-auth.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import type { SecretReader } from '../kube/secret-reader.js';
import type { KubeObject } from '../meta/object.js';
import { type Resource, SECRETS } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Outcome } from '../queue/work-queue.js';
import { claimsOf, type Conflict, type LinkMatcher, type Refusal } from '../reconcile/claims.js';
import type { LinkCompiler } from '../reconcile/compile.js';
import { desiredPair, usableToken } from '../reconcile/desired.js';
import { Expectations } from '../reconcile/expectations.js';
import { FINALIZER, LABEL_LINK, LABEL_MANAGED_BY, linkSelector, MANAGED_BY, objectName } from '../reconcile/names.js';
import { outcomeFor, REQUEUE_MS, requeueAfter } from '../reconcile/outcome.js';
import { type Action, type ApplyResult, type Plan, Planner } from '../reconcile/plan.js';
import { linkControllerUpdate, type StatusUpdate, type Verdict, withWebhookSecrets } from '../reconcile/status.js';
import { type LinkedRepository, summarizePass } from '../reconcile/summarize.js';
import { mapLimit } from './concurrency.js';
import type { LinkStatusWriter } from './link-status-writer.js';
import { setLinkFinalizers } from './link-finalizers.js';
import { measuredReconcile } from './measured-reconcile.js';

export interface Caches {
  gitRepositories: Informer<GitRepository>;
  receivers: Informer<Receiver>; // label-selected: managed by gitlab-flux-link
  secrets: Informer<Secret>; // label-selected: managed by gitlab-flux-link
  namespaces: Informer<Namespace>;
}

export interface LinkControllerDeps {
  client: KubeClient;
  caches: Caches;
  compiler: LinkCompiler;
  status: LinkStatusWriter;
  /** The links' webhook Secrets: the reader the webhook route authenticates with, so both judge one value. */
  webhookSecrets: SecretReader;
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
  /**
   * Told after every pass (the hooks controller): the projects of the link's linked GitRepositories when the pass
   * decided them, else undefined (the link deleted, suspended, invalid or waiting) — a wake-up only.
   */
  onPass?: (name: string, link: GitLabFluxLink | undefined, projects: readonly string[] | undefined) => void;
}

const CONTROLLER = 'gitlabfluxlink';
const RESOURCE_OF: Record<Action['kind'], Resource> = { Secret: SECRETS, Receiver: RECEIVERS };
const isManaged = (o: KubeObject) => o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;
const where = (a: Action) =>
  a.verb === 'create' ? `${a.object.metadata.namespace}/${a.object.metadata.name}` : `${a.namespace}/${a.name}`;
const FLUX_NOT_INSTALLED =
  'Flux is not installed: the GitRepository and Receiver APIs (source.toolkit.fluxcd.io/v1, notification.toolkit.fluxcd.io/v1) are not served; re-checking every 30 s';

/** A pass that reached a verdict; counts only when the link was evaluated. */
interface Concluded {
  verdict: Verdict;
  repositories?: StatusUpdate['repositories'];
  blocked?: number;
  failures?: string[];
  superseded?: number;
  /** The writes, for the ReceiversChanged Event (recorded after the status). */
  applied?: { written: number; actions: Action[] };
  /** What is wrong with the values of the link's webhook Secrets (messages naming the field). */
  weakWebhookSecrets?: string[];
  /** The GitLab projects of the linked GitRepositories. */
  projects?: string[];
}

/**
 * Reconciles one GitLabFluxLink: read → finalizer/deletion → compile → gather → desired (pure) → plan (pure)
 * → apply → summarise (pure) → status once → outcome (pure). It reads the link fresh from the API server and
 * everything else from the caches, so a reconcile never trusts the event that woke it.
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

  reconcile(name: string): Promise<Outcome> {
    return measuredReconcile(this.deps.metrics, CONTROLLER, () => this.deps.status.exclusive(name, () => this.reconcileOnce(name)));
  }

  /**
   * One pass. Every pass that reaches a verdict ends here, in one place: the status written once (only if it
   * changed) and the outcome decided from the verdict.
   */
  private async reconcileOnce(name: string): Promise<Outcome> {
    const links = (await this.deps.client.list<GitLabFluxLink>(LINKS)).items;
    const link = links.find((l) => l.metadata.name === name);
    const pass = await this.pass(name, link, links);
    this.deps.onPass?.(name, link, 'verdict' in pass ? pass.projects : undefined);
    if (!('verdict' in pass)) return pass;
    const weak = pass.weakWebhookSecrets ?? [];
    const update = withWebhookSecrets(linkControllerUpdate(pass.verdict, link!.metadata.generation ?? 0, pass.repositories), weak);
    await this.deps.status.write(link!, update);
    if (pass.applied) await this.recordChanges(link!, pass.applied.written, pass.applied.actions);
    return outcomeFor(pass.verdict, { ...pass, weakWebhookSecrets: weak.length });
  }

  /** What the pass did: an outcome when it ends without a verdict (nothing to report), else the verdict. */
  private async pass(name: string, link: GitLabFluxLink | undefined, links: GitLabFluxLink[]): Promise<Outcome | Concluded> {
    const { caches, compiler } = this.deps;
    if (!link) {
      // Deleted without our finalizer (removed by hand): still leave nothing behind.
      await this.deleteEverythingOf(name);
      this.expectations.forget(name);
      return { kind: 'done' };
    }
    if (link.metadata.deletionTimestamp) return this.finalize(link);
    // The link owns its Receivers and Secrets (owner references): the garbage collector removes them with it, even
    // when the operator is gone first (an uninstall). A finalizer would hold the link, and its CRD, until an
    // operator that no longer runs removed it. Links of earlier versions carry one: it goes.
    if (link.metadata.finalizers?.includes(FINALIZER)) {
      const updated = await setLinkFinalizers(
        this.deps.client,
        link,
        link.metadata.finalizers.filter((f) => f !== FINALIZER),
      );
      link.metadata = updated.metadata;
    }
    if (link.spec?.suspend) return { kind: 'done' };

    const compiled = compiler.compile(link);
    if (!compiled.valid) return { verdict: { kind: 'stalled', reason: Reason.InvalidSpec, message: compiled.message } };
    const weakWebhookSecrets = await this.weakWebhookSecrets(name, compiled.spec);
    if (!this.deps.fluxInstalled())
      return { verdict: { kind: 'waiting', reason: Reason.FluxNotInstalled, message: FLUX_NOT_INSTALLED }, weakWebhookSecrets };
    if (!Object.values(caches).every((c) => c.hasSynced())) return requeueAfter(REQUEUE_MS.cachesSyncing);
    // Our last writes not yet seen by the caches: planning now would redo them.
    const cachedVersion = (kind: string, ns: string, n: string) => this.cacheOf(kind).get(ns, n)?.metadata.resourceVersion ?? null;
    if (!this.expectations.satisfied(name, cachedVersion, this.now().getTime())) return requeueAfter(REQUEUE_MS.ownWritesNotSeen);

    const matchers = links.flatMap((l) => compiler.matcher(l) ?? []);
    const self = matchers.find((m) => m.name === name)!; // valid and not being deleted: compiled above
    const { plan, linked, conflicts, refused } = this.plan(self, link.metadata.uid ?? '', matchers);
    const applied = await this.apply(name, plan.actions);
    const summary = summarizePass({
      linked,
      conflicts,
      refused,
      blocked: plan.blocked,
      applied,
      receiver: (ns, n) => caches.receivers.get(ns, n),
    });

    this.deps.metrics.managedRepositories.set({ link: name }, summary.total);
    this.deps.metrics.readyReceivers.set({ link: name }, summary.ready);
    return {
      verdict: summary.verdict,
      repositories: { total: summary.total, ready: summary.ready, conflicts: summary.conflicts, entries: summary.entries },
      blocked: summary.blocked,
      failures: applied.failures,
      superseded: applied.superseded.size,
      applied: { written: applied.written, actions: plan.actions },
      weakWebhookSecrets,
      projects: linked.map((l) => l.project),
    };
  }

  /**
   * The link's webhook Secrets judged as the webhook route judges them (gitlab/webhook-auth.ts), so a value
   * that makes every webhook 503 shows on the link. A Secret that cannot be read is not judged here: the
   * webhook answers 503 and logs it, and the reconcile does not depend on it. Read through the push path's
   * reader (kube/secret-reader.ts): the value judged here is the one webhooks are checked against, at most
   * 10 s old, and a pass costs no GET while webhooks keep that value fresh.
   */
  private async weakWebhookSecrets(link: string, spec: ValidatedLinkSpec): Promise<string[]> {
    const checks: Array<
      [WebhookSecretField, Required<ValidatedLinkSpec['webhook']>['secretRef'] | undefined, (value: string) => string | undefined]
    > = [
      ['spec.webhook.secretRef', spec.webhook.secretRef, weakTokenReason],
      ['spec.webhook.signingSecretRef', spec.webhook.signingSecretRef, weakSigningKeyReason],
    ];
    const problems: string[] = [];
    for (const [field, ref, weak] of checks) {
      if (!ref) continue;
      const value = await this.deps.webhookSecrets.value(ref);
      if (value === undefined) {
        this.deps.log.debug('webhook Secret not read or empty: not judged', { link, field });
        continue;
      }
      const reason = weak(value);
      if (reason) problems.push(weakSecretMessage(field, ref, reason));
    }
    return problems;
  }

  /** Gather → desired → plan. Each desired pair is made, planned and dropped (Planner): only what the status needs is kept. */
  private plan(
    self: LinkMatcher,
    uid: string,
    matchers: LinkMatcher[],
  ): { plan: Plan; linked: LinkedRepository[]; conflicts: Conflict[]; refused: Refusal[] } {
    const { caches } = this.deps;
    const name = self.name;
    const nsLabels = (ns: string) => {
      const namespace = caches.namespaces.get(undefined, ns);
      return namespace ? (namespace.metadata.labels ?? {}) : undefined;
    };
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
    const linked: LinkedRepository[] = [];
    for (const claim of claims.managed) {
      const namespace = claim.repo.metadata.namespace ?? '';
      const token = usableToken(caches.secrets.get(namespace, objectName(claim.repo.metadata.name)));
      const pair = desiredPair({ name, uid }, self.spec, claim, token ?? this.newToken());
      planner.add(pair, token !== undefined);
      linked.push({ key: pair.key, project: pair.project, namespace, name: pair.receiver.metadata.name });
    }
    return { plan: planner.finish(), linked, conflicts: claims.conflicts, refused: claims.refused };
  }

  /** Secrets before Receivers (a Receiver without its token goes TokenNotFound), deletes last. */
  private async apply(link: string, actions: Action[]): Promise<ApplyResult> {
    const phase = (a: Action) => (a.verb === 'delete' ? 2 : a.kind === 'Secret' ? 0 : 1);
    const result: ApplyResult = { written: 0, superseded: new Set(), failures: [], foreign: new Map() };
    for (const p of [0, 1, 2]) {
      const batch = actions.filter((a) => phase(a) === p && !result.foreign.has(where(a)));
      await mapLimit(batch, this.deps.writeConcurrency ?? 16, async (a) => {
        const one = await this.applyOne(link, a);
        if (one?.foreign) result.foreign.set(where(a), one.foreign);
        else if (one?.error) result.failures.push(one.error);
        else if (one?.superseded) result.superseded.add(where(a));
        else result.written++;
      });
    }
    return result;
  }

  /** One write; undefined when done. */
  private async applyOne(link: string, a: Action): Promise<{ error?: string; foreign?: string; superseded?: true } | undefined> {
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
      this.expectations.expect(
        link,
        a.kind,
        namespace,
        name,
        { before, after: written?.metadata.resourceVersion, deleted: a.verb === 'delete' },
        this.now().getTime(),
      );
      return undefined;
    } catch (err) {
      if (a.verb === 'create' && isAlreadyExists(err)) {
        // Either our cache is behind (ours: the next pass sees it) or the name belongs to someone else.
        const existing = await client.get(resource, a.object.metadata.namespace, a.object.metadata.name);
        if (existing && !isManaged(existing))
          return { foreign: `${a.kind} ${where(a)} exists and is not managed by gitlab-flux-link; rename or delete it` };
        return { superseded: true };
      }
      // Our cache was behind: the object changed or is gone already. Never overwrite (a create never replaces an
      // existing token): the next pass, on the watch's truth, decides again.
      if (isConflict(err) || (a.verb !== 'create' && isNotFound(err))) return { superseded: true };
      log.warn('write failed', { verb: a.verb, kind: a.kind, object: where(a), error: String(err) });
      return { error: `${a.verb} ${a.kind} ${where(a)}: ${(err as Error).message}` };
    }
  }

  private cacheOf(kind: string): Informer<KubeObject> {
    return (kind === 'Secret' ? this.deps.caches.secrets : this.deps.caches.receivers) as unknown as Informer<KubeObject>;
  }

  /**
   * A link being deleted: what it made goes now. The garbage collector would remove it only once the link is gone,
   * which the hooks controller's finalizer may delay while it removes the link's GitLab hooks. A link of an earlier
   * version also carries the operator's former finalizer: it is removed after the objects.
   */
  private async finalize(link: GitLabFluxLink): Promise<Outcome> {
    const name = link.metadata.name;
    const legacyFinalizer = link.metadata.finalizers?.includes(FINALIZER) ?? false;
    const made = (o: KubeObject) => o.metadata.labels?.[LABEL_LINK] === name;
    const { caches } = this.deps;
    if (!legacyFinalizer && !caches.secrets.list().some(made) && !caches.receivers.list().some(made)) return { kind: 'done' };
    await this.deleteEverythingOf(name);
    if (legacyFinalizer) {
      await setLinkFinalizers(
        this.deps.client,
        link,
        link.metadata.finalizers!.filter((f) => f !== FINALIZER),
      );
    }
    this.expectations.forget(name);
    this.deps.log.info('link deleted: removed its receivers and secrets', { link: name });
    return { kind: 'done' };
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

  private async recordChanges(link: GitLabFluxLink, written: number, actions: Action[]): Promise<void> {
    if (written === 0) return;
    const count = (verb: Action['verb']) => actions.filter((a) => a.verb === verb && a.kind === 'Receiver').length;
    const [created, patched, deleted] = [count('create'), count('patch'), count('delete')];
    const parts = [created && `${created} created`, patched && `${patched} restored`, deleted && `${deleted} removed`].filter(Boolean);
    if (parts.length === 0) return;
    const message = `Receivers ${parts.join(', ')}`;
    this.deps.log.info(message, { link: link.metadata.name, created, restored: patched, removed: deleted });
    await this.deps.events.record(link, 'Normal', 'ReceiversChanged', message, this.now());
  }
}
