// The GitLab side, decided without I/O: which hook of a project is this link's, what must be written so that it
// is exactly the hook the link wants, and what the listed hooks say about health. The hooks controller
// (controllers/hooks-controller.ts) lists, calls this, and writes.
//
// Ownership is the URL marker only: the hook's URL carries the query parameter `fluxlink-link=<link uid>` exactly
// once. name/description mark the hook for people where GitLab has them (17.1+), but never decide anything (older
// GitLab has no such fields, and anyone can type them). A hook without the marker — a person's hook to the same
// URL included — is never edited or deleted (peers adopted hooks by URL and deleted a user's hook by id).
import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import type { HookEntry, HooksStatus, HookState } from '../api/v1alpha1/types.js';
import { hookParent, isGroupKey } from '../gitlab/hook-parent.js';
import { type HookWrite, OTHER_EVENTS, type ProjectHook } from '../gitlab/project-hooks.js';
import type { ConditionState, StatusUpdate } from './status.js';

export const OWNER_PARAM = 'fluxlink-link';

/** The URL registered for a link: webhook.url with the ownership marker (the webhook route ignores the query). */
export function ownedHookURL(webhookURL: string, linkUid: string): string {
  return `${webhookURL}?${OWNER_PARAM}=${encodeURIComponent(linkUid)}`;
}

/** Whether a listed hook is this link's: its URL parses and carries the marker once, with this link's uid. */
export function isOwnHook(hook: Pick<ProjectHook, 'url'>, linkUid: string): boolean {
  let url: URL;
  try {
    url = new URL(hook.url);
  } catch {
    return false;
  }
  const marks = url.searchParams.getAll(OWNER_PARAM);
  return marks.length === 1 && marks[0] === linkUid;
}

/** The hook a link wants on each of its projects. */
export interface DesiredHook {
  url: string;
  name: string;
  description: string;
  /** The link has a signing Secret: GitLab (19.0+) should show signing_token_present. */
  signing: boolean;
}

export function desiredHook(linkName: string, linkUid: string, webhookURL: string, signing: boolean): DesiredHook {
  return {
    url: ownedHookURL(webhookURL, linkUid),
    name: `gitlab-flux-link ${linkName}`,
    description: `Managed by gitlab-flux-link for GitLabFluxLink ${linkName}; edits are reverted.`,
    signing,
  };
}

/**
 * The whole hook, written on every create and update: the token is write-only (GitLab never returns it, and
 * resets it when the URL changes), so it is sent every time. name, description and signing_token are sent to
 * every version: GitLab drops parameters an endpoint does not declare (`declared_params`, lib/api/project_hooks.rb).
 */
export function hookWrite(desired: DesiredHook, token: string, signingToken: string | undefined, clearTemplate = false): HookWrite {
  const write: HookWrite = {
    url: desired.url,
    token,
    push_events: true,
    tag_push_events: true,
    enable_ssl_verification: true,
    push_events_branch_filter: '',
    name: desired.name,
    description: desired.description,
  };
  // Only to undo a custom template someone set (17.x); a create never sends the field.
  if (clearTemplate) write.custom_webhook_template = '';
  for (const event of OTHER_EVENTS) write[event] = false;
  if (desired.signing && signingToken !== undefined) write.signing_token = signingToken;
  return write;
}

export type HookAction =
  { verb: 'create' } | { verb: 'update'; id: number; why: string[] } | { verb: 'delete'; id: number; why: 'duplicate' | 'not wanted' };

export interface ProjectHookPlan {
  actions: HookAction[];
  /** This link's hook that stays (the oldest), as listed; undefined when none is listed. */
  kept?: ProjectHook;
}

const createdOrder = (a: ProjectHook, b: ProjectHook) => {
  const ta = Date.parse(a.created_at ?? '');
  const tb = Date.parse(b.created_at ?? '');
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  return a.id - b.id;
};

/** How a listed hook differs from the wanted one; fields the instance does not show are not compared. */
export function hookDrift(hook: ProjectHook, desired: DesiredHook): string[] {
  const why: string[] = [];
  if (hook.url !== desired.url) why.push('url');
  if (hook.push_events !== true) why.push('push_events');
  if (hook.tag_push_events !== true) why.push('tag_push_events');
  if (hook.enable_ssl_verification !== true) why.push('enable_ssl_verification');
  if (typeof hook.push_events_branch_filter === 'string' && hook.push_events_branch_filter !== '') why.push('push_events_branch_filter');
  for (const event of OTHER_EVENTS) if (hook[event] === true) why.push(event);
  if (typeof hook.custom_webhook_template === 'string' && hook.custom_webhook_template !== '') why.push('custom_webhook_template');
  if ('name' in hook && hook.name !== desired.name) why.push('name');
  if ('description' in hook && hook.description !== desired.description) why.push('description');
  if (hook.token_present === false) why.push('token'); // 19.0+ shows whether a hook has a secret token
  if (desired.signing && hook.signing_token_present === false) why.push('signing_token');
  return why;
}

/**
 * One project's writes: its listed hooks (every page) against the wanted hook (undefined: the project is no
 * longer the link's, or the link is going). Only hooks with this link's marker are considered; of those the
 * oldest is kept and the others deleted (duplicates never accumulate: a restart between a create and its status,
 * or a create GitLab did but answered late, leave one too many, removed here). `secretsChanged`: the webhook
 * Secret (or the signing Secret) changed since its values were last sent, so the kept hook is updated even
 * if it looks right (GitLab never shows the token).
 */
export function planProjectHooks(
  listed: readonly ProjectHook[],
  linkUid: string,
  desired: DesiredHook | undefined,
  secretsChanged: boolean,
): ProjectHookPlan {
  const own = listed.filter((h) => isOwnHook(h, linkUid)).sort(createdOrder);
  if (desired === undefined) return { actions: own.map((h) => ({ verb: 'delete', id: h.id, why: 'not wanted' })) };
  if (own.length === 0) return { actions: [{ verb: 'create' }] };
  const [kept, ...duplicates] = own as [ProjectHook, ...ProjectHook[]];
  const actions: HookAction[] = duplicates.map((h) => ({ verb: 'delete', id: h.id, why: 'duplicate' }));
  const why = hookDrift(kept, desired);
  if (secretsChanged) why.push('webhook Secret changed');
  if (why.length > 0) actions.unshift({ verb: 'update', id: kept.id, why });
  return { actions, kept };
}

/** A hook's health as GitLab shows it: alert_status (17.11+), then recent failed deliveries (17.3+). */
export function hookHealth(hook: ProjectHook, recentFailures: number | undefined): { state: HookState; disabledUntil?: string } {
  if (hook.alert_status === 'disabled') return { state: 'disabled' };
  if (hook.alert_status === 'temporarily_disabled') {
    return typeof hook.disabled_until === 'string'
      ? { state: 'temporarily_disabled', disabledUntil: hook.disabled_until }
      : { state: 'temporarily_disabled' };
  }
  return { state: recentFailures !== undefined && recentFailures > 0 ? 'failing' : 'active' };
}

/**
 * Test deliveries a minute, for the whole operator. GitLab allows 5 a minute per project and user since 17.1
 * (lib/api/hooks/test.rb: check_rate_limit!(:web_hook_test, scope: [hook.parent, current_user]); 17.0: 3 a minute
 * per hook; docs api/project_webhooks.md "Trigger a test project webhook"): 5 in all is within every reading.
 */
export const TESTS_PER_MINUTE = 5;
/** A hook whose test delivery was refused is tried again after this long (the endpoint is still not answering). */
export const RETEST_AFTER_MS = 10 * 60_000;

/**
 * Whether to ask GitLab for a test delivery to a disabled hook now. GitLab re-enables a hook when a delivery gets
 * a 2xx, and drops (does not queue) events while it is disabled; this operator is running, so its endpoint should
 * answer again. A hook whose last test was refused waits RETEST_AFTER_MS; the tests-a-minute limit is the caller's.
 */
export function shouldTestHook(state: HookState, lastRefusedAtMs: number | undefined, nowMs: number): boolean {
  if (state !== 'disabled' && state !== 'temporarily_disabled') return false;
  return lastRefusedAtMs === undefined || nowMs - lastRefusedAtMs >= RETEST_AFTER_MS;
}

/** The states worth a Warning Event when a hook enters them. */
const TROUBLE: ReadonlySet<HookState> = new Set(['disabled', 'temporarily_disabled', 'failing']);

/**
 * Hooks that have just got into trouble, from the state each was last seen in: a Warning Event each, once per
 * change (a hook that stays disabled is not reported again).
 */
export function newTrouble(
  previous: ReadonlyMap<string, HookState>,
  outcomes: readonly ProjectOutcome[],
): { project: string; state: HookState }[] {
  return outcomes.flatMap((o) => {
    const state = o.health?.state;
    return o.wanted && !o.error && state !== undefined && TROUBLE.has(state) && previous.get(o.project) !== state
      ? [{ project: o.project, state }]
      : [];
  });
}

export const MAX_HOOK_ENTRIES = 50;

/** Entries with a problem first, then by project; at most MAX_HOOK_ENTRIES. */
export function boundHookEntries(entries: readonly HookEntry[]): HookEntry[] {
  const rank = (e: HookEntry) => (e.state === 'active' ? 1 : 0);
  return [...entries]
    .sort((a, b) => rank(a) - rank(b) || (a.project < b.project ? -1 : a.project > b.project ? 1 : 0))
    .slice(0, MAX_HOOK_ENTRIES);
}

/** What happened on one project in a pass of the hooks controller. */
export interface ProjectOutcome {
  project: string;
  /** The project is one of the link's (it should have the hook). */
  wanted: boolean;
  hookId?: number;
  /** A wanted project's hook after the pass. */
  health?: { state: HookState; disabledUntil?: string };
  /** Why the project could not be handled (a message without any token: describeHookError). */
  error?: { status: number; message: string };
  /** This link's hook may still be on the project: kept in status.hooks.registered until seen removed. */
  mayRemain: boolean;
  /** A group's hook: how many managed projects it covers (reconcile/hook-places.ts). */
  covers?: number;
  /** A listed group whose hook GitLab does not allow (403, 404): why; its projects have project hooks instead. */
  fallback?: string;
}

/**
 * A GitLab API failure on a project or group (`group:` key, gitlab/hook-parent.ts), said so a person knows what to
 * do. `status` 0: no answer.
 */
export function describeHookError(key: string, status: number, message: string): string {
  const parent = hookParent(key);
  if (parent.kind === 'group') {
    const where = `group ${parent.path}`;
    switch (status) {
      case 403:
        // ee/lib/api/group_hooks.rb: authorize! :admin_web_hook on the group (Owner, or an administrator).
        return `${where}: the API token is not an Owner of the group (403), so its projects have project hooks instead`;
      case 404:
        // ee/lib/api/group_hooks.rb exists only in GitLab Premium and Ultimate; a group not visible is 404 too.
        return `${where}: not found, not visible to the API token, or this GitLab has no group hooks (Free tier) (404), so its projects have project hooks instead`;
    }
  }
  switch (status) {
    case 401:
      return `${key}: GitLab does not accept the API token (401); check spec.gitlab.api.tokenSecretRef (expired or revoked?)`;
    case 403:
      return `${key}: the API token has too little access (403): it needs the api scope and the Maintainer role on the project`;
    case 404:
      return `${key}: project not found, or not visible to the API token (404)`;
    case 422:
      return `${key}: GitLab refused the hook (422: ${message.replace(/^.*: 422 /, '')}); check spec.webhook.url (GitLab refuses URLs in local networks unless its admin allows them)`;
    case 429:
      return `${key}: rate limited by GitLab (429); retrying after its Retry-After`;
    default:
      return `${key}: ${message}`;
  }
}

const listSome = (items: readonly string[], n = 3) =>
  items.slice(0, n).join('; ') + (items.length > n ? ` (and ${items.length - n} more)` : '');

/**
 * The hooks controller's status update after a pass over every project that is the link's or may still hold its
 * hook: HooksReady, and status.hooks (counts, registered projects, the Secret version sent, entries).
 * `secretVersion` is recorded only when every wanted project got the values (else the previous one stays, and the
 * next pass sends them again). `outboundOnly`: the link has no webhook.url, so no project is wanted.
 */
export function hooksUpdate(
  outcomes: readonly ProjectOutcome[],
  previous: HooksStatus | undefined,
  secretVersion: string,
  outboundOnly: boolean,
): StatusUpdate {
  const wanted = outcomes.filter((o) => o.wanted);
  const failed = outcomes.filter((o) => o.error !== undefined);
  const entries: HookEntry[] = outcomes.flatMap((o): HookEntry[] => {
    if (o.error)
      return [{ project: o.project, state: 'error', ...(o.hookId !== undefined ? { hookId: o.hookId } : {}), message: o.error.message }];
    if (!o.wanted || !o.health) return [];
    const e: HookEntry = { project: o.project, state: o.health.state };
    if (o.hookId !== undefined) e.hookId = o.hookId;
    if (o.health.disabledUntil !== undefined) e.disabledUntil = o.health.disabledUntil;
    if (o.health.state === 'disabled')
      e.message = 'GitLab disabled the hook after repeated failures; re-enabling it through test deliveries';
    if (o.health.state === 'temporarily_disabled')
      e.message = 'GitLab paused the hook after failures; re-enabling it through test deliveries';
    if (o.health.state === 'failing') e.message = 'recent deliveries failed (GitLab hook events)';
    return [e];
  });
  const calling = wanted.filter((o) => !o.error && (o.health?.state === 'active' || o.health?.state === 'failing'));
  const disabled = wanted.filter((o) => !o.error && (o.health?.state === 'disabled' || o.health?.state === 'temporarily_disabled'));
  const failing = wanted.filter((o) => !o.error && o.health?.state === 'failing');
  const hooks: HooksStatus = {
    projects: wanted.length,
    active: calling.length,
    registered: [...new Set(outcomes.filter((o) => o.mayRemain).map((o) => o.project))].sort(),
    entries: boundHookEntries(entries),
  };
  const sentToAll = wanted.every((o) => !o.error);
  const version = sentToAll ? secretVersion : previous?.secretVersion;
  if (version !== undefined && !outboundOnly) hooks.secretVersion = version;

  let condition: ConditionState;
  const unauthorized = failed.find((o) => o.error!.status === 401);
  if (unauthorized) {
    condition = {
      type: ConditionType.HooksReady,
      status: 'False',
      reason: Reason.GitLabUnauthorized,
      message: unauthorized.error!.message,
    };
  } else if (failed.length > 0) {
    condition = {
      type: ConditionType.HooksReady,
      status: 'False',
      reason: Reason.HookRegistrationFailed,
      message: `${failed.length} of ${outcomes.length} projects: ${listSome(failed.map((o) => o.error!.message))}`,
    };
  } else if (disabled.length > 0) {
    const which = disabled.map((o) => (o.health?.disabledUntil ? `${o.project} (until ${o.health.disabledUntil})` : o.project));
    condition = {
      type: ConditionType.HooksReady,
      status: 'False',
      reason: Reason.HooksDisabled,
      message: `GitLab disabled this link's webhook on ${disabled.length} of ${wanted.length} projects: ${listSome(which)}; re-enabling through test deliveries`,
    };
  } else if (outboundOnly) {
    condition = {
      type: ConditionType.HooksReady,
      status: 'True',
      reason: Reason.OutboundOnly,
      message: 'spec.webhook.url is not set: no GitLab webhooks are registered (outbound-only)',
    };
  } else {
    const note = failing.length > 0 ? `; ${failing.length} with recently failed deliveries` : '';
    const groups = wanted.filter((o) => isGroupKey(o.project));
    const fallbacks = outcomes.filter((o) => o.fallback !== undefined);
    const fallbackNote = fallbacks.length > 0 ? `; ${listSome(fallbacks.map((o) => o.fallback!))}` : '';
    const message =
      groups.length === 0 && fallbacks.length === 0
        ? `${calling.length} of ${wanted.length} projects have this link's GitLab webhook${note}`
        : `${calling.length} of ${wanted.length} hooks in place: ${groups.length} group hook(s) covering ` +
          `${groups.reduce((n, o) => n + (o.covers ?? 0), 0)} projects, ${wanted.length - groups.length} project hook(s)${note}${fallbackNote}`;
    condition = { type: ConditionType.HooksReady, status: 'True', reason: Reason.Succeeded, message };
  }
  return { set: [condition], hooks };
}

/** The link has no spec.gitlab.api (any more): no HooksReady, no status.hooks. */
export function noHooksUpdate(): StatusUpdate {
  return { clear: [ConditionType.HooksReady], hooks: null };
}

/** A Secret the hooks need cannot be read: HooksReady False naming the field (never a value); status.hooks kept. */
export function hooksSecretMissingUpdate(message: string): StatusUpdate {
  return { set: [{ type: ConditionType.HooksReady, status: 'False', reason: Reason.GitLabSecretNotFound, message }] };
}

/** Deleting the link: removing its hooks failed, so its finalizer stays; the condition says why. */
export function hooksRemovalFailedUpdate(failed: readonly string[]): StatusUpdate {
  return {
    set: [
      {
        type: ConditionType.HooksReady,
        status: 'False',
        reason: Reason.HookRegistrationFailed,
        message: `the link is being deleted and its webhooks could not be removed; the finalizer stays until they are: ${listSome(failed)}`,
      },
    ],
  };
}
