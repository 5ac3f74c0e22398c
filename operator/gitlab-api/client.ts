// A small typed client for the GitLab REST API calls the hooks controller makes (docs/adr/0013-gitlab-api-client.md
// says why it is not @gitbeaker/rest). One client per link: its token, its CA bundle, its request budget.
import http from 'node:http';
import https from 'node:https';
import { redactPaths } from '../meta/redact.js';
import { nextPage, redactToken, type RequestBudget, retryAfterMs } from './pacing.js';
import { hookParent } from '../gitlab/hook-parent.js';
import type { HookWrite, ProjectHook } from '../gitlab/project-hooks.js';
import { GitLabApiError, type GitLabApi, type GitLabRefs, type TagCommit, type TestResult } from './types.js';

export interface GitLabClientOptions {
  /** The instance URL (spec.gitlab.url), with its relative root if any; `/api/v4` is appended. */
  instanceURL: string;
  token: string;
  /** PEM bundle the instance's TLS certificate must chain to (replaces the system's CAs for this client). */
  ca?: string;
  budget: RequestBudget;
  /** Every answer (or `error` when none came), by endpoint template: the fluxlink_gitlab_api_requests_total series. */
  onResponse?: (endpoint: string, code: string) => void;
  /** Longest Retry-After waited for in place; a longer one fails the call with the wait in the error. */
  maxRateLimitWaitMs?: number;
  /** Attempts of one call that GitLab answers 429 (the first included). */
  maxAttempts?: number;
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Largest response read (a page of 100 hooks is about 100 KiB). */
const MAX_RESPONSE_BYTES = 8 << 20;
/** GitLab's largest page (lib/api/helpers/pagination.rb, max_per_page 100). */
const PER_PAGE = 100;
/** Hard stop for a paginated list: GitLab allows 100 hooks a project, so more pages than this is a loop. */
const MAX_PAGES = 50;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

const header = (h: http.IncomingHttpHeaders, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

export class GitLabClient implements GitLabApi, GitLabRefs {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** A 429's Retry-After holds every request of this client until then. */
  private blockedUntil = 0;

  constructor(private readonly o: GitLabClientOptions) {
    this.base = new URL(o.instanceURL.replace(/\/+$/, '') + '/api/v4/');
    const tls = this.base.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(o.ca ? { ca: o.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.now = o.now ?? (() => Date.now());
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Closes idle connections (a link deleted, or its token or CA rotated). */
  close(): void {
    this.agent.destroy();
  }

  async listHooks(parent: string): Promise<ProjectHook[]> {
    const at = hooksAt(parent);
    const hooks: ProjectHook[] = [];
    let page: number | undefined = 1;
    for (let n = 0; page !== undefined; n++) {
      if (n >= MAX_PAGES) throw new GitLabApiError(`GitLab listed more than ${MAX_PAGES} pages of hooks for ${parent}`, 0, at.endpoint);
      const a = await this.call('GET', at.endpoint, at.path, { page: String(page), per_page: String(PER_PAGE) });
      if (!Array.isArray(a.body))
        throw new GitLabApiError(
          `GitLab answered GET ${at.endpoint} for ${parent} with something other than a list`,
          a.status,
          at.endpoint,
        );
      hooks.push(...(a.body as ProjectHook[]));
      page = nextPage({ link: header(a.headers, 'link'), xNextPage: header(a.headers, 'x-next-page') });
    }
    return hooks;
  }

  async createHook(parent: string, hook: HookWrite): Promise<ProjectHook> {
    const at = hooksAt(parent);
    return (await this.call('POST', at.endpoint, at.path, undefined, hook)).body as ProjectHook;
  }

  async updateHook(parent: string, id: number, hook: HookWrite): Promise<ProjectHook> {
    const at = hooksAt(parent, id);
    return (await this.call('PUT', at.endpoint, at.path, undefined, hook)).body as ProjectHook;
  }

  async deleteHook(parent: string, id: number): Promise<void> {
    const at = hooksAt(parent, id);
    try {
      await this.call('DELETE', at.endpoint, at.path);
    } catch (err) {
      // The hook gone already: 404 "404 Not found" (ActiveRecord::RecordNotFound, lib/api/api.rb); a project or group
      // that is gone or not visible answers "404 Project Not Found" / "404 Group Not Found" (lib/api/helpers.rb
      // not_found!), an instance without group hooks Grape's "404 Not Found" (no such route).
      const gone = err instanceof GitLabApiError && err.status === 404 && !/(project|group) not found/i.test(err.message);
      if (gone && !/404 Not Found$/.test(err.message)) return;
      throw err;
    }
  }

  async testHook(parent: string, id: number): Promise<TestResult> {
    const at = hooksAt(parent, id, '/test/:trigger', '/test/push_events');
    try {
      await this.call('POST', at.endpoint, at.path);
      return 'delivered';
    } catch (err) {
      // 422: GitLab delivered the test and the receiver did not answer 2xx (lib/api/hooks/trigger_test.rb); for a
      // group GitLab tests with a project of the group that has commits (TestHooks::ProjectService on it).
      if (err instanceof GitLabApiError && err.status === 422) return 'refused';
      throw err;
    }
  }

  async recentHookFailures(parent: string, id: number): Promise<number | undefined> {
    const at = hooksAt(parent, id, '/events', '/events');
    try {
      const a = await this.call('GET', at.endpoint, at.path, { per_page: '20' });
      if (!Array.isArray(a.body)) return undefined;
      // Newest first (WebHookLog.recent orders by created_at desc): only the failures since the last 2xx count, so
      // a hook that answers again (a test delivery that re-enabled it included) is not reported failing for days.
      const events = a.body as Array<{ response_status?: unknown }>;
      const lastSuccess = events.findIndex((e) => /^2[0-9][0-9]$/.test(String(e.response_status ?? '')));
      return lastSuccess === -1 ? events.length : lastSuccess;
    } catch (err) {
      // Before 17.3 the endpoint does not exist: 404 without a hook message (the hook itself was just listed).
      if (err instanceof GitLabApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async branchHead(project: string, branch: string): Promise<string | undefined> {
    return this.refCommit(BRANCH, `projects/${enc(project)}/repository/branches/${enc(branch)}`, /branch not found/i);
  }

  async tagCommit(project: string, tag: string): Promise<string | undefined> {
    return this.refCommit(TAG, `projects/${enc(project)}/repository/tags/${enc(tag)}`, /tag not found/i);
  }

  async newestTag(project: string): Promise<TagCommit | undefined> {
    // order_by=updated (every GitLab version; `version` needs 15.x+ and is Flux's business anyway), newest first.
    const a = await this.call('GET', TAGS, `projects/${enc(project)}/repository/tags`, {
      order_by: 'updated',
      sort: 'desc',
      per_page: '1',
    });
    if (!Array.isArray(a.body))
      throw new GitLabApiError(`GitLab answered GET ${TAGS} for ${project} with something other than a list`, a.status, TAGS);
    const first = a.body[0] as { name?: unknown; commit?: { id?: unknown } } | undefined;
    if (first === undefined) return undefined;
    if (typeof first.name !== 'string' || typeof first.commit?.id !== 'string')
      throw new GitLabApiError(`GitLab answered GET ${TAGS} for ${project} with a tag without name or commit`, a.status, TAGS);
    return { name: first.name, commit: first.commit.id };
  }

  /**
   * A branch's or tag's `commit.id` (lib/api/entities/branch.rb, tag.rb). A missing ref answers 404 "404 Branch Not
   * Found" / "404 Tag Not Found" (lib/api/branches.rb, tags.rb not_found!); a missing project "404 Project Not Found".
   */
  private async refCommit(endpoint: string, path: string, missing: RegExp): Promise<string | undefined> {
    let a: Answer;
    try {
      a = await this.call('GET', endpoint, path);
    } catch (err) {
      if (err instanceof GitLabApiError && err.status === 404 && missing.test(err.message)) return undefined;
      throw err;
    }
    const id = (a.body as { commit?: { id?: unknown } } | undefined)?.commit?.id;
    if (typeof id !== 'string') throw new GitLabApiError(`GitLab answered GET ${endpoint} without commit.id`, a.status, endpoint);
    return id;
  }

  /** One call: the budget and any Retry-After waited for, 429 retried, the answer counted, errors without the token. */
  private async call(method: string, endpoint: string, path: string, query?: Record<string, string>, body?: unknown): Promise<Answer> {
    const maxAttempts = this.o.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      await this.pace();
      const label = `${method} ${endpoint}`;
      let answer: Answer;
      try {
        answer = await this.send(method, path, query, body);
      } catch (err) {
        this.o.onResponse?.(label, 'error');
        throw new GitLabApiError(this.clean(`GitLab API ${label}: no answer (${(err as Error).message})`), 0, label);
      }
      this.o.onResponse?.(label, String(answer.status));
      if (answer.status >= 200 && answer.status < 300) return answer;
      if (answer.status === 429) {
        const wait = retryAfterMs(header(answer.headers, 'retry-after'), this.now()) ?? 1000 * 2 ** attempt;
        this.blockedUntil = Math.max(this.blockedUntil, this.now() + wait);
        if (attempt < maxAttempts && wait <= (this.o.maxRateLimitWaitMs ?? 60_000)) continue;
        throw new GitLabApiError(`GitLab API ${label}: 429 rate limited (Retry-After ${Math.ceil(wait / 1000)} s)`, 429, label, wait);
      }
      throw new GitLabApiError(this.clean(`GitLab API ${label}: ${answer.status} ${gitlabMessage(answer.body)}`), answer.status, label);
    }
  }

  private async pace(): Promise<void> {
    for (;;) {
      const wait = Math.max(this.blockedUntil - this.now(), this.o.budget.waitMs(this.now()));
      if (wait <= 0) break;
      await this.sleep(wait);
    }
    this.o.budget.record(this.now());
  }

  private send(method: string, path: string, query: Record<string, string> | undefined, body: unknown): Promise<Answer> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.o.timeoutMs ?? 30_000,
          headers: {
            'PRIVATE-TOKEN': this.o.token,
            Accept: 'application/json',
            'User-Agent': 'gitlab-flux-link',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // not JSON (a proxy's error page): kept as text for the message
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.o.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private clean(text: string): string {
    return redactPaths(redactToken(text, [this.o.token]));
  }
}

/**
 * A project's or group's hooks (gitlab/hook-parent.ts): the endpoint template (what metrics and errors name) and the
 * path. Group hooks: `/groups/:id/hooks…` (docs api/group_webhooks.md; ee/lib/api/group_hooks.rb).
 */
function hooksAt(parent: string, id?: number, templateTail = '', pathTail = ''): { endpoint: string; path: string } {
  const p = hookParent(parent);
  const root = p.kind === 'group' ? 'groups' : 'projects';
  const hook = id === undefined ? '' : `/${id}`;
  return {
    endpoint: `/${root}/:id/hooks${id === undefined ? '' : '/:hook_id'}${templateTail}`,
    path: `${root}/${enc(p.path)}/hooks${hook}${pathTail}`,
  };
}
const BRANCH = '/projects/:id/repository/branches/:branch';
const TAG = '/projects/:id/repository/tags/:tag_name';
const TAGS = '/projects/:id/repository/tags';

/** A project or group path as GitLab's `:id` takes it: URL-encoded, `/` as %2F (docs: api/rest/index.md "Namespaced paths"). */
const enc = (project: string) => encodeURIComponent(project);

/** GitLab's error text: `{"message": …}` or `{"error": …}` (a string, or field → messages), bounded. */
function gitlabMessage(body: unknown): string {
  let m: unknown = body;
  if (body !== null && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    m = b['message'] ?? b['error'] ?? '';
  }
  const text = typeof m === 'string' ? m : JSON.stringify(m);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
