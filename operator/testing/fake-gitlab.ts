// An in-process fake of GitLab's project hooks API, on loopback, for unit tests of the GitLab client and the hooks
// controller. It follows GitLab's documented behaviour where the operator depends on it:
// - auth: PRIVATE-TOKEN or Authorization: Bearer; unknown token → 401 {"message":"401 Unauthorized"}
//   (lib/api/helpers.rb unauthorized!); a project the user cannot see → 404 {"message":"404 Project Not Found"};
//   seen but not Maintainer → 403 {"message":"403 Forbidden"} (authorize_admin_project, lib/api/project_hooks.rb).
// - offset pagination: page/per_page (default 20, max 100) and X-Page, X-Per-Page, X-Next-Page (empty on the last
//   page), X-Prev-Page, X-Total, X-Total-Pages and Link headers (lib/api/helpers/pagination.rb,
//   lib/gitlab/pagination/offset_header_builder.rb; docs api/rest/index.md "Pagination").
// - the hook entity (lib/api/entities/hook.rb, project_hook.rb): the token and signing token are write-only (never
//   returned; `token_present`/`signing_token_present` 19.0+); name/description only from 17.1;
//   alert_status/disabled_until 17.11+.
//   Editing the URL without sending a token clears the token (WebHooks: url change resets the token; docs
//   "project_webhooks.md": "token ... is reset when the URL changes").
// - POST …/hooks/:hook_id/test/push_events: 201 when the receiver answers 2xx (re-enables the hook), 422
//   otherwise; 5 a minute per project and user (17.1+, lib/api/hooks/test.rb check_rate_limit!(:web_hook_test,
//   scope: [hook.parent, current_user])) → 429.
// - GET …/hooks/:hook_id/events (17.3+): 404 on older versions.
// - 429 with Retry-After (seconds) when told to throttle (lib/gitlab/rack_attack.rb).
// - group hooks (ee/lib/api/group_hooks.rb; docs api/group_webhooks.md): the same under /groups/:id/hooks, the
//   entity with group_id; a group the token cannot see → 404 {"message":"404 Group Not Found"}, seen without the
//   Owner role (50) → 403 {"message":"403 Forbidden"} (authorize! :admin_web_hook); `freeTier`: no such route →
//   404 {"error":"404 Not Found"} (GitLab Free has no group hooks).
import http from 'node:http';
import { OTHER_EVENTS } from '../gitlab/project-hooks.js';

export interface FakeHook {
  id: number;
  url: string;
  token: string;
  signingToken: string;
  createdAt: string;
  fields: Record<string, unknown>;
  alertStatus: 'executable' | 'temporarily_disabled' | 'disabled';
  disabledUntil: string | null;
  /** What a test delivery gets from the receiver. */
  receiverAnswers: 'ok' | 'fail';
  /** Response statuses of recent deliveries, newest first. */
  deliveries: number[];
}

export interface FakeProject {
  id: number;
  path: string;
  hooks: FakeHook[];
  /** The access level of each token on this project: 40 Maintainer, 30 Developer; absent: cannot see it. */
  access: Map<string, number>;
  /** Branch name → head commit. */
  branches: Map<string, string>;
  /** Tags, oldest first (GitLab's `order_by=updated`: the last is the newest). */
  tags: Array<{ name: string; commit: string }>;
}

export interface FakeGitLabVersion {
  /** name/description on hooks (17.1+). */
  names: boolean;
  /** signing_token / signing_token_present (19.0+). */
  signing: boolean;
  /** alert_status / disabled_until (17.11+). */
  alertStatus: boolean;
  /** …/hooks/:id/events (17.3+). */
  events: boolean;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: Record<string, unknown>;
  status: number;
}

const BOOL_FIELDS = ['push_events', 'tag_push_events', 'enable_ssl_verification', ...OTHER_EVENTS];

export class FakeGitLab {
  readonly projects = new Map<string, FakeProject>();
  /** Groups by full path (only their hooks and access; a group's projects are the projects below its path). */
  readonly groups = new Map<string, FakeProject>();
  /** GitLab Free: /groups/:id/hooks does not exist. */
  freeTier = false;
  readonly requests: FakeRequest[] = [];
  version: FakeGitLabVersion = { names: true, signing: true, alertStatus: true, events: true };
  /** The next N requests are answered 429 with this Retry-After. */
  throttle = { remaining: 0, retryAfter: '1' };
  /** Answers to make an endpoint fail: `${method} ${projectPath}` → status. */
  readonly failures = new Map<string, number>();
  private nextProjectId = 1;
  private nextHookId = 1;
  /** `${project}\n${token}` → times of recent test deliveries. */
  private readonly tests = new Map<string, number[]>();
  private server?: http.Server;
  url = '';
  now = () => Date.now();

  addProject(path: string, access: Record<string, number>): FakeProject {
    const p: FakeProject = {
      id: this.nextProjectId++,
      path,
      hooks: [],
      access: new Map(Object.entries(access)),
      branches: new Map(),
      tags: [],
    };
    this.projects.set(path, p);
    return p;
  }

  /** A group; `access`: token → level (50 Owner). */
  addGroup(path: string, access: Record<string, number>): FakeProject {
    const g: FakeProject = {
      id: this.nextProjectId++,
      path,
      hooks: [],
      access: new Map(Object.entries(access)),
      branches: new Map(),
      tags: [],
    };
    this.groups.set(path, g);
    return g;
  }

  /** A hook made outside the operator (by a person, or an earlier run); `group:<path>` for a group's. */
  addHook(path: string, url: string, fields: Record<string, unknown> = {}, token = ''): FakeHook {
    const p = path.startsWith('group:') ? this.groups.get(path.slice(6))! : this.projects.get(path)!;
    const h: FakeHook = {
      id: this.nextHookId++,
      url,
      token,
      signingToken: '',
      createdAt: new Date(this.now() + this.nextHookId).toISOString(),
      fields: { push_events: true, tag_push_events: false, enable_ssl_verification: true, ...fields },
      alertStatus: 'executable',
      disabledUntil: null,
      receiverAnswers: 'ok',
      deliveries: [],
    };
    p.hooks.push(h);
    return h;
  }

  hooks(path: string): FakeHook[] {
    if (path.startsWith('group:')) return this.groups.get(path.slice(6))?.hooks ?? [];
    return this.projects.get(path)?.hooks ?? [];
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The hook as GET shows it (the entity): never a token. */
  entity(p: FakeProject, h: FakeHook): Record<string, unknown> {
    const e: Record<string, unknown> = {
      id: h.id,
      url: h.url,
      ...(this.groups.get(p.path) === p ? { group_id: p.id } : { project_id: p.id }),
      created_at: h.createdAt,
      push_events_branch_filter: h.fields['push_events_branch_filter'] ?? null,
      branch_filter_strategy: h.fields['branch_filter_strategy'] ?? 'wildcard',
      custom_webhook_template: h.fields['custom_webhook_template'] ?? null,
      url_variables: [],
    };
    for (const f of BOOL_FIELDS) e[f] = h.fields[f] === true;
    if (this.version.names) {
      e['name'] = h.fields['name'] ?? null;
      e['description'] = h.fields['description'] ?? null;
    }
    if (this.version.alertStatus) {
      e['alert_status'] = h.alertStatus;
      e['disabled_until'] = h.disabledUntil;
    }
    if (this.version.signing) {
      e['token_present'] = h.token !== '';
      e['signing_token_present'] = h.signingToken !== '';
    }
    return e;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      body = undefined;
    }
    const record: FakeRequest = { method: req.method ?? '', path: url.pathname, query, status: 0 };
    if (body !== undefined) record.body = body;
    this.requests.push(record);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    if (this.throttle.remaining > 0) {
      this.throttle.remaining--;
      return send(429, { message: 'Retry later' }, { 'Retry-After': this.throttle.retryAfter });
    }
    const auth = req.headers['private-token'] ?? (req.headers['authorization'] ?? '').replace(/^Bearer /, '');
    const token = Array.isArray(auth) ? auth[0]! : auth;
    const known = [...this.projects.values(), ...this.groups.values()].some((p) => p.access.has(token)) || token === 'no-projects-token';
    if (!token || !known) return send(401, { message: '401 Unauthorized' });

    const repo = /^\/api\/v4\/projects\/([^/]+)\/repository\/(branches|tags)(?:\/([^/]+))?$/.exec((req.url ?? '').split('?')[0]!);
    if (repo) return this.repository(send, token, query, decodeURIComponent(repo[1]!), repo[2]!, repo[3]);

    // /api/v4/{projects,groups}/:id/hooks[/:hook_id[/test/:trigger | /events]]; `:id` arrives URL-encoded (%2F).
    const m = /^\/api\/v4\/(projects|groups)\/([^/]+)\/hooks(?:\/([^/]+)(?:\/(test\/[a-z_]+|events))?)?$/.exec(
      (req.url ?? '').split('?')[0]!,
    );
    if (!m || (m[1] === 'groups' && this.freeTier)) return send(404, { error: '404 Not Found' });
    const id = decodeURIComponent(m[2]!);
    const isGroup = m[1] === 'groups';
    const project = [...(isGroup ? this.groups : this.projects).values()].find((p) => p.path === id || String(p.id) === id);
    if (!project || !project.access.has(token)) return send(404, { message: isGroup ? '404 Group Not Found' : '404 Project Not Found' });
    if ((project.access.get(token) ?? 0) < (isGroup ? 50 : 40)) return send(403, { message: '403 Forbidden' });
    const failure = this.failures.get(`${req.method} ${project.path}`);
    if (failure !== undefined) return send(failure, { message: `${failure} failure for the test` });

    const hookId = m[3] === undefined ? undefined : Number(m[3]);
    const hook = hookId === undefined ? undefined : project.hooks.find((h) => h.id === hookId);
    if (hookId !== undefined && !hook) return send(404, { message: '404 Not found' });

    if (m[4] === 'events') {
      if (!this.version.events) return send(404, { error: '404 Not Found' });
      return send(
        200,
        hook!.deliveries
          .slice(0, Number(query['per_page'] ?? 20))
          .map((s, i) => ({ id: i + 1, response_status: String(s), trigger: 'push_hooks' })),
      );
    }
    if (m[4]?.startsWith('test/')) {
      if (req.method !== 'POST') return send(405, { error: '405 Not Allowed' });
      const now = this.now();
      const scope = `${project.path}\n${token}`;
      const recent = (this.tests.get(scope) ?? []).filter((t) => t > now - 60_000);
      this.tests.set(scope, recent);
      if (recent.length >= 5)
        return send(429, { message: 'This endpoint has been requested too many times. Try again later.' }, { 'Retry-After': '60' });
      recent.push(now);
      if (hook!.receiverAnswers === 'fail') return send(422, { message: '[Hook execution failed]' });
      hook!.alertStatus = 'executable';
      hook!.disabledUntil = null;
      return send(201, { message: '201 Created' });
    }

    if (hook === undefined && req.method === 'GET') {
      const perPage = Math.min(Math.max(Number(query['per_page'] ?? 20) || 20, 1), 100);
      const page = Math.max(Number(query['page'] ?? 1) || 1, 1);
      const all = [...project.hooks].sort((a, b) => a.id - b.id);
      const pages = Math.max(Math.ceil(all.length / perPage), 1);
      const link = (n: number) => `<${this.url}/api/v4/${m[1]}/${project.id}/hooks?id=${project.id}&page=${n}&per_page=${perPage}>`;
      const links = [
        page > 1 ? `${link(page - 1)}; rel="prev"` : '',
        page < pages ? `${link(page + 1)}; rel="next"` : '',
        `${link(1)}; rel="first"`,
        `${link(pages)}; rel="last"`,
      ];
      return send(
        200,
        all.slice((page - 1) * perPage, page * perPage).map((h) => this.entity(project, h)),
        {
          'X-Page': String(page),
          'X-Per-Page': String(perPage),
          'X-Next-Page': page < pages ? String(page + 1) : '',
          'X-Prev-Page': page > 1 ? String(page - 1) : '',
          'X-Total': String(all.length),
          'X-Total-Pages': String(pages),
          Link: links.filter(Boolean).join(', '),
        },
      );
    }
    if (hook !== undefined && req.method === 'GET') return send(200, this.entity(project, hook));
    if (hook !== undefined && req.method === 'DELETE') {
      project.hooks = project.hooks.filter((h) => h !== hook);
      return send(204);
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      const b = body ?? {};
      if (req.method === 'POST' && typeof b['url'] !== 'string') return send(400, { error: 'url is missing' });
      if (b['url'] !== undefined && !/^https?:\/\/[^\s]+$/.test(String(b['url']))) return send(422, { error: 'Invalid url given' });
      const target =
        hook ?? this.addHook(`${isGroup ? 'group:' : ''}${project.path}`, String(b['url']), { push_events: true, tag_push_events: false });
      if (hook === undefined) target.fields = { push_events: true, enable_ssl_verification: true };
      if (b['url'] !== undefined && b['url'] !== target.url && b['token'] === undefined) target.token = '';
      if (b['url'] !== undefined) target.url = String(b['url']);
      if (typeof b['token'] === 'string') target.token = b['token'];
      if (this.version.signing && typeof b['signing_token'] === 'string') target.signingToken = b['signing_token'];
      for (const [k, v] of Object.entries(b)) {
        if (['url', 'token', 'signing_token'].includes(k)) continue;
        if ((k === 'name' || k === 'description') && !this.version.names) continue;
        target.fields[k] = v;
      }
      return send(hook === undefined ? 201 : 200, this.entity(project, target));
    }
    return send(405, { error: '405 Not Allowed' });
  }

  /**
   * Branches and tags (docs: api/branches.md, api/tags.md; lib/api/branches.rb, lib/api/tags.rb): a branch or tag by
   * name → `{name, commit: {id}}`, or 404 "404 Branch Not Found" / "404 Tag Not Found"; the tag list honours
   * `order_by=updated&sort=desc` and `per_page`. Reading the repository needs Reporter (20).
   */
  private repository(
    send: (status: number, payload?: unknown) => void,
    token: string,
    query: Record<string, string>,
    id: string,
    kind: string,
    name: string | undefined,
  ): void {
    const project = [...this.projects.values()].find((p) => p.path === id || String(p.id) === id);
    if (!project || !project.access.has(token)) return send(404, { message: '404 Project Not Found' });
    if ((project.access.get(token) ?? 0) < 20) return send(403, { message: '403 Forbidden' });
    const failure = this.failures.get(`GET ${project.path}`);
    if (failure !== undefined) return send(failure, { message: `${failure} failure for the test` });
    if (kind === 'branches' && name !== undefined) {
      const b = decodeURIComponent(name);
      const head = project.branches.get(b);
      return head === undefined ? send(404, { message: '404 Branch Not Found' }) : send(200, { name: b, commit: { id: head } });
    }
    if (kind === 'tags' && name !== undefined) {
      const t = project.tags.find((x) => x.name === decodeURIComponent(name));
      return t === undefined ? send(404, { message: '404 Tag Not Found' }) : send(200, { name: t.name, commit: { id: t.commit } });
    }
    if (kind === 'tags') {
      const newestFirst = query['order_by'] === 'updated' && query['sort'] === 'desc';
      const all = newestFirst ? [...project.tags].reverse() : [...project.tags];
      const perPage = Math.min(Math.max(Number(query['per_page'] ?? 20) || 20, 1), 100);
      return send(
        200,
        all.slice(0, perPage).map((t) => ({ name: t.name, commit: { id: t.commit } })),
      );
    }
    return send(404, { error: '404 Not Found' });
  }
}
