// Project hooks as GitLab stores, validates and shows them. Sources: lib/api/project_hooks.rb and
// lib/api/helpers/web_hooks_helpers.rb (parameters, `save_hook` errors), lib/api/entities/hook.rb and
// project_hook.rb (the JSON), app/models/concerns/web_hooks/hook.rb (url/token validation, the token reset when
// the URL changes, branch_filter_strategy), app/models/hooks/active_hook_filter.rb and app/models/ref_matcher.rb
// (which pushes a hook receives), the plan limit `project_hooks` (100), and doc/api/project_webhooks.md.
import { afterDelivery, alertStatus, type FailureState, HEALTHY } from './auto-disable.js';
import type { GitLabFeatures } from './gitlab-version.js';

export const MAX_HOOKS_PER_PROJECT = 100;

/** The boolean trigger fields a project hook takes and shows (lib/api/project_hooks.rb, entities/project_hook.rb). */
export const EVENT_FIELDS = [
  'push_events',
  'tag_push_events',
  'merge_requests_events',
  'repository_update_events',
  'issues_events',
  'confidential_issues_events',
  'note_events',
  'confidential_note_events',
  'pipeline_events',
  'wiki_page_events',
  'deployment_events',
  'feature_flag_events',
  'job_events',
  'releases_events',
  'milestone_events',
  'emoji_events',
  'resource_access_token_events',
  'resource_deploy_token_events',
] as const;
type EventField = (typeof EVENT_FIELDS)[number];
/** repository_update_events is for system hooks only: shown, never settable on a project hook. */
const SETTABLE_EVENTS = EVENT_FIELDS.filter((f) => f !== 'repository_update_events');

export type BranchFilterStrategy = 'wildcard' | 'regex' | 'all_branches';
const STRATEGIES: readonly BranchFilterStrategy[] = ['wildcard', 'regex', 'all_branches'];

/** One delivery attempt, as WebHookLog keeps it (app/models/hooks/web_hook_log.rb, entities/web_hook_log.rb). */
export interface HookLog {
  id: number;
  hookId: number;
  url: string;
  /** 'push_hooks' | 'tag_push_hooks' */
  trigger: string;
  /** The headers sent; X-Gitlab-Token as '[REDACTED]', signature headers left out. */
  requestHeaders: Record<string, string>;
  requestData: unknown;
  responseHeaders: Record<string, string>;
  responseBody: string;
  /** seconds */
  executionDuration: number;
  /** The HTTP status as a string, or 'internal error' when nothing answered. */
  responseStatus: string;
  createdAt: number;
}

export interface ProjectHook {
  id: number;
  /** 0 for a group hook. */
  projectId: number;
  /** A group hook's group (full path); absent on a project hook. */
  groupPath?: string;
  url: string;
  /** X-Gitlab-Token; write-only through the API. */
  token: string | null;
  /** Standard Webhooks signing key (19.0+); write-only through the API. */
  signingToken: string | null;
  name: string | null;
  description: string | null;
  createdAt: number;
  events: Record<EventField, boolean>;
  enableSslVerification: boolean;
  pushEventsBranchFilter: string | null;
  branchFilterStrategy: BranchFilterStrategy;
  customWebhookTemplate: string | null;
  failure: FailureState;
  logs: HookLog[];
}

/** An API answer for a rejected write: Grape's `{"error": ...}` (400) or the model's `{"message": ...}` (422). */
export interface Rejection {
  status: number;
  body: Record<string, unknown>;
}

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

function coerceBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v === 'string') return TRUE.has(v.toLowerCase()) ? true : FALSE.has(v.toLowerCase()) ? false : undefined;
  return undefined;
}

function coerceString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

const invalid = (name: string): Rejection => ({ status: 400, body: { error: `${name} is invalid` } });

/** public_url with local requests allowed (the test ground is loopback): an absolute http(s) URL with a host. */
export function validHookURL(url: string): boolean {
  if (url === '' || /\s/.test(url)) return false;
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * WebHooks::WildcardBranchFilterValidator accepts a branch name in which `*` may stand for anything; a
 * RE2-compatible regex (UntrustedRegexpValidator) for `regex`. RE2 has no look-around and no back-references.
 */
export function validBranchFilter(filter: string, strategy: BranchFilterStrategy): boolean {
  if (filter === '' || strategy === 'all_branches') return true;
  if (strategy === 'regex') {
    if (/\(\?<?[=!]|\\[1-9]/.test(filter)) return false;
    try {
      new RegExp(filter);
      return true;
    } catch {
      return false;
    }
  }
  const name = filter.replaceAll('*', 'x');
  // git check-ref-format's rules for a branch name.
  return !(
    /[\s~^:?[\\]/.test(name) ||
    [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) ||
    name.includes('..') ||
    name.includes('@{') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.') ||
    name.endsWith('.lock') ||
    name.startsWith('-') ||
    name === '@' ||
    name.split('/').some((s) => s === '' || s.startsWith('.'))
  );
}

/** ActiveHookFilter#matches_branch? with RefMatcher (wildcard) or an unanchored RE2 match (regex). */
export function branchFilterMatches(filter: string | null, strategy: BranchFilterStrategy, branch: string): boolean {
  if (filter === null || filter === '' || strategy === 'all_branches') return true;
  if (strategy === 'regex') {
    try {
      return new RegExp(filter).test(branch);
    } catch {
      return false;
    }
  }
  if (!filter.includes('*')) return branch === filter;
  const pattern = filter
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*?');
  return new RegExp(`^${pattern}$`, 's').test(branch);
}

/** Whether a push of `ref` fires this hook: Push Hook needs push_events and the branch filter, Tag Push Hook tag_push_events. */
export function hookWantsRef(hook: ProjectHook, ref: string): boolean {
  if (ref.startsWith('refs/tags/')) return hook.events.tag_push_events;
  if (!ref.startsWith('refs/heads/')) return false;
  return (
    hook.events.push_events && branchFilterMatches(hook.pushEventsBranchFilter, hook.branchFilterStrategy, ref.slice('refs/heads/'.length))
  );
}

/**
 * Applies the declared parameters of POST/PUT to a hook (a new one when `base` is undefined). Parameters this
 * version does not declare are ignored, as Grape's declared_params drops them.
 */
export function applyHookParams(
  base: ProjectHook | undefined,
  params: Record<string, unknown>,
  features: GitLabFeatures,
  fresh: { id: number; projectId: number; now: number },
): ProjectHook | Rejection {
  if (params.url === undefined || params.url === null) return { status: 400, body: { error: 'url is missing' } };
  const url = coerceString(params.url);
  if (url === undefined) return invalid('url');
  const hook: ProjectHook = base
    ? { ...base, events: { ...base.events } }
    : {
        id: fresh.id,
        projectId: fresh.projectId,
        url,
        token: null,
        signingToken: null,
        name: null,
        description: null,
        createdAt: fresh.now,
        // db/structure.sql: push_events defaults to true, every other trigger to false.
        events: Object.fromEntries(EVENT_FIELDS.map((f) => [f, f === 'push_events'])) as Record<EventField, boolean>,
        enableSslVerification: true,
        pushEventsBranchFilter: null,
        branchFilterStrategy: 'wildcard',
        customWebhookTemplate: null,
        failure: HEALTHY,
        logs: [],
      };
  for (const f of [...SETTABLE_EVENTS, 'enable_ssl_verification'] as const) {
    if (params[f] === undefined) continue;
    const b = coerceBoolean(params[f]);
    if (b === undefined) return invalid(f);
    if (f === 'enable_ssl_verification') hook.enableSslVerification = b;
    else hook.events[f] = b;
  }
  const text = (name: string): string | undefined | Rejection => {
    if (params[name] === undefined) return undefined;
    if (params[name] === null) return '';
    return coerceString(params[name]) ?? invalid(name);
  };
  const strategy = text('branch_filter_strategy');
  if (typeof strategy === 'object') return strategy;
  if (strategy !== undefined) {
    if (!STRATEGIES.includes(strategy as BranchFilterStrategy)) {
      return { status: 400, body: { error: 'branch_filter_strategy does not have a valid value' } };
    }
    hook.branchFilterStrategy = strategy as BranchFilterStrategy;
  }
  const filter = text('push_events_branch_filter');
  if (typeof filter === 'object') return filter;
  if (filter !== undefined) hook.pushEventsBranchFilter = filter;
  const token = text('token');
  if (typeof token === 'object') return token;
  const signingToken = features.signingToken ? text('signing_token') : undefined;
  if (typeof signingToken === 'object') return signingToken;
  for (const [name, on] of [
    ['name', features.hookNameDescription],
    ['description', features.hookNameDescription],
    ['custom_webhook_template', features.customWebhookTemplate],
  ] as const) {
    if (!on) continue;
    const v = text(name);
    if (typeof v === 'object') return v;
    if (v === undefined) continue;
    if (name === 'name') hook.name = v;
    else if (name === 'description') hook.description = v;
    else hook.customWebhookTemplate = v;
  }

  // reset_token: a changed URL drops the secret token unless this request sets one. The signing token is
  // treated the same way (a secret bound to the receiver).
  if (base && url !== base.url) {
    if (token === undefined) hook.token = null;
    if (signingToken === undefined) hook.signingToken = null;
  }
  hook.url = url;
  if (token !== undefined) hook.token = token === '' ? null : token;
  if (signingToken !== undefined) hook.signingToken = signingToken === '' ? null : signingToken;
  // set_branch_filter_nil: all_branches keeps no filter.
  if (hook.branchFilterStrategy === 'all_branches') hook.pushEventsBranchFilter = null;

  if (!validHookURL(hook.url)) return { status: 422, body: { message: 'Invalid url given' } };
  if (hook.pushEventsBranchFilter !== null && !validBranchFilter(hook.pushEventsBranchFilter, hook.branchFilterStrategy)) {
    return { status: 422, body: { message: 'Invalid branch filter given' } };
  }
  if (hook.token !== null && hook.token.includes('\n')) return { status: 422, body: { message: { token: ['is invalid'] } } };
  if (hook.customWebhookTemplate !== null && hook.customWebhookTemplate.length > 4096) {
    return { status: 422, body: { message: { custom_webhook_template: ['is too long (maximum is 4096 characters)'] } } };
  }
  return hook;
}

export function isRejection(v: ProjectHook | Rejection): v is Rejection {
  return (v as Rejection).status !== undefined && (v as ProjectHook).id === undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The JSON GitLab shows for a project hook (Entities::ProjectHook); never a token or signing token. */
export function renderHook(hook: ProjectHook, features: GitLabFeatures, now: number, autoDisabling: boolean): Record<string, unknown> {
  const e = hook.events;
  return {
    id: hook.id,
    url: hook.url,
    ...(features.hookNameDescription ? { name: hook.name, description: hook.description } : {}),
    created_at: iso(hook.createdAt),
    push_events: e.push_events,
    tag_push_events: e.tag_push_events,
    merge_requests_events: e.merge_requests_events,
    repository_update_events: e.repository_update_events,
    enable_ssl_verification: hook.enableSslVerification,
    alert_status: alertStatus(hook.failure, now, autoDisabling),
    disabled_until: autoDisabling && hook.failure.disabledUntil !== null ? iso(hook.failure.disabledUntil) : null,
    url_variables: [],
    push_events_branch_filter: hook.pushEventsBranchFilter,
    branch_filter_strategy: hook.branchFilterStrategy,
    ...(features.customWebhookTemplate ? { custom_webhook_template: hook.customWebhookTemplate } : {}),
    ...(features.customHeaders ? { custom_headers: [] } : {}),
    project_id: hook.projectId,
    issues_events: e.issues_events,
    confidential_issues_events: e.confidential_issues_events,
    note_events: e.note_events,
    confidential_note_events: e.confidential_note_events,
    pipeline_events: e.pipeline_events,
    wiki_page_events: e.wiki_page_events,
    deployment_events: e.deployment_events,
    feature_flag_events: e.feature_flag_events,
    job_events: e.job_events,
    releases_events: e.releases_events,
    milestone_events: e.milestone_events,
    emoji_events: e.emoji_events,
    resource_access_token_events: e.resource_access_token_events,
    resource_deploy_token_events: e.resource_deploy_token_events,
    ...(features.signingToken ? { token_present: hook.token !== null, signing_token_present: hook.signingToken !== null } : {}),
  };
}

/** Entities::WebHookLog. */
export function renderLog(log: HookLog): Record<string, unknown> {
  return {
    id: log.id,
    url: log.url,
    trigger: log.trigger,
    request_headers: log.requestHeaders,
    request_data: log.requestData,
    response_headers: log.responseHeaders,
    response_body: log.responseBody,
    execution_duration: log.executionDuration,
    response_status: log.responseStatus,
    created_at: iso(log.createdAt),
  };
}

export const EVENT_LOG_RETENTION_MS = 7 * 24 * 60 * 60_000;
const STATUS_CATEGORIES: Record<string, [number, number]> = {
  successful: [200, 299],
  client_failure: [400, 499],
  server_failure: [500, 599],
};

/**
 * The `status` filter of the events API: comma-separated HTTP codes and/or successful / client_failure /
 * server_failure. Undefined when absent; a Rejection for an unknown value (Grape's `values` check).
 */
export function parseStatusFilter(raw: string | null): ((status: string) => boolean) | undefined | Rejection {
  if (raw === null || raw === '') return undefined;
  const parts = raw.split(',').map((s) => s.trim());
  const tests: ((code: number) => boolean)[] = [];
  for (const p of parts) {
    const cat = STATUS_CATEGORIES[p];
    if (cat) tests.push((c) => c >= cat[0] && c <= cat[1]);
    else if (/^[1-5]\d\d$/.test(p)) tests.push((c) => c === Number(p));
    else return { status: 400, body: { error: 'status does not have a valid value' } };
  }
  return (status) => /^\d+$/.test(status) && tests.some((t) => t(Number(status)));
}

/** The hook's recent deliveries, newest first, within GitLab's 7 days. */
export function recentLogs(hook: ProjectHook, now: number, filter?: (status: string) => boolean): HookLog[] {
  return hook.logs
    .filter((l) => l.createdAt >= now - EVENT_LOG_RETENTION_MS && (!filter || filter(l.responseStatus)))
    .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
}

/** Records one delivery attempt and updates the failure state (WebHooks::LogExecutionService). */
export function recordExecution(hook: ProjectHook, log: HookLog, now: number, autoDisabling: boolean): void {
  hook.logs.push(log);
  const ok = /^[23]\d\d$/.test(log.responseStatus); // success? || redirection?
  hook.failure = afterDelivery(hook.failure, ok ? 'ok' : 'error', now, autoDisabling);
}
