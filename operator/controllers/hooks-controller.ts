import { ConditionType } from '../api/v1alpha1/conditions.js';
import { type GitLabFluxLink, type HookState, LINKS, type SecretKeyRef } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Secret } from '../flux/types.js';
import { groupKey, hookParent, isGroupKey } from '../gitlab/hook-parent.js';
import { type GitLabApiFactory, GitLabConnections } from '../gitlab-api/connections.js';
import { RequestBudget } from '../gitlab-api/pacing.js';
import { GitLabApiError, type GitLabApi } from '../gitlab-api/types.js';
import type { KubeClient } from '../kube/client.js';
import { secretText } from '../kube/secret-data.js';
import { SECRETS } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Outcome } from '../queue/work-queue.js';
import type { LinkCompiler } from '../reconcile/compile.js';
import {
  type DesiredHook,
  desiredHook,
  describeHookError,
  hookHealth,
  hooksRemovalFailedUpdate,
  hooksSecretMissingUpdate,
  hooksUpdate,
  hookWrite,
  newTrouble,
  noHooksUpdate,
  planProjectHooks,
  type ProjectOutcome,
  shouldTestHook,
  TESTS_PER_MINUTE,
} from '../reconcile/hooks.js';
import { hookPlaces } from '../reconcile/hook-places.js';
import { requeueAfter } from '../reconcile/outcome.js';
import type { StatusUpdate } from '../reconcile/status.js';
import type { LinkStatusWriter } from './link-status-writer.js';
import { setLinkFinalizers } from './link-finalizers.js';
import { measuredReconcile } from './measured-reconcile.js';

/** On links with spec.gitlab.api: their hooks are removed from GitLab before the link goes. */
export const HOOKS_FINALIZER = 'fluxlink.dev/gitlab-hooks';

const CONTROLLER = 'gitlabhooks';
const HOOK_STATES = ['active', 'failing', 'temporarily_disabled', 'disabled', 'error'] as const;

export type { GitLabApiFactory } from '../gitlab-api/connections.js';

/** Why the catch-up should look at a link now (push/catch-up.ts): a push may have been missed. */
export type HooksCatchUpReason = 'hook-trouble' | 'secret-rotated' | 'api-recovered';

export interface HooksControllerDeps {
  client: KubeClient;
  compiler: LinkCompiler;
  status: LinkStatusWriter;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  gitlab?: GitLabApiFactory;
  /** The links' GitLab clients and budgets, shared with the catch-up (made here from `gitlab` when absent). */
  connections?: GitLabConnections;
  /**
   * A push may have been missed on this link: a hook found disabled, failing or re-enabled (GitLab drops events while
   * a hook is disabled), the webhook Secret rotated (deliveries with the old token were refused meanwhile), or GitLab's
   * API answering again after errors. main.ts hands it to the catch-up.
   */
  onCatchUp?: (link: string, reason: HooksCatchUpReason) => void;
  now?: () => Date;
  /** How often a link's hooks are looked at again (a hook edited or deleted by hand, a rotated webhook Secret). */
  resyncMs?: number;
  /** A pass that failed somewhere is tried again after this long. */
  retryMs?: number;
}

interface Secrets {
  token: string;
  ca?: string;
  webhookToken?: string;
  signingToken?: string;
  /** uid/resourceVersion of the webhook Secret (and the signing Secret): which values were sent, never the values. */
  version: string;
}

/**
 * The GitLab side of a link (spec.gitlab.api): on every project the link manages, exactly one hook owned by this
 * link (reconcile/hooks.ts decides); removed when the project leaves the link, when webhook.url goes, and before
 * the link is deleted (finalizer `fluxlink.dev/gitlab-hooks`). Run by the leader only (its queue is paused with
 * the link controller's), driven by the link controller: each of its passes hands over the projects of the
 * link's linked GitRepositories (`linked`) and wakes this controller; it also looks again every `resyncMs`.
 *
 * GitLab's API is called outside the link's status section (a pass may wait for the link's request budget);
 * the result goes through the one status writer, re-reading the link inside `exclusive`. Its condition is
 * HooksReady, one of Ready's owners (reconcile/status.ts READY_DEPENDS_ON). Never logs a token.
 */
export class HooksController {
  private readonly wanted = new Map<string, { uid: string; generation: number; projects: string[] }>();
  private readonly connections: GitLabConnections;
  /** Links whose last pass met GitLab API errors: the next pass without any is "the API came back". */
  private readonly apiTrouble = new Set<string>();
  /** `${link}\n${project}` → the state its hook was last seen in (a Warning Event when it gets into trouble). */
  private readonly lastStates = new Map<string, Map<string, HookState>>();
  /** `${link}\n${project}` → when a test delivery to its disabled hook was last refused. */
  private readonly refusedTests = new Map<string, number>();
  /** GitLab allows 5 test deliveries a minute: one budget for the whole operator. */
  private readonly tests = new RequestBudget(TESTS_PER_MINUTE);
  private readonly now: () => Date;

  constructor(private readonly deps: HooksControllerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.connections =
      deps.connections ?? new GitLabConnections((endpoint, code) => deps.metrics.gitlabApiRequests.inc({ endpoint, code }), deps.gitlab);
  }

  /**
   * The link controller's word: the projects of the link's linked GitRepositories (the link with this uid, at
   * this generation). Whether that is news (another link object, a spec change, other projects): only then is a
   * pass worth its GitLab requests; otherwise the resync looks again.
   */
  linked(link: string, uid: string, generation: number, projects: readonly string[]): boolean {
    const next = { uid, generation, projects: [...new Set(projects)].sort() };
    const known = this.wanted.get(link);
    this.wanted.set(link, next);
    return !known || known.uid !== uid || known.generation !== generation || known.projects.join('\n') !== next.projects.join('\n');
  }

  reconcile(name: string): Promise<Outcome> {
    return measuredReconcile(this.deps.metrics, CONTROLLER, () => this.reconcileOnce(name));
  }

  private async reconcileOnce(name: string): Promise<Outcome> {
    const link = await this.read(name);
    if (!link) {
      this.forget(name);
      return { kind: 'done' };
    }
    const compiled = this.deps.compiler.compile(link);
    const spec = compiled.valid ? compiled.spec : undefined;
    const hasFinalizer = link.metadata.finalizers?.includes(HOOKS_FINALIZER) ?? false;

    if (link.metadata.deletionTimestamp) return this.finalize(link, spec, hasFinalizer);
    // An invalid spec: the link controller says Stalled; the hooks stay as they are until the spec is fixed.
    if (!spec) return { kind: 'done' };
    if (!spec.gitlab.api) {
      // No API access (any more): the link works as without it; hooks made before are left (the token is gone).
      if (hasFinalizer)
        await setLinkFinalizers(
          this.deps.client,
          link,
          (link.metadata.finalizers ?? []).filter((f) => f !== HOOKS_FINALIZER),
        );
      if (link.status?.hooks || link.status?.conditions?.some((c) => c.type === ConditionType.HooksReady))
        await this.writeStatus(link, noHooksUpdate());
      this.forget(name);
      return { kind: 'done' };
    }
    if (spec.suspend) return { kind: 'done' };
    if (!hasFinalizer)
      link.metadata = (await setLinkFinalizers(this.deps.client, link, [...(link.metadata.finalizers ?? []), HOOKS_FINALIZER])).metadata;

    const uid = link.metadata.uid ?? '';
    const webhookURL = spec.webhook.url;
    const known = this.wanted.get(name);
    // Not told yet which projects are the link's (the link controller's first pass after a start): it wakes us.
    if (webhookURL !== undefined && known?.uid !== uid) return { kind: 'done' };
    const projects = webhookURL === undefined ? [] : known!.projects;

    const secrets = await this.readSecrets(spec, webhookURL !== undefined);
    if (typeof secrets === 'string') {
      await this.writeStatus(link, hooksSecretMissingUpdate(secrets));
      return requeueAfter(this.deps.retryMs ?? 30_000);
    }
    const api = this.clientFor(name, spec, secrets);
    const desired = webhookURL === undefined ? undefined : desiredHook(name, uid, webhookURL, spec.webhook.signingSecretRef !== undefined);
    const previous = link.status?.hooks;
    const secretsChanged = previous?.secretVersion !== secrets.version;
    const registered = new Set(previous?.registered ?? []);
    const counts = { created: 0, repaired: 0, removed: 0, reenabled: 0 };
    const outcomes: ProjectOutcome[] = [];
    const sync = async (key: string, hook: DesiredHook | undefined) => {
      const outcome = await this.syncProject(name, uid, api, key, hook, secrets, secretsChanged, registered.has(key), counts);
      outcomes.push(outcome);
      return outcome;
    };

    // Group hooks first (reconcile/hook-places.ts decides where): a group the token cannot own, an instance without
    // group hooks, or an error hands its projects to project hooks in this same pass, so no push is left without a
    // hook; a covered project's own hook is removed only after its group's hook was seen in place.
    const unusable = new Set<string>();
    const tried = new Set<string>();
    let places = hookPlaces(projects, spec.gitlab.api.groupHooks, unusable);
    for (let next = places.groups.find((g) => !tried.has(g.group)); next; next = places.groups.find((g) => !tried.has(g.group))) {
      tried.add(next.group);
      const outcome = await sync(groupKey(next.group), desired);
      outcome.covers = next.projects.length;
      if (outcome.error) {
        unusable.add(next.group);
        if (outcome.error.status === 403 || outcome.error.status === 404) {
          // Not a failure of the link: GitLab says group hooks cannot be used there; its projects get project hooks.
          outcome.fallback = outcome.error.message;
          delete outcome.error;
          outcome.wanted = false;
          delete outcome.covers;
        }
        places = hookPlaces(projects, spec.gitlab.api.groupHooks, unusable);
      }
    }
    const wantedKeys = new Set([...places.groups.map((g) => groupKey(g.group)), ...places.projects]);
    // Then the projects no group covers (their hooks created before any other is removed), then every place that
    // may still hold this link's hook and is not wanted: a covered project's own hook, a group no longer chosen.
    for (const project of places.projects) await sync(project, desired);
    for (const key of [...registered].sort()) {
      if (!wantedKeys.has(key) && !(isGroupKey(key) && tried.has(hookParent(key).path))) await sync(key, undefined);
    }

    const update = hooksUpdate(outcomes, previous, secrets.version, webhookURL === undefined);
    await this.writeStatus(link, update);
    this.observe(name, outcomes);
    await this.recordChanges(link, counts);
    const trouble = await this.recordTrouble(link, outcomes);
    this.askCatchUp(name, outcomes, trouble, counts.reenabled, previous?.secretVersion !== undefined && secretsChanged);
    // A 429's Retry-After is kept by the link's client: the next pass waits for it before its first request.
    if (outcomes.some((o) => o.error)) return requeueAfter(this.deps.retryMs ?? 30_000);
    return requeueAfter(this.deps.resyncMs ?? 5 * 60_000);
  }

  /**
   * Tells the catch-up when a push may have been missed: a hook newly disabled or failing, or re-enabled (events were
   * dropped meanwhile); the webhook Secret rotated (not the first values sent); GitLab's API answering again.
   */
  private askCatchUp(name: string, outcomes: readonly ProjectOutcome[], trouble: number, reenabled: number, rotated: boolean): void {
    const errors = outcomes.some((o) => o.error);
    const recovered = !errors && this.apiTrouble.has(name);
    if (errors) this.apiTrouble.add(name);
    else this.apiTrouble.delete(name);
    const ask = this.deps.onCatchUp;
    if (!ask) return;
    if (trouble > 0 || reenabled > 0) ask(name, 'hook-trouble');
    else if (rotated) ask(name, 'secret-rotated');
    else if (recovered) ask(name, 'api-recovered');
  }

  /** One project: list (every page) → plan → write → health, and a test delivery to re-enable a disabled hook. */
  private async syncProject(
    link: string,
    uid: string,
    api: GitLabApi,
    project: string,
    desired: DesiredHook | undefined,
    secrets: Secrets,
    secretsChanged: boolean,
    wasRegistered: boolean,
    counts: { created: number; repaired: number; removed: number; reenabled: number },
  ): Promise<ProjectOutcome> {
    const wanted = desired !== undefined;
    try {
      const listed = await api.listHooks(project);
      const plan = planProjectHooks(listed, uid, desired, secretsChanged);
      let current = plan.kept;
      for (const action of plan.actions) {
        if (action.verb === 'create') {
          current = await api.createHook(project, hookWrite(desired!, secrets.webhookToken!, secrets.signingToken));
          counts.created++;
        } else if (action.verb === 'update') {
          const write = hookWrite(desired!, secrets.webhookToken!, secrets.signingToken, action.why.includes('custom_webhook_template'));
          current = await api.updateHook(project, action.id, write);
          counts.repaired++;
          this.deps.log.info('GitLab hook repaired', { link, project, hook: action.id, fields: action.why.join(',') });
        } else {
          await api.deleteHook(project, action.id);
          counts.removed++;
        }
      }
      if (!wanted || !current) return { project, wanted, mayRemain: false };
      const alertShown = typeof current.alert_status === 'string' && current.alert_status !== 'executable';
      const failures = alertShown ? undefined : await api.recentHookFailures(project, current.id);
      let health = hookHealth(current, failures);
      const key = `${link}\n${project}`;
      const nowMs = this.now().getTime();
      if (shouldTestHook(health.state, this.refusedTests.get(key), nowMs) && this.tests.waitMs(nowMs) === 0) {
        this.tests.record(nowMs);
        if ((await api.testHook(project, current.id)) === 'delivered') {
          this.refusedTests.delete(key);
          health = { state: 'active' };
          counts.reenabled++;
        } else this.refusedTests.set(key, nowMs);
      }
      return { project, wanted, hookId: current.id, health, mayRemain: true };
    } catch (err) {
      const status = err instanceof GitLabApiError ? err.status : 0;
      const message = describeHookError(project, status, err instanceof Error ? err.message : String(err));
      // A listed group GitLab refuses (403 not Owner, 404 none or Free tier) is a fallback to project hooks, looked at
      // again every pass: said at info, not as a warning every 5 minutes.
      const fallback = isGroupKey(project) && (status === 403 || status === 404);
      this.deps.log[fallback ? 'info' : 'warn']('GitLab hook not handled', { link, project, status, error: message });
      // A project that left the link and is gone or invisible (404) has nothing of ours left to remove we could
      // reach; otherwise this link's hook may be there (a create whose answer was lost included).
      const mayRemain = status === 404 && !wanted ? false : wasRegistered || (wanted && ![401, 403, 404].includes(status));
      return { project, wanted, error: { status, message }, mayRemain };
    }
  }

  /**
   * Deleting the link: its hooks are removed from every project it registered them on, then the finalizer goes.
   * If GitLab refuses (or the token Secret is gone), the finalizer stays and HooksReady says why.
   */
  private async finalize(link: GitLabFluxLink, spec: ValidatedLinkSpec | undefined, hasFinalizer: boolean): Promise<Outcome> {
    const name = link.metadata.name;
    if (!hasFinalizer) return { kind: 'done' };
    // Where the hook may be: as recorded, and the projects last wanted (a create whose status write was lost).
    const known = this.wanted.get(name);
    const lastWanted = known !== undefined && known.uid === link.metadata.uid ? known.projects : [];
    const recorded = new Set(link.status?.hooks?.registered ?? []);
    const registered = [...new Set([...recorded, ...lastWanted])].sort();
    if (spec?.gitlab.api && registered.length > 0) {
      const secrets = await this.readSecrets(spec, false);
      if (typeof secrets === 'string') {
        await this.writeStatus(link, hooksRemovalFailedUpdate([secrets]));
        return requeueAfter(this.deps.retryMs ?? 30_000);
      }
      const api = this.clientFor(name, spec, secrets);
      const counts = { created: 0, repaired: 0, removed: 0, reenabled: 0 };
      const outcomes: ProjectOutcome[] = [];
      for (const project of registered) {
        // Only a recorded project holds the finalizer when GitLab refuses; one merely wanted may never have had a hook.
        outcomes.push(
          await this.syncProject(name, link.metadata.uid ?? '', api, project, undefined, secrets, false, recorded.has(project), counts),
        );
      }
      const failed = outcomes.filter((o) => o.mayRemain);
      if (failed.length > 0) {
        await this.writeStatus(link, {
          ...hooksRemovalFailedUpdate(failed.map((o) => o.error?.message ?? o.project)),
          hooks: { projects: 0, active: 0, entries: [], ...link.status?.hooks, registered: failed.map((o) => o.project) },
        });
        return requeueAfter(this.deps.retryMs ?? 30_000);
      }
      await this.recordChanges(link, counts);
    }
    await setLinkFinalizers(
      this.deps.client,
      link,
      (link.metadata.finalizers ?? []).filter((f) => f !== HOOKS_FINALIZER),
    );
    this.deps.log.info('link deleted: removed its GitLab hooks', { link: name, projects: registered.length });
    this.forget(name);
    return { kind: 'done' };
  }

  /** The link fresh from the API server (list: the operator's role has no `get` on links). */
  private async read(name: string): Promise<GitLabFluxLink | undefined> {
    return (await this.deps.client.list<GitLabFluxLink>(LINKS)).items.find((l) => l.metadata.name === name);
  }

  /** The Secrets the hooks need, or what is missing (naming the field and the Secret, never a value). */
  private async readSecrets(spec: ValidatedLinkSpec, needWebhookSecrets: boolean): Promise<Secrets | string> {
    const api = spec.gitlab.api!;
    const read = async (field: string, ref: Required<SecretKeyRef>): Promise<{ value: string; version: string } | string> => {
      let secret: Secret | undefined;
      try {
        secret = await this.deps.client.get<Secret>(SECRETS, ref.namespace, ref.name);
      } catch (err) {
        return `${field}: Secret ${ref.namespace}/${ref.name} not read (${err instanceof Error ? err.message : String(err)})`;
      }
      if (!secret) return `${field}: Secret ${ref.namespace}/${ref.name} not found`;
      const value = secretText(secret.data, ref.key);
      if (value === undefined) return `${field}: Secret ${ref.namespace}/${ref.name} has no key ${ref.key} (or it is empty)`;
      return { value, version: `${secret.metadata.uid ?? ''}/${secret.metadata.resourceVersion ?? ''}` };
    };
    const token = await read('spec.gitlab.api.tokenSecretRef', api.tokenSecretRef);
    if (typeof token === 'string') return token;
    const secrets: Secrets = { token: token.value, version: '' };
    if (api.caSecretRef) {
      const ca = await read('spec.gitlab.api.caSecretRef', api.caSecretRef);
      if (typeof ca === 'string') return ca;
      secrets.ca = ca.value;
    }
    if (needWebhookSecrets) {
      const webhook = await read('spec.webhook.secretRef', spec.webhook.secretRef);
      if (typeof webhook === 'string') return webhook;
      secrets.webhookToken = webhook.value;
      secrets.version = webhook.version;
      if (spec.webhook.signingSecretRef) {
        const signing = await read('spec.webhook.signingSecretRef', spec.webhook.signingSecretRef);
        if (typeof signing === 'string') return signing;
        secrets.signingToken = signing.value;
        secrets.version += `,${signing.version}`;
      }
    }
    return secrets;
  }

  /** The link's client (shared with the catch-up): one budget per link across clients and callers. */
  private clientFor(link: string, spec: ValidatedLinkSpec, secrets: Secrets): GitLabApi {
    return this.connections.get(link, {
      instanceURL: spec.gitlab.url,
      token: secrets.token,
      ...(secrets.ca !== undefined ? { ca: secrets.ca } : {}),
      requestsPerMinute: spec.gitlab.api!.requestsPerMinute,
    });
  }

  /** The status write, inside the link's status section on the link read again (the pass may have taken a while). */
  private async writeStatus(link: GitLabFluxLink, update: StatusUpdate): Promise<void> {
    const name = link.metadata.name;
    await this.deps.status.exclusive(name, async () => {
      const fresh = await this.read(name);
      if (!fresh || fresh.metadata.uid !== link.metadata.uid) return;
      await this.deps.status.write(fresh, update);
    });
  }

  /** fluxlink_gitlab_hooks{link,state}: the link's wanted projects by the state of their hook. */
  private observe(link: string, outcomes: readonly ProjectOutcome[]): void {
    const stateOf = (o: ProjectOutcome) => (o.error ? 'error' : o.health?.state);
    for (const state of HOOK_STATES) {
      this.deps.metrics.gitlabHooks.set({ link, state }, outcomes.filter((o) => o.wanted && stateOf(o) === state).length);
    }
  }

  private async recordChanges(
    link: GitLabFluxLink,
    c: { created: number; repaired: number; removed: number; reenabled: number },
  ): Promise<void> {
    const parts = [
      c.created && `${c.created} created`,
      c.repaired && `${c.repaired} repaired`,
      c.removed && `${c.removed} removed`,
      c.reenabled && `${c.reenabled} re-enabled`,
    ].filter(Boolean);
    if (parts.length === 0) return;
    const message = `GitLab webhooks ${parts.join(', ')}`;
    this.deps.log.info(message, { link: link.metadata.name, ...c });
    await this.deps.events.record(link, 'Normal', 'HooksChanged', message, this.now());
  }

  /**
   * A Warning Event for each hook GitLab has just disabled, or whose deliveries have just started failing. Returns
   * how many hooks changed between trouble and health either way (each is a moment a push may have been missed).
   */
  private async recordTrouble(link: GitLabFluxLink, outcomes: readonly ProjectOutcome[]): Promise<number> {
    const name = link.metadata.name;
    const previous = this.lastStates.get(name) ?? new Map<string, HookState>();
    const trouble = newTrouble(previous, outcomes);
    const healed = outcomes.filter((o) => o.health?.state === 'active' && (previous.get(o.project) ?? 'active') !== 'active').length;
    this.lastStates.set(name, new Map(outcomes.flatMap((o) => (o.health ? [[o.project, o.health.state] as const] : []))));
    const say: Record<string, string> = {
      disabled: 'GitLab disabled it for good after repeated failures',
      temporarily_disabled: 'GitLab disabled it for a while after failures',
      failing: 'its recent deliveries failed',
    };
    for (const t of trouble.slice(0, 10)) {
      await this.deps.events.record(link, 'Warning', 'HookFailing', `GitLab webhook of ${t.project}: ${say[t.state]}`, this.now());
    }
    return trouble.length + healed;
  }

  private forget(name: string): void {
    this.lastStates.delete(name);
    this.wanted.delete(name);
    this.apiTrouble.delete(name);
    this.connections.forget(name);
    for (const key of this.refusedTests.keys()) if (key.startsWith(`${name}\n`)) this.refusedTests.delete(key);
    for (const state of HOOK_STATES) this.deps.metrics.gitlabHooks.remove({ link: name, state });
  }
}
