// GitLab's REST API (v4) for the test ground: project and group hooks, their test/events/resend endpoints, branches,
// tags and the project itself, answered as the GitLab version in `features` would, with GitLab's
// authentication (PRIVATE-TOKEN or Authorization: Bearer), access levels, error bodies, pagination and rate
// limits. See README.md in this folder for the list of endpoints and their sources. The hooks stored here are
// the only ones the git server delivers pushes to (deliverPush).
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { matchRoute, type RouteName, type RouteSpec } from './api-routes.js';
import { executable } from './auto-disable.js';
import { AdjustableClock } from './clock.js';
import type { GitLabFeatures } from './gitlab-version.js';
import {
  applyHookParams,
  hookWantsRef,
  type HookLog,
  isRejection,
  MAX_HOOKS_PER_PROJECT,
  parseStatusFilter,
  type ProjectHook,
  recentLogs,
  recordExecution,
  type Rejection,
  renderHook,
  renderLog,
} from './hooks-store.js';
import { paginate, type PageRequest, parsePagination } from './pagination.js';
import { matchesSearch, orderTags, readBranches, readTags, renderBranch, renderTag } from './repository.js';
import { eventHeader, type HookProject, type WebhookTarget } from './webhook.js';

/** GitLab's access levels (doc/api/members.md#roles). */
export const ACCESS_LEVELS = { guest: 10, planner: 15, reporter: 20, developer: 30, maintainer: 40, owner: 50 } as const;
export type AccessLevelName = keyof typeof ACCESS_LEVELS;
const MAINTAINER = ACCESS_LEVELS.maintainer;
const OWNER = ACCESS_LEVELS.owner;
/** The plan limit `group_hooks` (app/models/plan_limits.rb; doc/api/group_webhooks.md: 50 a group). */
export const MAX_HOOKS_PER_GROUP = 50;

/**
 * The licence the instance runs under. `free`: GitLab Free, where ee/lib/api/group_hooks.rb is not there (the route
 * answers Grape's 404) and no group hook is ever executed (ee/app/models/ee/project.rb runs group hooks only when
 * `feature_available?(:group_webhooks)`); `premium`: Premium or Ultimate, group hooks on.
 */
export type GitLabTier = 'free' | 'premium';
const REPORTER = ACCESS_LEVELS.reporter;

export type TokenScope = 'api' | 'read_api';

export interface TokenOptions {
  /**
   * Project or group path → access level (name or GitLab's number). A project or group not listed is invisible to
   * the token (membership is not inherited here: a test lists what it means). Group hooks need `owner` on the group.
   */
  access: Record<string, AccessLevelName | number>;
  /** Default ['api']. `read_api` allows GET only; writes answer 403 insufficient_scope. */
  scopes?: TokenScope[];
  /** The user the token belongs to (rate limits are per user). Default: a new user per token. */
  username?: string;
}

/** One answered API request: what tests and benchmarks count. */
export interface ApiRequest {
  method: string;
  /** The route template (`/projects/:id/hooks/:hook_id`), or the raw path when no route matched. */
  route: string;
  /** 0 when the connection was dropped (an injected outage). */
  status: number;
  at: number;
  /** The Retry-After the answer carried (a 429's or 503's), in seconds: what a client must wait before its next request. */
  retryAfterSeconds?: number;
}

/** A fault the next matching requests get instead of their answer (before authentication, as a proxy would). */
export interface Fault {
  status: number;
  /** How many requests get it; default 1. */
  times?: number;
  method?: string;
  /** A route template, e.g. '/projects/:id/hooks'. Default: every route. */
  route?: string;
  /** Seconds, sent as Retry-After (429 and 503 default to 60). */
  retryAfter?: number;
}

/** What the API needs from the git server. */
export interface ApiDeps {
  baseURL: string;
  features: GitLabFeatures;
  env: NodeJS.ProcessEnv;
  projects(): Iterable<HookProject>;
  /** Posts one webhook and records it in the server's delivery list. */
  send(project: HookProject, target: SendTarget, event: string, payload: unknown): Promise<SendResult>;
  /** GitLab's sample data for the test endpoint (TestHooks::ProjectService), or why there is none. */
  samplePayload(
    project: HookProject,
    trigger: 'push_events' | 'tag_push_events',
  ): Promise<{ ref: string; payload: unknown } | { error: string }>;
}

/** Where and how one webhook goes. */
export interface SendTarget {
  url: string;
  /** X-Gitlab-Token; not sent when absent. */
  token?: string;
  /** Standard Webhooks signing key; no signature headers when absent. */
  signingKey?: string;
  /** X-Gitlab-Webhook-UUID: one per hook. */
  uuid: string;
  hookId?: number;
}

export interface SendResult {
  status: number | 'error';
  error?: string;
  responseBody: string;
  responseHeaders: Record<string, string>;
  /** The headers sent (secrets included): the emulator redacts before logging. */
  requestHeaders: Record<string, string>;
  durationMs: number;
}

/** A hook made by hand (the test's setWebhook), not through the API. */
export type HandMadeHook = WebhookTarget;

interface Token {
  value: string;
  username: string;
  scopes: TokenScope[];
  access: Map<string, number>;
  revoked: boolean;
}

class ApiError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
const notFound = (what: string) => new ApiError(404, { message: `404 ${what} Not Found` });
const RECORD_NOT_FOUND = () => new ApiError(404, { message: '404 Not found' }); // ActiveRecord::RecordNotFound
const TOO_MANY_TEST_REQUESTS = () =>
  new ApiError(429, { message: { error: 'This endpoint has been requested too many times. Try again later.' } }, { 'Retry-After': '60' });

const TRIGGERS = [
  'push_events',
  'tag_push_events',
  'issues_events',
  'confidential_issues_events',
  'note_events',
  'confidential_note_events',
  'merge_requests_events',
  'job_events',
  'pipeline_events',
  'wiki_page_events',
  'releases_events',
  'emoji_events',
  'resource_access_token_events',
];
const MAX_BODY_BYTES = 1 << 20;

/** Counts events in fixed windows (GitLab's ApplicationRateLimiter and Rack::Attack both use period buckets). */
class WindowCounter {
  #counts = new Map<string, { window: number; count: number }>();
  /** The events counted for `key` in the current window. */
  observed(key: string, periodMs: number, now: number): number {
    const entry = this.#counts.get(key);
    return entry && entry.window === Math.floor(now / periodMs) ? entry.count : 0;
  }

  /** Counts one more event for `key`; returns the seconds to wait when that exceeds `limit` in the window. */
  hit(key: string, limit: number, periodMs: number, now: number): number | undefined {
    const window = Math.floor(now / periodMs);
    const count = this.observed(key, periodMs, now) + 1;
    this.#counts.set(key, { window, count });
    if (count <= limit) return undefined;
    return Math.max(1, Math.ceil(((window + 1) * periodMs - now) / 1000));
  }
}

export class GitLabApi {
  readonly clock = new AdjustableClock();
  readonly features: GitLabFeatures;
  /** Every API request answered, in order. */
  readonly requests: ApiRequest[] = [];
  /** Events not sent because the hook was disabled (GitLab drops them; nothing is queued). */
  readonly droppedEvents: { projectId: number; hookId: number; ref: string; at: number }[] = [];
  #autoDisabling: boolean;
  #tier: GitLabTier = 'premium';
  #groupIds = new Map<string, number>();
  #hooks = new Map<number, ProjectHook>();
  #handMade = new Map<number, number>(); // project id → the hook id setWebhook manages
  #instanceHook: HandMadeHook | undefined;
  #hookUUIDs = new Map<string, string>();
  #tokens = new Map<string, Token>();
  #nextHookId = 1;
  #nextLogId = 1;
  #nextUser = 1;
  #requestsPerMinute: number | undefined;
  #faults: (Fault & { left: number })[] = [];
  #outage = false;
  #limits = new WindowCounter();

  constructor(private readonly deps: ApiDeps) {
    this.features = deps.features;
    this.#autoDisabling = deps.features.autoDisabling;
  }

  get apiURL(): string {
    return `${this.deps.baseURL}/api/v4`;
  }

  // ---- The test's controls ----

  /** Creates a personal access token with an access level per project path. */
  createToken(opts: TokenOptions): string {
    const value = `glpat-${randomUUID().replaceAll('-', '')}`;
    const access = new Map<string, number>();
    for (const [projectPath, level] of Object.entries(opts.access)) access.set(projectPath, toLevel(level));
    const scopes = opts.scopes ?? ['api'];
    if (scopes.length === 0 || scopes.some((s) => s !== 'api' && s !== 'read_api'))
      throw new Error(`unsupported scopes ${JSON.stringify(scopes)}`);
    this.#tokens.set(value, { value, username: opts.username ?? `user${this.#nextUser++}`, scopes, access, revoked: false });
    return value;
  }

  /** Changes (or, with undefined, removes) a token's access to one project. */
  setAccess(token: string, projectPath: string, level: AccessLevelName | number | undefined): void {
    const t = this.#mustToken(token);
    if (level === undefined) t.access.delete(projectPath);
    else t.access.set(projectPath, toLevel(level));
  }

  /** Revokes a token: it answers 401 from now on. */
  revokeToken(token: string): void {
    this.#mustToken(token).revoked = true;
  }

  /** The authenticated API's per-user limit (Rack::Attack throttle_authenticated_api); undefined: none. */
  setRateLimit(requestsPerMinute: number | undefined): void {
    if (requestsPerMinute !== undefined && !(Number.isInteger(requestsPerMinute) && requestsPerMinute > 0)) {
      throw new Error(`requestsPerMinute must be a positive integer (got ${requestsPerMinute})`);
    }
    this.#requestsPerMinute = requestsPerMinute;
  }

  /** Queues faults: the next matching requests get `status` (with Retry-After for 429/503) instead of an answer. */
  injectFaults(...faults: Fault[]): void {
    for (const f of faults) {
      if (!Number.isInteger(f.status) || f.status < 400 || f.status > 599)
        throw new Error(`a fault is a 4xx or 5xx status (got ${f.status})`);
      this.#faults.push({ ...f, left: f.times ?? 1 });
    }
  }

  /** While on, every API request has its connection dropped without an answer (the git side keeps working). */
  setOutage(on: boolean): void {
    this.#outage = on;
  }

  /** Free (no group hooks: 404, and none executed) or Premium/Ultimate (the default). */
  setTier(tier: GitLabTier): void {
    this.#tier = tier;
  }

  /** A group's hooks as the store holds them, tokens included: for assertions only (copies). */
  groupHooksOf(groupPath: string): ProjectHook[] {
    return this.#groupHooks(groupPath).map((h) => structuredClone(h));
  }

  /** Adds a group hook as an Owner would in GitLab's UI (not counted in the request log). Answers its id. */
  addGroupHook(groupPath: string, fields: Record<string, unknown>): number {
    if (!this.#groupExists(groupPath)) throw new Error(`unknown group ${groupPath}`);
    const hook = this.#createGroupHook(groupPath, fields);
    if (isRejection(hook)) throw new Error(`hook rejected: ${JSON.stringify(hook.body)}`);
    return hook.id;
  }

  /** GitLab's `auto_disabling_web_hooks` flag; on by default from 17.11 on. */
  setAutoDisabling(on: boolean): void {
    this.#autoDisabling = on;
  }

  /** Requests answered per route template (e.g. to count `GET /projects/:id/hooks`). */
  countRequests(filter: { method?: string; route?: string; status?: number } = {}): number {
    return this.requests.filter(
      (r) =>
        (filter.method === undefined || r.method === filter.method) &&
        (filter.route === undefined || r.route === filter.route) &&
        (filter.status === undefined || r.status === filter.status),
    ).length;
  }

  /**
   * A project's hooks as the store holds them, tokens included: for assertions only. Copies: changing them
   * changes nothing.
   */
  hooksOf(projectPath: string): ProjectHook[] {
    const project = this.#projectByPath(projectPath);
    return this.#projectHooks(project.id).map((h) => structuredClone(h));
  }

  /** The JSON GitLab would show for a hook (no secrets). */
  renderedHook(hook: ProjectHook): Record<string, unknown> {
    return renderHook(hook, this.features, this.clock.now(), this.#autoDisabling);
  }

  /**
   * Adds a hook as a user would in GitLab's UI (not counted in the request log). `fields` are the API's
   * parameters (`url`, `token`, `push_events`, ...). Answers the stored hook's id.
   */
  addHook(projectPath: string, fields: Record<string, unknown>): number {
    const project = this.#projectByPath(projectPath);
    const hook = this.#create(project, fields);
    if (isRejection(hook)) throw new Error(`hook rejected: ${JSON.stringify(hook.body)}`);
    return hook.id;
  }

  /**
   * The test's convenience (setWebhook): the project's one hand-made hook, created or replaced in place (same
   * id, failure state cleared, as a user re-saving a hook and re-enabling it), or deleted with undefined.
   * Without a project: the instance-wide hook every project without a hand-made hook of its own delivers to
   * (kind 'system' sends System Hook, as GitLab's system hooks do).
   */
  setHandMadeHook(target: HandMadeHook | undefined, projectPath?: string): void {
    if (target) {
      new URL(target.url); // fail at configuration time, not at the first push
      if (target.signingKey !== undefined && !this.features.signingToken) {
        throw new Error(`GitLab ${this.features.version} has no signing tokens (19.0+)`);
      }
    }
    if (projectPath === undefined) {
      this.#instanceHook = target && { ...target };
      return;
    }
    const project = this.#projectByPath(projectPath);
    const existing = this.#handMade.get(project.id);
    if (!target) {
      if (existing !== undefined) this.#hooks.delete(existing);
      this.#handMade.delete(project.id);
      return;
    }
    if (target.kind === 'system') throw new Error('a system hook belongs to the instance: call without a project');
    const fields = { url: target.url, token: target.token, push_events: true, tag_push_events: true, signing_token: target.signingKey };
    const base = existing !== undefined ? this.#hooks.get(existing) : undefined;
    const hook = applyHookParams(base && { ...base, failure: { recentFailures: 0, disabledUntil: null } }, fields, this.features, {
      id: this.#nextHookId,
      projectId: project.id,
      now: this.clock.now(),
    });
    if (isRejection(hook)) throw new Error(`hook rejected: ${JSON.stringify(hook.body)}`);
    if (!base) this.#nextHookId++;
    // Exactly as given: a replaced hook keeps nothing of the previous target's secrets.
    hook.token = target.token;
    hook.signingToken = target.signingKey ?? null;
    this.#hooks.set(hook.id, hook);
    this.#handMade.set(project.id, hook.id);
  }

  /** Whether a push to this project can reach any hook (so the server can skip building payloads). */
  hasHooks(projectId: number): boolean {
    const project = [...this.deps.projects()].find((p) => p.id === projectId);
    const groupHooks = project !== undefined && this.#ancestorGroupHooks(project.path).length > 0;
    return this.#projectHooks(projectId).length > 0 || groupHooks || (this.#instanceHook !== undefined && !this.#handMade.has(projectId));
  }

  /**
   * Delivers one ref change of a push to every hook of the project that wants it, in id order, then to the hooks
   * of the project's group and of every group above it (ee/app/models/ee/project.rb `execute_hooks`: the project's
   * hooks, then GroupHook.where(group_id: group.self_and_ancestors), Premium only), then to the instance-wide
   * hand-made hook where it applies. A disabled hook drops the event.
   */
  async deliverPush(project: HookProject, ref: string, payload: unknown): Promise<void> {
    const trigger = ref.startsWith('refs/tags/') ? 'tag_push_hooks' : 'push_hooks';
    for (const hook of [...this.#projectHooks(project.id), ...this.#ancestorGroupHooks(project.path)]) {
      if (!hookWantsRef(hook, ref)) continue;
      await this.#execute(project, hook, payload, trigger, false);
    }
    const instance = this.#instanceHook;
    if (instance && !this.#handMade.has(project.id)) {
      const uuid = this.#uuid(`instance ${instance.kind ?? 'project'} ${instance.url}`);
      await this.deps.send(
        project,
        { url: instance.url, token: instance.token, signingKey: instance.signingKey, uuid },
        eventHeader(ref, instance.kind),
        payload,
      );
    }
  }

  // ---- Serving ----

  /** Answers a request below /api/v4. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const apiPath = url.pathname.slice('/api/v4'.length) || '/';
    const match = matchRoute(method, apiPath, this.features);
    const template = match.kind === 'route' ? match.route.template : match.kind === 'method-not-allowed' ? match.template : apiPath;
    const log = (status: number, retryAfter?: string) =>
      this.requests.push({
        method,
        route: template,
        status,
        at: this.clock.now(),
        ...(retryAfter !== undefined && /^\d+$/.test(retryAfter) ? { retryAfterSeconds: Number(retryAfter) } : {}),
      });

    if (this.#outage) {
      log(0);
      req.socket.destroy();
      return;
    }
    let answer: { status: number; body: unknown; headers: Record<string, string> };
    try {
      answer = await this.#answer(req, url, method, match);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      answer = { status: err.status, body: err.body, headers: err.headers };
    }
    log(answer.status, answer.headers['Retry-After']);
    const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const type = typeof answer.body === 'string' ? 'text/plain' : 'application/json';
    res.writeHead(answer.status, { ...(text !== '' ? { 'Content-Type': type } : {}), ...answer.headers });
    res.end(text);
  }

  async #answer(
    req: http.IncomingMessage,
    url: URL,
    method: string,
    match: ReturnType<typeof matchRoute>,
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
    const template = match.kind === 'route' ? match.route.template : undefined;
    const fault = this.#faults.find(
      (f) => f.left > 0 && (f.method === undefined || f.method === method) && (f.route === undefined || f.route === template),
    );
    if (fault) {
      fault.left--;
      this.#faults = this.#faults.filter((f) => f.left > 0);
      const retry = fault.retryAfter ?? (fault.status === 429 || fault.status === 503 ? 60 : undefined);
      const body = fault.status === 429 ? 'Retry later\n' : { message: `${fault.status} ${STATUS_TEXT[fault.status] ?? 'Error'}` };
      return { status: fault.status, body, headers: retry !== undefined ? { 'Retry-After': String(retry) } : {} };
    }

    const token = this.#authenticate(req, url);
    if (token === 'invalid') throw new ApiError(401, { message: '401 Unauthorized' });

    // Rack::Attack throttles by user (authenticated) before the request reaches the API.
    if (this.#requestsPerMinute !== undefined && token) {
      const key = `api ${token.username}`;
      const wait = this.#limits.hit(key, this.#requestsPerMinute, 60_000, this.clock.now());
      if (wait !== undefined) {
        const reset = new Date(this.clock.now() + wait * 1000);
        return {
          status: 429,
          body: 'Retry later\n',
          headers: {
            'Retry-After': String(wait),
            'RateLimit-Name': 'throttle_authenticated_api',
            'RateLimit-Limit': String(this.#requestsPerMinute),
            'RateLimit-Observed': String(this.#limits.observed(key, 60_000, this.clock.now())),
            'RateLimit-Remaining': '0',
            'RateLimit-Reset': String(wait),
            'RateLimit-ResetTime': reset.toUTCString(),
          },
        };
      }
    }

    if (match.kind === 'not-found') throw new ApiError(404, { error: '404 Not Found' });
    if (match.kind === 'method-not-allowed') throw new ApiError(405, { error: '405 Not Allowed' });

    const { route, params } = match;
    const isHooks = route.name.startsWith('hooks.');
    if (isHooks && !token) throw new ApiError(401, { message: '401 Unauthorized' }); // before { authenticate! }
    if (token && !token.scopes.includes('api') && !(method === 'GET' && token.scopes.includes('read_api'))) {
      throw new ApiError(403, {
        error: 'insufficient_scope',
        error_description: 'The request requires higher privileges than provided by the access token.',
        scope: 'api',
      });
    }
    if (route.name.startsWith('group-hooks.')) return this.#groupRoute(req, url, method, route, params, token);
    const project = this.#visibleProject(params.id!, token);
    const level = token ? (token.access.get(project.path) ?? 0) : 0;
    if (isHooks && level < MAINTAINER) throw new ApiError(403, { message: '403 Forbidden' }); // authorize_admin_project
    if (route.name.startsWith('branches.') || route.name.startsWith('tags.')) {
      if (level < REPORTER) throw new ApiError(403, { message: '403 Forbidden' }); // read_code on a private project
    }
    const input = method === 'POST' || method === 'PUT' ? await readParams(req, url) : Object.fromEntries(url.searchParams);
    return this.#route(route, params, { url, project, token: token!, level, input });
  }

  async #route(
    route: RouteSpec,
    params: Record<string, string>,
    ctx: { url: URL; project: HookProject; token: Token; level: number; input: Record<string, unknown> },
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
    const { url, project, input } = ctx;
    const ok = (body: unknown, status = 200, headers: Record<string, string> = {}) => ({ status, body, headers });
    const now = this.clock.now();
    const render = (h: ProjectHook) => renderHook(h, this.features, now, this.#autoDisabling);
    const page = (items: readonly unknown[], req: PageRequest) => {
      const p = paginate(items, req, this.#publicURL(url));
      return ok(p.items, 200, p.headers);
    };
    const pagination = (strictMaxPerPage?: number) => {
      const p = parsePagination(url.searchParams, { strictMaxPerPage });
      if ('error' in p) throw new ApiError(400, p);
      return p;
    };
    const hook = () => {
      const id = integerParam(params.hook_id!, 'hook_id');
      const h = this.#hooks.get(id);
      if (!h || h.projectId !== project.id) throw RECORD_NOT_FOUND();
      return h;
    };
    const name: RouteName = route.name;
    switch (name) {
      case 'project':
        return ok(renderProject(project, this.deps.baseURL, ctx.level));
      case 'hooks.list':
        return page(this.#projectHooks(project.id).map(render), pagination());
      case 'hooks.create': {
        const created = this.#create(project, input);
        if (isRejection(created)) throw new ApiError(created.status, created.body);
        return ok(render(created), 201);
      }
      case 'hooks.get':
        return ok(render(hook()));
      case 'hooks.update': {
        const current = hook();
        const updated = applyHookParams(current, input, this.features, { id: current.id, projectId: project.id, now });
        if (isRejection(updated)) throw new ApiError(updated.status, updated.body);
        this.#hooks.set(updated.id, updated);
        return ok(render(updated));
      }
      case 'hooks.delete': {
        const h = hook();
        this.#hooks.delete(h.id);
        if (this.#handMade.get(project.id) === h.id) this.#handMade.delete(project.id);
        return ok(undefined, 204);
      }
      case 'hooks.test': {
        const h = hook();
        const trigger = params.trigger!;
        if (!TRIGGERS.includes(trigger)) throw new ApiError(400, { error: 'trigger does not have a valid value' });
        const limit = this.features.testRateLimit;
        if (limit) {
          const key = limit.scope === 'hook' ? `test hook ${h.id}` : `test ${project.id} ${ctx.token.username}`;
          if (this.#limits.hit(key, limit.limit, 60_000, now) !== undefined) throw TOO_MANY_TEST_REQUESTS();
        }
        if (trigger !== 'push_events' && trigger !== 'tag_push_events') {
          throw new ApiError(422, { message: 'Testing not available for this hook' }); // no such events in the test ground
        }
        const sample = await this.deps.samplePayload(project, trigger);
        if ('error' in sample) throw new ApiError(422, { message: sample.error });
        const result = await this.#execute(project, h, sample.payload, trigger === 'push_events' ? 'push_hooks' : 'tag_push_hooks', true);
        if (typeof result.status === 'number' && result.status >= 200 && result.status <= 299) return ok({ message: '201 Created' }, 201);
        throw new ApiError(422, { message: result.error ?? result.responseBody });
      }
      case 'hooks.events': {
        const h = hook();
        const req = pagination(20);
        const filter = parseStatusFilter(url.searchParams.get('status'));
        if (filter && typeof filter === 'object') throw new ApiError(filter.status, filter.body);
        return page(recentLogs(h, now, filter).map(renderLog), req);
      }
      case 'hooks.resend': {
        const h = hook();
        if (this.#limits.hit(`resend ${h.id} ${ctx.token.username}`, 5, 60_000, now) !== undefined) throw TOO_MANY_TEST_REQUESTS();
        const logId = integerParam(params.hook_log_id!, 'hook_log_id');
        const entry = h.logs.find((l) => l.id === logId);
        if (!entry) throw RECORD_NOT_FOUND();
        if (!executable(h.failure, now, this.#autoDisabling)) throw new ApiError(422, { message: 'Hook disabled' });
        const result = await this.#execute(project, h, entry.requestData, entry.trigger, false);
        if (result.status === 'error') throw new ApiError(422, { message: result.error ?? 'internal error' });
        return ok({ response_status: result.status }, 201);
      }
      case 'branches.list': {
        const req = pagination();
        const search = url.searchParams.get('search');
        const regex = url.searchParams.get('regex');
        let re: RegExp | undefined;
        try {
          re = regex ? new RegExp(regex) : undefined;
        } catch {
          throw new ApiError(400, { message: 'Regex is invalid' });
        }
        const branches = (await readBranches(project, this.deps.env)).filter(
          (b) => matchesSearch(b.name, search) && (!re || re.test(b.name)),
        );
        return page(
          branches.map((b) => renderBranch(b, project, ctx.level)),
          req,
        );
      }
      case 'branches.get': {
        const b = (await readBranches(project, this.deps.env)).find((x) => x.name === params.branch);
        if (!b) throw notFound('Branch');
        return ok(renderBranch(b, project, ctx.level));
      }
      case 'tags.list': {
        const req = pagination();
        const search = url.searchParams.get('search');
        const ordered = orderTags(
          (await readTags(project, this.deps.env)).filter((t) => matchesSearch(t.name, search)),
          url.searchParams.get('order_by'),
          url.searchParams.get('sort'),
        );
        if ('error' in ordered) throw new ApiError(400, ordered);
        return page(
          ordered.map((t) => renderTag(t, project)),
          req,
        );
      }
      case 'tags.get': {
        const t = (await readTags(project, this.deps.env)).find((x) => x.name === params.tag);
        if (!t) throw notFound('Tag');
        return ok(renderTag(t, project));
      }
      default: // the group hooks: #groupRoute
        throw new ApiError(404, { error: '404 Not Found' });
    }
  }

  /**
   * /groups/:id/hooks… (ee/lib/api/group_hooks.rb; doc/api/group_webhooks.md): `authenticate!`, then on GitLab Free
   * no such route (404 `{"error":"404 Not Found"}`), a group the token cannot see `404 Group Not Found`
   * (find_group!), below Owner `403 Forbidden` (authorize! :admin_web_hook, ee/app/policies/ee/group_policy.rb:
   * can?(:admin_group)). Then as a project's hooks, with the group entity and the plan limit of 50.
   */
  async #groupRoute(
    req: http.IncomingMessage,
    url: URL,
    method: string,
    route: RouteSpec,
    params: Record<string, string>,
    token: Token | undefined,
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
    if (!token) throw new ApiError(401, { message: '401 Unauthorized' });
    if (this.#tier === 'free') throw new ApiError(404, { error: '404 Not Found' });
    const group = this.#visibleGroup(params.id!, token);
    if ((token.access.get(group) ?? 0) < OWNER) throw new ApiError(403, { message: '403 Forbidden' });
    const input = method === 'POST' || method === 'PUT' ? await readParams(req, url) : Object.fromEntries(url.searchParams);
    const ok = (body: unknown, status = 200, headers: Record<string, string> = {}) => ({ status, body, headers });
    const now = this.clock.now();
    const render = (h: ProjectHook) => this.renderedGroupHook(h);
    const hook = () => {
      const id = integerParam(params.hook_id!, 'hook_id');
      const h = this.#hooks.get(id);
      if (!h || h.groupPath !== group) throw RECORD_NOT_FOUND();
      return h;
    };
    const pagination = (strictMaxPerPage?: number) => {
      const p = parsePagination(url.searchParams, { strictMaxPerPage });
      if ('error' in p) throw new ApiError(400, p);
      return p;
    };
    const page = (items: readonly unknown[], req: PageRequest) => {
      const p = paginate(items, req, this.#publicURL(url));
      return ok(p.items, 200, p.headers);
    };
    switch (route.name) {
      case 'group-hooks.list':
        return page(this.#groupHooks(group).map(render), pagination());
      case 'group-hooks.create': {
        const created = this.#createGroupHook(group, input);
        if (isRejection(created)) throw new ApiError(created.status, created.body);
        return ok(render(created), 201);
      }
      case 'group-hooks.get':
        return ok(render(hook()));
      case 'group-hooks.update': {
        const current = hook();
        const updated = applyHookParams(current, input, this.features, { id: current.id, projectId: 0, now });
        if (isRejection(updated)) throw new ApiError(updated.status, updated.body);
        updated.groupPath = group;
        this.#hooks.set(updated.id, updated);
        return ok(render(updated));
      }
      case 'group-hooks.delete':
        this.#hooks.delete(hook().id);
        return ok(undefined, 204);
      case 'group-hooks.test': {
        const h = hook();
        const trigger = params.trigger!;
        if (!TRIGGERS.includes(trigger)) throw new ApiError(400, { error: 'trigger does not have a valid value' });
        // Five a minute per group and user (doc/api/group_webhooks.md "Trigger a test group hook").
        if (this.#limits.hit(`test group ${group} ${token.username}`, 5, 60_000, now) !== undefined) throw TOO_MANY_TEST_REQUESTS();
        if (trigger !== 'push_events' && trigger !== 'tag_push_events')
          throw new ApiError(422, { message: 'Testing not available for this hook' });
        // A group's test uses one of its projects that has commits (the UI's "Ensure the group has a project with commits.").
        for (const project of this.#projectsIn(group)) {
          const sample = await this.deps.samplePayload(project, trigger);
          if ('error' in sample) continue;
          const result = await this.#execute(project, h, sample.payload, trigger === 'push_events' ? 'push_hooks' : 'tag_push_hooks', true);
          if (typeof result.status === 'number' && result.status >= 200 && result.status <= 299) return ok({ message: '201 Created' }, 201);
          throw new ApiError(422, { message: result.error ?? result.responseBody });
        }
        throw new ApiError(422, { message: 'Ensure the group has a project with commits.' });
      }
      case 'group-hooks.events': {
        const h = hook();
        const req = pagination(20);
        const filter = parseStatusFilter(url.searchParams.get('status'));
        if (filter && typeof filter === 'object') throw new ApiError(filter.status, filter.body);
        return page(recentLogs(h, now, filter).map(renderLog), req);
      }
      case 'group-hooks.resend': {
        const h = hook();
        if (this.#limits.hit(`resend ${h.id} ${token.username}`, 5, 60_000, now) !== undefined) throw TOO_MANY_TEST_REQUESTS();
        const entry = h.logs.find((l) => l.id === integerParam(params.hook_log_id!, 'hook_log_id'));
        if (!entry) throw RECORD_NOT_FOUND();
        if (!executable(h.failure, now, this.#autoDisabling)) throw new ApiError(422, { message: 'Hook disabled' });
        const project = this.#projectsIn(group).find((p) => p.id === (entry.requestData as { project_id?: number } | null)?.project_id);
        if (!project) throw RECORD_NOT_FOUND();
        const result = await this.#execute(project, h, entry.requestData, entry.trigger, false);
        if (result.status === 'error') throw new ApiError(422, { message: result.error ?? 'internal error' });
        return ok({ response_status: result.status }, 201);
      }
      default:
        throw new ApiError(404, { error: '404 Not Found' });
    }
  }

  /**
   * The JSON GitLab shows for a group hook (ee/lib/ee/api/entities/group_hook.rb; doc/api/group_webhooks.md): the
   * hook entity with `group_id` instead of `project_id`, the group triggers (subgroup_events, member_events), and
   * none of the project-only ones (milestone_events, resource_deploy_token_events).
   */
  renderedGroupHook(hook: ProjectHook): Record<string, unknown> {
    const e = renderHook(hook, this.features, this.clock.now(), this.#autoDisabling);
    delete e['project_id'];
    delete e['milestone_events'];
    delete e['resource_deploy_token_events'];
    return { ...e, group_id: this.#groupId(hook.groupPath!), subgroup_events: false, member_events: false };
  }

  #createGroupHook(group: string, input: Record<string, unknown>): ProjectHook | Rejection {
    const made = applyHookParams(undefined, input, this.features, { id: this.#nextHookId, projectId: 0, now: this.clock.now() });
    if (isRejection(made)) return made;
    if (this.#groupHooks(group).length >= MAX_HOOKS_PER_GROUP) {
      return { status: 422, body: { message: { base: [`Maximum number of group hooks (${MAX_HOOKS_PER_GROUP}) exceeded`] } } };
    }
    made.groupPath = group;
    this.#nextHookId++;
    this.#hooks.set(made.id, made);
    return made;
  }

  #groupHooks(group: string): ProjectHook[] {
    return [...this.#hooks.values()].filter((h) => h.groupPath === group).sort((a, b) => a.id - b.id);
  }

  /** The hooks of the project's group and of every group above it; none on GitLab Free. */
  #ancestorGroupHooks(projectPath: string): ProjectHook[] {
    if (this.#tier === 'free') return [];
    const segments = projectPath.split('/');
    const groups = new Set(segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/')));
    return [...this.#hooks.values()].filter((h) => h.groupPath !== undefined && groups.has(h.groupPath)).sort((a, b) => a.id - b.id);
  }

  /** A group exists here when some project lies below it (its path is a namespace of that project). */
  #groupExists(group: string): boolean {
    return this.#projectsIn(group).length > 0;
  }

  /** The projects in the group and its subgroups, in id order. */
  #projectsIn(group: string): HookProject[] {
    return [...this.deps.projects()].filter((p) => p.path.startsWith(`${group}/`)).sort((a, b) => a.id - b.id);
  }

  #groupId(group: string): number {
    let id = this.#groupIds.get(group);
    if (id === undefined) this.#groupIds.set(group, (id = this.#groupIds.size + 1));
    return id;
  }

  /** The group `:id` names (a number or a full path), if it exists and the token can see it; else GitLab's 404. */
  #visibleGroup(id: string, token: Token): string {
    let found: string | undefined;
    if (/^\d+$/.test(id)) found = [...this.#groupIds].find(([, n]) => n === Number(id))?.[0];
    else if (this.#groupExists(id)) found = id;
    if (found === undefined || !token.access.has(found)) throw notFound('Group');
    this.#groupId(found);
    return found;
  }

  // ---- Internals ----

  #create(project: HookProject, input: Record<string, unknown>): ProjectHook | Rejection {
    const made = applyHookParams(undefined, input, this.features, { id: this.#nextHookId, projectId: project.id, now: this.clock.now() });
    if (isRejection(made)) return made;
    if (this.#projectHooks(project.id).length >= MAX_HOOKS_PER_PROJECT) {
      return { status: 422, body: { message: { base: [`Maximum number of project hooks (${MAX_HOOKS_PER_PROJECT}) exceeded`] } } };
    }
    this.#nextHookId++;
    this.#hooks.set(made.id, made);
    return made;
  }

  /**
   * One delivery to a project hook (WebHookService#execute): dropped when the hook is not executable unless
   * forced (the test endpoint), logged (WebHookLog), and the failure state updated (LogExecutionService).
   */
  async #execute(project: HookProject, hook: ProjectHook, payload: unknown, trigger: string, force: boolean): Promise<SendResult> {
    const ref = (payload as { ref?: string } | null)?.ref ?? '';
    const now = this.clock.now();
    if (!force && !executable(hook.failure, now, this.#autoDisabling)) {
      this.droppedEvents.push({ projectId: project.id, hookId: hook.id, ref, at: now });
      return { status: 'error', error: 'Hook disabled', responseBody: '', responseHeaders: {}, requestHeaders: {}, durationMs: 0 };
    }
    const target: SendTarget = { url: hook.url, uuid: this.#uuid(`hook ${hook.id}`), hookId: hook.id };
    if (hook.token !== null) target.token = hook.token;
    if (this.features.signingToken && hook.signingToken !== null) target.signingKey = hook.signingToken;
    const event = trigger === 'tag_push_hooks' ? 'Tag Push Hook' : 'Push Hook';
    const result = await this.deps.send(project, target, event, payload);
    const requestHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(result.requestHeaders)) {
      if (/^webhook-(signature|id|timestamp)$/i.test(k)) continue; // never a signature in a log
      requestHeaders[k] = k.toLowerCase() === 'x-gitlab-token' ? '[REDACTED]' : v;
    }
    const log: HookLog = {
      id: this.#nextLogId++,
      hookId: hook.id,
      url: hook.url,
      trigger,
      requestHeaders,
      requestData: payload,
      responseHeaders: result.responseHeaders,
      responseBody: result.responseBody,
      executionDuration: result.durationMs / 1000,
      responseStatus: result.status === 'error' ? 'internal error' : String(result.status),
      createdAt: this.clock.now(),
    };
    // The hook may have been deleted or replaced while the request was out: update what is stored now.
    const stored = this.#hooks.get(hook.id);
    if (stored) recordExecution(stored, log, this.clock.now(), this.#autoDisabling);
    return result;
  }

  #uuid(key: string): string {
    let id = this.#hookUUIDs.get(key);
    if (!id) this.#hookUUIDs.set(key, (id = randomUUID()));
    return id;
  }

  #projectHooks(projectId: number): ProjectHook[] {
    return [...this.#hooks.values()].filter((h) => h.groupPath === undefined && h.projectId === projectId).sort((a, b) => a.id - b.id);
  }

  #projectByPath(projectPath: string): HookProject {
    for (const p of this.deps.projects()) if (p.path === projectPath) return p;
    throw new Error(`unknown project ${projectPath}`);
  }

  #mustToken(token: string): Token {
    const t = this.#tokens.get(token);
    if (!t) throw new Error('unknown token');
    return t;
  }

  /** undefined: no token sent; 'invalid': a token that is unknown or revoked. */
  #authenticate(req: http.IncomingMessage, url: URL): Token | 'invalid' | undefined {
    const header = req.headers['private-token'];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const value =
      (typeof header === 'string' ? header : undefined) ??
      bearer ??
      url.searchParams.get('private_token') ??
      url.searchParams.get('access_token') ??
      undefined;
    if (value === undefined) return undefined;
    const t = this.#tokens.get(value);
    return t && !t.revoked ? t : 'invalid';
  }

  /** The project `:id` names (a number or a full path), if the token can see it; else GitLab's 404. */
  #visibleProject(id: string, token: Token | undefined): HookProject {
    let found: HookProject | undefined;
    for (const p of this.deps.projects()) if ((/^\d+$/.test(id) && p.id === Number(id)) || p.path === id) found = p;
    if (!found || !token || !token.access.has(found.path)) throw notFound('Project');
    return found;
  }

  /** The request's URL as GitLab builds pagination links: on the instance's own host and port. */
  #publicURL(url: URL): URL {
    return new URL(url.pathname + url.search, this.deps.baseURL);
  }
}

const STATUS_TEXT: Record<number, string> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function toLevel(level: AccessLevelName | number): number {
  const n = typeof level === 'number' ? level : ACCESS_LEVELS[level];
  if (!Object.values(ACCESS_LEVELS).includes(n as never)) throw new Error(`unknown access level ${String(level)}`);
  return n;
}

function integerParam(raw: string, name: string): number {
  if (!/^\d+$/.test(raw)) throw new ApiError(400, { error: `${name} is invalid` });
  return Number(raw);
}

/** Query parameters and the body (JSON or form-encoded), as Grape merges them; the body wins. */
async function readParams(req: http.IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, { message: '413 Request Entity Too Large' });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  if (text.trim() === '') return params;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(400, { error: 'The provided JSON is invalid' });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ApiError(400, { error: 'The provided JSON is invalid' });
    return { ...params, ...(parsed as Record<string, unknown>) };
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') return { ...params, ...Object.fromEntries(new URLSearchParams(text)) };
  throw new ApiError(415, { error: `The provided content-type '${type}' is not supported.` });
}

/** Entities::Project (the fields a client of this test ground reads; all projects are private). */
function renderProject(p: HookProject, baseURL: string, level: number): Record<string, unknown> {
  const segments = p.path.split('/');
  const namespacePath = segments.slice(0, -1).join('/');
  return {
    id: p.id,
    description: null,
    name: segments.at(-1),
    name_with_namespace: segments.join(' / '),
    path: segments.at(-1),
    path_with_namespace: p.path,
    created_at: new Date(0).toISOString(),
    default_branch: p.defaultBranch,
    ssh_url_to_repo: p.sshURL,
    http_url_to_repo: p.cloneURL,
    web_url: p.webURL,
    visibility: 'private',
    archived: false,
    empty_repo: false,
    namespace: {
      id: 0,
      name: segments.at(-2),
      path: segments.at(-2),
      kind: 'group',
      full_path: namespacePath,
      web_url: `${baseURL}/groups/${namespacePath}`,
    },
    permissions: { project_access: { access_level: level, notification_level: 3 }, group_access: null },
  };
}
