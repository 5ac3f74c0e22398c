// The GitLab API emulator over real HTTP, with real pushes through the real git binary where deliveries are
// involved: only hooks registered in the emulator receive pushes.
import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { git, gitEnv } from './git-exec.js';
import { type GitServer, pushCommit, pushRefspecs, startGitServer } from './git-server.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, any>;
  path: string;
}

/** A webhook receiver on loopback that records every request and answers `status` (changeable). */
async function startReceiver(): Promise<{ url: string; requests: Received[]; status: number; close(): Promise<void> }> {
  const state = { status: 200 };
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      requests.push({ headers: req.headers, raw, body: JSON.parse(raw) as Record<string, any>, path: req.url ?? '' });
      res.writeHead(state.status, { 'Content-Type': 'text/plain' }).end(state.status < 300 ? 'ok' : 'receiver says no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    get status() {
      return state.status;
    },
    set status(s: number) {
      state.status = s;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  server: GitServer,
  method: string,
  apiPath: string,
  opts: { token?: string; bearer?: boolean; body?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers[opts.bearer ? 'Authorization' : 'PRIVATE-TOKEN'] = opts.bearer ? `Bearer ${opts.token}` : opts.token;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${server.apiURL}${apiPath}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* text/plain (Rack::Attack's "Retry later") */
  }
  return { status: res.status, headers: res.headers, body };
}

const P = 'group/sub/app';
const ENC = encodeURIComponent(P);

describe('e2e/gitlab API emulator (GitLab 19.0 by default)', function () {
  this.timeout(60_000);
  let tmp: string;
  let server: GitServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let maintainer: string;
  const api = (method: string, p: string, opts: { token?: string; bearer?: boolean; body?: unknown } = {}) =>
    call(server, method, p, { token: maintainer, ...opts });
  const remoteSha = async (ref: string) =>
    (await git(['ls-remote', `${server.baseURL}/${P}.git`, ref], { env: gitEnv(tmp) })).split('\t')[0]!;
  const deleteAllHooks = async () => {
    for (const h of server.gitlab.hooksOf(P)) expect((await api('DELETE', `/projects/${ENC}/hooks/${h.id}`)).status).to.equal(204);
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gfl-gitlab-api-'));
    server = await startGitServer({ root: path.join(tmp, 'root') });
    receiver = await startReceiver();
    await server.createProject(P);
    await server.createProject('other/proj');
    maintainer = server.gitlab.createToken({ access: { [P]: 'maintainer' } });
  });
  beforeEach(async () => {
    receiver.requests.length = 0;
    receiver.status = 200;
    await deleteAllHooks();
  });
  after(async () => {
    await server?.stop();
    await receiver?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('authentication, access and errors', () => {
    it('401 for no token (hooks), an unknown or a revoked token; 404 for a project the token cannot see', async () => {
      expect(await call(server, 'GET', `/projects/${ENC}/hooks`)).to.deep.include({ status: 401, body: { message: '401 Unauthorized' } });
      expect(await call(server, 'GET', `/projects/${ENC}`), 'a private project without a token').to.deep.include({
        status: 404,
        body: { message: '404 Project Not Found' },
      });
      expect((await call(server, 'GET', `/projects/${ENC}`, { token: 'glpat-nope' })).status).to.equal(401);
      const t = server.gitlab.createToken({ access: { [P]: 'maintainer' } });
      expect((await call(server, 'GET', `/projects/${ENC}`, { token: t, bearer: true })).status).to.equal(200);
      server.gitlab.revokeToken(t);
      expect(await call(server, 'GET', `/projects/${ENC}`, { token: t })).to.deep.include({
        status: 401,
        body: { message: '401 Unauthorized' },
      });
      expect(await api('GET', `/projects/${encodeURIComponent('other/proj')}/hooks`)).to.deep.include({
        status: 404,
        body: { message: '404 Project Not Found' },
      });
      expect((await api('GET', `/projects/999/hooks`)).status).to.equal(404);
    });

    it('403 below Maintainer for hooks, below Reporter for the repository; insufficient_scope for a read_api write', async () => {
      const dev = server.gitlab.createToken({ access: { [P]: 'developer' } });
      expect(await call(server, 'GET', `/projects/${ENC}/hooks`, { token: dev })).to.deep.include({
        status: 403,
        body: { message: '403 Forbidden' },
      });
      expect((await call(server, 'GET', `/projects/${ENC}/repository/branches/main`, { token: dev })).status).to.equal(200);
      const guest = server.gitlab.createToken({ access: { [P]: 10 } });
      expect((await call(server, 'GET', `/projects/${ENC}`, { token: guest })).status).to.equal(200);
      expect((await call(server, 'GET', `/projects/${ENC}/repository/branches/main`, { token: guest })).status).to.equal(403);
      server.gitlab.setAccess(guest, P, 'owner');
      expect((await call(server, 'GET', `/projects/${ENC}/hooks`, { token: guest })).status).to.equal(200);
      const reader = server.gitlab.createToken({ access: { [P]: 'maintainer' }, scopes: ['read_api'] });
      expect((await call(server, 'GET', `/projects/${ENC}/hooks`, { token: reader })).status).to.equal(200);
      const write = await call(server, 'POST', `/projects/${ENC}/hooks`, { token: reader, body: { url: receiver.url } });
      expect(write.status).to.equal(403);
      expect(write.body).to.include({ error: 'insufficient_scope', scope: 'api' });
      expect(() => server.gitlab.createToken({ access: { [P]: 35 } })).to.throw(/unknown access level/);
    });

    it('answers an unknown route 404 and a wrong method 405 with Grape bodies', async () => {
      expect(await api('GET', `/projects/${ENC}/hooks/1/nothing`)).to.deep.include({ status: 404, body: { error: '404 Not Found' } });
      expect(await api('PATCH', `/projects/${ENC}/hooks`)).to.deep.include({ status: 405, body: { error: '405 Not Allowed' } });
      expect(await api('GET', `/projects/${ENC}/hooks/abc`)).to.deep.include({ status: 400, body: { error: 'hook_id is invalid' } });
      expect(await api('GET', `/projects/${ENC}/hooks/424242`)).to.deep.include({ status: 404, body: { message: '404 Not found' } });
    });

    it('shows the project by numeric id or URL-encoded path', async () => {
      const byPath = await api('GET', `/projects/${ENC}`);
      const byId = await api('GET', `/projects/${server.getProject(P)!.id}`);
      expect(byPath.body).to.deep.equal(byId.body);
      expect(byPath.body).to.include({
        id: 1,
        path_with_namespace: P,
        default_branch: 'main',
        http_url_to_repo: `${server.baseURL}/${P}.git`,
      });
      expect(byPath.body.permissions.project_access.access_level).to.equal(40);
    });
  });

  describe('rate limits, injected faults and outages, the request log', () => {
    afterEach(() => server.gitlab.setRateLimit(undefined));

    it('answers 429 with Retry-After past the per-user limit, and again after the window', async () => {
      const t = server.gitlab.createToken({ access: { [P]: 'maintainer' } });
      server.gitlab.setRateLimit(3);
      server.gitlab.clock.advanceToNextMinute();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(server, 'GET', `/projects/${ENC}`, { token: t })).status);
      expect(statuses).to.deep.equal([200, 200, 200, 429]);
      const limited = await call(server, 'GET', `/projects/${ENC}`, { token: t });
      expect(limited.body).to.equal('Retry later\n');
      expect(Number(limited.headers.get('retry-after'))).to.be.within(55, 60);
      expect(limited.headers.get('ratelimit-limit')).to.equal('3');
      expect(limited.headers.get('ratelimit-observed'), 'the 5th request of the window').to.equal('5');
      expect(server.gitlab.requests.at(-1), 'the log keeps the wait the 429 asked for').to.include({
        status: 429,
        retryAfterSeconds: Number(limited.headers.get('retry-after')),
      });
      expect(server.gitlab.requests.at(-3), 'a 200 carries no wait').to.not.have.property('retryAfterSeconds');
      expect((await call(server, 'GET', `/projects/${ENC}`, { token: maintainer })).status, 'another user has its own budget').to.equal(
        200,
      );
      server.gitlab.clock.advance(60_000);
      expect((await call(server, 'GET', `/projects/${ENC}`, { token: t })).status).to.equal(200);
    });

    it('injects 429 / 5xx for matching requests, drops connections during an outage, and logs every request by route', async () => {
      const before = server.gitlab.requests.length;
      server.gitlab.injectFaults({ status: 429, retryAfter: 7, route: '/projects/:id/hooks', method: 'GET' }, { status: 502, times: 2 });
      const a = await api('GET', `/projects/${ENC}/hooks`);
      expect(a.status).to.equal(429);
      expect(a.headers.get('retry-after')).to.equal('7');
      expect((await api('GET', `/projects/${ENC}`)).status).to.equal(502);
      expect((await api('GET', `/projects/${ENC}/hooks`)).status).to.equal(502);
      expect((await api('GET', `/projects/${ENC}/hooks`)).status).to.equal(200);
      server.gitlab.setOutage(true);
      let failed: unknown;
      await api('GET', `/projects/${ENC}`).catch((e: unknown) => (failed = e));
      expect(failed, 'a dropped connection').to.be.instanceOf(Error);
      server.gitlab.setOutage(false);
      expect(server.gitlab.requests.slice(before).map((r) => `${r.method} ${r.route} ${r.status}`)).to.deep.equal([
        'GET /projects/:id/hooks 429',
        'GET /projects/:id 502',
        'GET /projects/:id/hooks 502',
        'GET /projects/:id/hooks 200',
        'GET /projects/:id 0',
      ]);
      expect(server.gitlab.requests.slice(before).map((r) => r.retryAfterSeconds)).to.deep.equal([
        7,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(server.gitlab.countRequests({ route: '/projects/:id/hooks', status: 200 })).to.be.greaterThan(0);
    });
  });

  describe('hooks CRUD', () => {
    it('creates, reads, updates and deletes a hook; never returns its token; resets it when the URL changes', async () => {
      const created = await api('POST', `/projects/${ENC}/hooks`, {
        body: { url: receiver.url, token: 'hook-secret', push_events: true, tag_push_events: true, name: 'mine', unknown_field: 1 },
      });
      expect(created.status).to.equal(201);
      expect(created.body).to.include({
        url: receiver.url,
        name: 'mine',
        push_events: true,
        tag_push_events: true,
        token_present: true,
        alert_status: 'executable',
      });
      expect(JSON.stringify(created.body)).not.to.include('hook-secret');
      const id = created.body.id as number;
      expect((await api('GET', `/projects/${ENC}/hooks/${id}`)).body).to.deep.equal(created.body);

      const edited = await api('PUT', `/projects/${ENC}/hooks/${id}`, {
        body: { url: `${receiver.url}?moved=1`, push_events_branch_filter: 'main' },
      });
      expect(edited.status).to.equal(200);
      expect(edited.body).to.include({ token_present: false, push_events_branch_filter: 'main' });
      await pushCommit(server, P, { files: { a: '1' } });
      await server.idle();
      expect(receiver.requests).to.have.length(1);
      expect(receiver.requests[0]!.headers['x-gitlab-token'], 'the token was reset with the URL').to.equal(undefined);
      expect(receiver.requests[0]!.path).to.equal('/hook?moved=1');

      expect((await api('PUT', `/projects/${ENC}/hooks/${id}`, { body: { push_events: false } })).body).to.deep.equal({
        error: 'url is missing',
      });
      expect(await api('PUT', `/projects/${ENC}/hooks/${id}`, { body: { url: 'gopher://x' } })).to.deep.include({
        status: 422,
        body: { message: 'Invalid url given' },
      });
      expect((await api('DELETE', `/projects/${ENC}/hooks/${id}`)).status).to.equal(204);
      expect((await api('DELETE', `/projects/${ENC}/hooks/${id}`)).status).to.equal(404);
    });

    it('paginates 25 hooks 20 per page by default, per_page up to 100, and refuses the 101st hook', async function () {
      for (let i = 0; i < 25; i++) server.gitlab.addHook(P, { url: `${receiver.url}?n=${i}`, push_events: false });
      const first = await api('GET', `/projects/${ENC}/hooks`);
      expect(first.body).to.have.length(20);
      expect(first.headers.get('x-total')).to.equal('25');
      expect(first.headers.get('x-total-pages')).to.equal('2');
      expect(first.headers.get('x-next-page')).to.equal('2');
      expect(first.headers.get('link')).to.include(`${server.apiURL}/projects/${ENC}/hooks?page=2&per_page=20>; rel="next"`);
      const second = await api('GET', `/projects/${ENC}/hooks?page=2`);
      expect(second.body.map((h: { url: string }) => h.url)).to.deep.equal([20, 21, 22, 23, 24].map((i) => `${receiver.url}?n=${i}`));
      expect(second.headers.get('x-next-page')).to.equal('');
      expect(second.headers.get('x-prev-page')).to.equal('1');
      for (let i = 25; i < 100; i++) server.gitlab.addHook(P, { url: `${receiver.url}?n=${i}`, push_events: false });
      expect((await api('GET', `/projects/${ENC}/hooks?per_page=500`)).body).to.have.length(100);
      expect(await api('POST', `/projects/${ENC}/hooks`, { body: { url: receiver.url } })).to.deep.include({
        status: 422,
        body: { message: { base: ['Maximum number of project hooks (100) exceeded'] } },
      });
    });
  });

  describe('deliveries go only to registered hooks', () => {
    it('a push reaches no one without a hook, then each registered hook with its token and signature', async () => {
      await pushCommit(server, P, { files: { none: '1' } });
      await server.idle();
      expect(receiver.requests, 'no hook registered').to.have.length(0);
      const signing = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
      const a = await api('POST', `/projects/${ENC}/hooks`, { body: { url: `${receiver.url}?a`, token: 'tok-a', signing_token: signing } });
      expect(a.body.signing_token_present).to.equal(true);
      const b = await api('POST', `/projects/${ENC}/hooks`, {
        body: { url: `${receiver.url}?b`, token: 'tok-b', push_events_branch_filter: 'release/*' },
      });
      const { sha } = await pushCommit(server, P, { files: { two: '1' } });
      await server.idle();
      expect(receiver.requests.map((r) => r.path)).to.deep.equal(['/hook?a'], 'b filters release/* only');
      const got = receiver.requests[0]!;
      expect(got.headers['x-gitlab-token']).to.equal('tok-a');
      expect(got.body).to.include({ after: sha, ref: 'refs/heads/main' });
      const id = got.headers['webhook-id'] as string;
      const ts = got.headers['webhook-timestamp'] as string;
      const mac = createHmac('sha256', Buffer.from('0123456789abcdef0123456789abcdef')).update(`${id}.${ts}.${got.raw}`).digest('base64');
      expect(got.headers['webhook-signature']).to.equal(`v1,${mac}`);
      expect(server.deliveries.at(-1)).to.include({ hookId: a.body.id, status: 200 });
      await pushCommit(server, P, { branch: 'release/1', files: { r: '1' } });
      await server.idle();
      expect(receiver.requests.slice(1).map((r) => [r.path, r.headers['x-gitlab-token']])).to.deep.equal([
        ['/hook?a', 'tok-a'],
        ['/hook?b', 'tok-b'],
      ]);
      expect(b.body.id).to.be.greaterThan(a.body.id);
    });

    it('tag pushes go to hooks with tag_push_events; more than 3 ref changes in one push send nothing', async () => {
      await api('POST', `/projects/${ENC}/hooks`, { body: { url: `${receiver.url}?branches`, push_events: true } });
      await api('POST', `/projects/${ENC}/hooks`, { body: { url: `${receiver.url}?tags`, push_events: false, tag_push_events: true } });
      await pushCommit(server, P, { files: { t: '1' }, tag: 'v1.0.0' });
      await server.idle();
      expect(receiver.requests.map((r) => [r.path, r.headers['x-gitlab-event']])).to.deep.equal([
        ['/hook?branches', 'Push Hook'],
        ['/hook?tags', 'Tag Push Hook'],
      ]);
      receiver.requests.length = 0;
      await pushRefspecs(server, P, ['HEAD:refs/heads/m1', 'HEAD:refs/heads/m2', 'HEAD:refs/heads/m3', 'HEAD:refs/heads/m4']);
      await server.idle();
      expect(receiver.requests).to.have.length(0);
    });

    it('setWebhook makes a hand-made hook visible through the API and replaces it in place', async () => {
      server.setWebhook({ url: `${receiver.url}?hand`, token: 'hand-secret', signingKey: 'hand-signing' }, P);
      expect(server.gitlab.hooksOf(P).map((h) => [h.token, h.signingToken])).to.deep.equal([['hand-secret', 'hand-signing']]);
      const listed = (await api('GET', `/projects/${ENC}/hooks`)).body as { id: number; url: string }[];
      expect(listed.map((h) => h.url)).to.deep.equal([`${receiver.url}?hand`]);
      server.setWebhook({ url: `${receiver.url}?hand2`, token: 'hand-secret-2' }, P);
      const again = (await api('GET', `/projects/${ENC}/hooks`)).body as { id: number; url: string }[];
      expect(again.map((h) => [h.id, h.url])).to.deep.equal([[listed[0]!.id, `${receiver.url}?hand2`]]);
      expect(
        server.gitlab.hooksOf(P).map((h) => [h.token, h.signingToken]),
        'nothing of the first target kept',
      ).to.deep.equal([['hand-secret-2', null]]);
      await pushCommit(server, P, { files: { h: '1' } });
      await server.idle();
      expect(receiver.requests.map((r) => r.headers['x-gitlab-token'])).to.deep.equal(['hand-secret-2']);
      server.setWebhook(undefined, P);
      expect((await api('GET', `/projects/${ENC}/hooks`)).body).to.deep.equal([]);
    });
  });

  describe('auto-disabling, the test endpoint, events and resend', () => {
    it('the 4th failed push disables the hook for 1 min; events fired meanwhile are dropped; a 2xx after the backoff re-enables', async () => {
      const id = (await api('POST', `/projects/${ENC}/hooks`, { body: { url: receiver.url, token: 't' } })).body.id as number;
      receiver.status = 500;
      for (let i = 0; i < 4; i++) await pushCommit(server, P, { files: { f: String(i) } });
      await server.idle();
      expect(receiver.requests).to.have.length(4);
      let hook = (await api('GET', `/projects/${ENC}/hooks/${id}`)).body;
      expect(hook.alert_status).to.equal('temporarily_disabled');
      const until = Date.parse(hook.disabled_until as string);
      expect(until - server.gitlab.clock.now()).to.be.within(55_000, 60_000);

      const dropped = server.gitlab.droppedEvents.length;
      await pushCommit(server, P, { files: { f: 'dropped' } });
      await server.idle();
      expect(receiver.requests, 'dropped while disabled').to.have.length(4);
      expect(server.gitlab.droppedEvents.length).to.equal(dropped + 1);

      server.gitlab.clock.advance(61_000);
      expect((await api('GET', `/projects/${ENC}/hooks/${id}`)).body.alert_status).to.equal('executable');
      await pushCommit(server, P, { files: { f: 'fails again' } });
      await server.idle();
      hook = (await api('GET', `/projects/${ENC}/hooks/${id}`)).body;
      expect(hook.alert_status).to.equal('temporarily_disabled');
      expect(Date.parse(hook.disabled_until as string) - server.gitlab.clock.now(), 'doubled').to.be.within(115_000, 120_000);

      receiver.status = 200;
      server.gitlab.clock.advance(121_000);
      await pushCommit(server, P, { files: { f: 'ok' } });
      await server.idle();
      hook = (await api('GET', `/projects/${ENC}/hooks/${id}`)).body;
      expect([hook.alert_status, hook.disabled_until]).to.deep.equal(['executable', null]);
      expect(receiver.requests).to.have.length(6);
    });

    it('the test endpoint: 201 on a 2xx (re-enabling a disabled hook), 422 otherwise, 5 a minute', async () => {
      const id = (await api('POST', `/projects/${ENC}/hooks`, { body: { url: receiver.url } })).body.id as number;
      receiver.status = 503;
      server.gitlab.clock.advanceToNextMinute();
      for (let i = 0; i < 4; i++) {
        expect(await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`)).to.deep.include({
          status: 422,
          body: { message: 'receiver says no' },
        });
      }
      expect((await api('GET', `/projects/${ENC}/hooks/${id}`)).body.alert_status).to.equal('temporarily_disabled');
      receiver.status = 200;
      expect(await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`)).to.deep.include({
        status: 201,
        body: { message: '201 Created' },
      });
      expect((await api('GET', `/projects/${ENC}/hooks/${id}`)).body.alert_status, 'a 2xx re-enables').to.equal('executable');
      expect(receiver.requests.at(-1)!.body).to.include({
        object_kind: 'push',
        ref: 'refs/heads/main',
        after: await remoteSha('refs/heads/main'),
      });
      const limited = await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`);
      expect(limited.status).to.equal(429);
      expect(limited.body).to.deep.equal({ message: { error: 'This endpoint has been requested too many times. Try again later.' } });
      expect(limited.headers.get('retry-after')).to.equal('60');
      expect(await api('POST', `/projects/${ENC}/hooks/${id}/test/no_such_events`)).to.deep.include({ status: 400 });
      server.gitlab.clock.advance(60_000);
      expect((await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`)).status).to.equal(201);
    });

    it('the 40th consecutive failure disables the hook for good; only a 2xx test delivery re-enables it', async () => {
      const id = (await api('POST', `/projects/${ENC}/hooks`, { body: { url: receiver.url } })).body.id as number;
      receiver.status = 500;
      const statuses: string[] = [];
      for (let i = 0; i < 40; i++) {
        server.gitlab.clock.advance(24 * 60 * 60_000 + 1000); // past any backoff and the rate-limit window
        expect((await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`)).status).to.equal(422);
        statuses.push((await api('GET', `/projects/${ENC}/hooks/${id}`)).body.alert_status as string);
      }
      expect(statuses.slice(0, 3)).to.deep.equal(['executable', 'executable', 'executable']);
      expect(new Set(statuses.slice(3, 39))).to.deep.equal(new Set(['temporarily_disabled']));
      expect(statuses[39]).to.equal('disabled');
      server.gitlab.clock.advance(30 * 24 * 60 * 60_000);
      receiver.status = 200;
      const before = receiver.requests.length;
      await pushCommit(server, P, { files: { gone: '1' } });
      await server.idle();
      expect(receiver.requests.length, 'a push to a disabled hook is dropped, a month later too').to.equal(before);
      expect((await api('POST', `/projects/${ENC}/hooks/${id}/test/push_events`)).status).to.equal(201);
      expect((await api('GET', `/projects/${ENC}/hooks/${id}`)).body).to.include({ alert_status: 'executable', disabled_until: null });
    });

    it('lists deliveries with a status filter and resends one', async () => {
      const id = (await api('POST', `/projects/${ENC}/hooks`, { body: { url: receiver.url, token: 'evt-secret' } })).body.id as number;
      await pushCommit(server, P, { files: { e: '1' } });
      await server.idle();
      receiver.status = 404;
      await pushCommit(server, P, { files: { e: '2' } });
      await server.idle();
      const all = await api('GET', `/projects/${ENC}/hooks/${id}/events`);
      expect(all.body.map((e: { response_status: string }) => e.response_status)).to.deep.equal(['404', '200']);
      expect(JSON.stringify(all.body)).not.to.include('evt-secret');
      expect(all.body[0].request_headers['X-Gitlab-Token']).to.equal('[REDACTED]');
      expect(all.body[0]).to.include({ trigger: 'push_hooks', url: receiver.url });
      const failures = await api('GET', `/projects/${ENC}/hooks/${id}/events?status=client_failure`);
      expect(failures.body).to.have.length(1);
      expect(failures.headers.get('x-total')).to.equal('1');
      expect((await api('GET', `/projects/${ENC}/hooks/${id}/events?per_page=50`)).status).to.equal(400);
      receiver.status = 200;
      const resent = await api('POST', `/projects/${ENC}/hooks/${id}/events/${failures.body[0].id}/resend`);
      expect(resent).to.deep.include({ status: 201, body: { response_status: 200 } });
      expect(receiver.requests.at(-1)!.body.after).to.equal(failures.body[0].request_data.after);
      expect((await api('GET', `/projects/${ENC}/hooks/${id}/events?status=200`)).body).to.have.length(2);
      server.gitlab.clock.advance(8 * 24 * 60 * 60_000);
      expect((await api('GET', `/projects/${ENC}/hooks/${id}/events`)).body, 'older than 7 days').to.deep.equal([]);
    });
  });

  describe('branches and tags from the real repository', () => {
    it('gets a branch by URL-encoded name with commit.id, lists branches, 404s unknown ones', async () => {
      const { sha } = await pushCommit(server, P, { branch: 'feature/x', files: { x: '1' } });
      const b = await api('GET', `/projects/${ENC}/repository/branches/${encodeURIComponent('feature/x')}`);
      expect(b.status).to.equal(200);
      expect(b.body).to.include({ name: 'feature/x', default: false, protected: false });
      expect(b.body.commit).to.include({ id: sha, short_id: sha.slice(0, 8) });
      expect((await api('GET', `/projects/${ENC}/repository/branches/main`)).body.commit.id).to.equal(await remoteSha('refs/heads/main'));
      expect(await api('GET', `/projects/${ENC}/repository/branches/nope`)).to.deep.include({
        status: 404,
        body: { message: '404 Branch Not Found' },
      });
      const list = await api('GET', `/projects/${ENC}/repository/branches?search=feature`);
      expect(list.body.map((x: { name: string }) => x.name)).to.deep.equal(['feature/x']);
      expect(list.headers.get('x-total')).to.equal('1');
    });

    it('gets a tag (annotated: target is the tag object, commit.id the commit) and lists tags ordered and searched', async () => {
      const { sha } = await pushCommit(server, P, { files: { v: '2' }, tag: 'v2.0.0', tagMessage: 'Release 2' });
      await pushCommit(server, P, { files: { v: '10' }, tag: 'v10.0.0' });
      const t = await api('GET', `/projects/${ENC}/repository/tags/v2.0.0`);
      expect(t.body).to.include({ name: 'v2.0.0', message: 'Release 2' });
      expect(t.body.commit.id).to.equal(sha);
      expect(t.body.target)
        .to.equal(await remoteSha('refs/tags/v2.0.0'))
        .and.not.equal(sha);
      expect(await api('GET', `/projects/${ENC}/repository/tags/v9`)).to.deep.include({
        status: 404,
        body: { message: '404 Tag Not Found' },
      });
      const byVersion = await api('GET', `/projects/${ENC}/repository/tags?order_by=version&sort=desc&search=%5Ev`);
      const names = byVersion.body.map((x: { name: string }) => x.name) as string[];
      expect(names.indexOf('v10.0.0')).to.be.lessThan(names.indexOf('v2.0.0'));
      expect((await api('GET', `/projects/${ENC}/repository/tags?order_by=size`)).status).to.equal(400);
    });
  });
});

describe('e2e/gitlab API emulator: group hooks (Premium; Free answers 404)', function () {
  this.timeout(60_000);
  let tmp: string;
  let server: GitServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let owner: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gfl-gitlab-groups-'));
    server = await startGitServer({ root: path.join(tmp, 'root') });
    receiver = await startReceiver();
    await server.createProject('top/sub/app');
    await server.createProject('top/lib');
    await server.createProject('other/tool');
    owner = server.gitlab.createToken({ access: { top: 'owner', 'top/sub': 'maintainer', 'top/sub/app': 'maintainer' } });
  });
  after(async () => {
    await server?.stop();
    await receiver?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('CRUD under /groups/:id/hooks with the group entity; Owner only (403), invisible or unknown group 404, 401 without a token', async () => {
    const made = await call(server, 'POST', '/groups/top/hooks', {
      token: owner,
      body: { url: `${receiver.url}?g`, token: 'tok-g', tag_push_events: true },
    });
    expect(made.status).to.equal(201);
    expect(made.body).to.include({
      url: `${receiver.url}?g`,
      push_events: true,
      tag_push_events: true,
      subgroup_events: false,
      member_events: false,
    });
    expect(made.body).to.have.property('group_id').that.is.a('number');
    expect(made.body).to.not.have.any.keys('project_id', 'token', 'milestone_events');
    const listed = await call(server, 'GET', '/groups/top/hooks', { token: owner });
    expect(listed.body.map((h: { id: number }) => h.id)).to.deep.equal([made.body.id]);
    expect(listed.headers.get('x-total')).to.equal('1');
    expect((await call(server, 'GET', `/groups/${made.body.group_id}/hooks/${made.body.id}`, { token: owner })).status).to.equal(200);
    const put = await call(server, 'PUT', `/groups/top/hooks/${made.body.id}`, { token: owner, body: { url: `${receiver.url}?g2` } });
    expect(put.body.url).to.equal(`${receiver.url}?g2`);
    expect(server.gitlab.groupHooksOf('top')[0]!.token, 'a changed URL without a token drops it').to.equal(null);
    expect(await call(server, 'GET', `/groups/${encodeURIComponent('top/sub')}/hooks`, { token: owner })).to.deep.include({
      status: 403,
      body: { message: '403 Forbidden' },
    });
    expect(await call(server, 'GET', '/groups/other/hooks', { token: owner })).to.deep.include({
      status: 404,
      body: { message: '404 Group Not Found' },
    });
    expect(await call(server, 'GET', '/groups/nope/hooks', { token: owner })).to.deep.include({
      status: 404,
      body: { message: '404 Group Not Found' },
    });
    expect((await call(server, 'GET', '/groups/top/hooks')).status).to.equal(401);
    expect((await call(server, 'DELETE', `/groups/top/hooks/${made.body.id}`, { token: owner })).status).to.equal(204);
    expect(await call(server, 'DELETE', `/groups/top/hooks/${made.body.id}`, { token: owner })).to.deep.include({
      status: 404,
      body: { message: '404 Not found' },
    });
    expect(server.gitlab.countRequests({ method: 'GET', route: '/groups/:id/hooks' })).to.be.greaterThan(0);
  });

  it('a push to a project in a subgroup reaches the hooks of every group above it, after its own; never on GitLab Free', async () => {
    const top = server.gitlab.addGroupHook('top', { url: `${receiver.url}?top`, token: 'tok-top' });
    const sub = server.gitlab.addGroupHook('top/sub', { url: `${receiver.url}?sub`, token: 'tok-sub' });
    server.gitlab.addHook('top/sub/app', { url: `${receiver.url}?project`, token: 'tok-p' });
    receiver.requests.length = 0;
    const { sha } = await pushCommit(server, 'top/sub/app', { files: { a: '1' } });
    await server.idle();
    expect(receiver.requests.map((r) => [r.path, r.headers['x-gitlab-token']])).to.deep.equal([
      ['/hook?project', 'tok-p'],
      ['/hook?top', 'tok-top'],
      ['/hook?sub', 'tok-sub'],
    ]);
    expect(receiver.requests.every((r) => r.body.after === sha && r.body.project.path_with_namespace === 'top/sub/app')).to.equal(true);
    await pushCommit(server, 'other/tool', { files: { a: '1' } });
    await server.idle();
    expect(receiver.requests, 'another group: none of these hooks').to.have.length(3);
    const events = await call(server, 'GET', `/groups/top/hooks/${top}/events`, { token: owner });
    expect(events.body.map((e: { response_status: string }) => e.response_status)).to.deep.equal(['200']);
    receiver.requests.length = 0;
    server.gitlab.setTier('free');
    await pushCommit(server, 'top/sub/app', { files: { a: '2' } });
    await server.idle();
    expect(receiver.requests.map((r) => r.path)).to.deep.equal(['/hook?project']);
    expect(await call(server, 'GET', '/groups/top/hooks', { token: owner })).to.deep.include({
      status: 404,
      body: { error: '404 Not Found' },
    });
    server.gitlab.setTier('premium');
    expect(sub).to.be.greaterThan(top);
  });

  it('the test endpoint delivers with a project of the group (5 a minute per group and user); at most 50 hooks a group', async () => {
    const before = server.gitlab.groupHooksOf('top').length;
    const id = server.gitlab.addGroupHook('top', { url: `${receiver.url}?test`, token: 't' });
    receiver.requests.length = 0;
    server.gitlab.clock.advanceToNextMinute();
    expect((await call(server, 'POST', `/groups/top/hooks/${id}/test/push_events`, { token: owner })).status).to.equal(201);
    expect(receiver.requests.map((r) => r.path)).to.deep.equal(['/hook?test']);
    expect(receiver.requests[0]!.body.project.path_with_namespace).to.be.oneOf(['top/sub/app', 'top/lib']);
    for (let i = 0; i < 4; i++) await call(server, 'POST', `/groups/top/hooks/${id}/test/push_events`, { token: owner });
    expect((await call(server, 'POST', `/groups/top/hooks/${id}/test/push_events`, { token: owner })).status).to.equal(429);
    for (let i = before + 1; i < 50; i++) server.gitlab.addGroupHook('top', { url: `${receiver.url}?n${i}` });
    expect(await call(server, 'POST', '/groups/top/hooks', { token: owner, body: { url: `${receiver.url}?51` } })).to.deep.include({
      status: 422,
      body: { message: { base: ['Maximum number of group hooks (50) exceeded'] } },
    });
  });
});

describe('e2e/gitlab API emulator as older GitLab', function () {
  this.timeout(60_000);
  let tmp: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gfl-gitlab-old-'));
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('16.10: hooks without name, no test/events endpoints, never auto-disabled, no signing token', async () => {
    const server = await startGitServer({ root: path.join(tmp, 'v16'), gitlabVersion: '16.10' });
    try {
      await server.createProject(P);
      const t = server.gitlab.createToken({ access: { [P]: 'maintainer' } });
      const created = await call(server, 'POST', `/projects/${ENC}/hooks`, {
        token: t,
        body: { url: receiver.url, token: 'x', name: 'ignored', signing_token: 'ignored' },
      });
      expect(created.status).to.equal(201);
      expect(created.body).not.to.have.any.keys('name', 'description', 'signing_token_present', 'token_present');
      const id = created.body.id as number;
      expect((await call(server, 'POST', `/projects/${ENC}/hooks/${id}/test/push_events`, { token: t })).status).to.equal(404);
      expect(await call(server, 'GET', `/projects/${ENC}/hooks/${id}/events`, { token: t })).to.deep.include({
        status: 404,
        body: { error: '404 Not Found' },
      });
      receiver.status = 500;
      receiver.requests.length = 0;
      for (let i = 0; i < 5; i++) await pushCommit(server, P, { files: { f: String(i) } });
      await server.idle();
      expect(receiver.requests, 'every push delivered: no auto-disabling before 17.11').to.have.length(5);
      expect(receiver.requests[0]!.headers['user-agent']).to.equal('GitLab/16.10.0');
      expect(receiver.requests[0]!.headers['webhook-signature']).to.equal(undefined);
      expect((await call(server, 'GET', `/projects/${ENC}/hooks/${id}`, { token: t })).body).to.include({
        alert_status: 'executable',
        disabled_until: null,
      });
      expect(() => server.setWebhook({ url: receiver.url, token: 'x', signingKey: 'k' }, P)).to.throw(/no signing tokens/);
    } finally {
      await server.stop();
    }
  });

  it('17.0: the test endpoint exists with 3 a minute per hook; 17.11 with the flag off never disables', async () => {
    const server = await startGitServer({ root: path.join(tmp, 'v17'), gitlabVersion: '17.0' });
    try {
      await server.createProject(P);
      const t = server.gitlab.createToken({ access: { [P]: 'maintainer' } });
      const id = (await call(server, 'POST', `/projects/${ENC}/hooks`, { token: t, body: { url: receiver.url, name: 'n' } })).body
        .id as number;
      receiver.status = 200;
      server.gitlab.clock.advanceToNextMinute();
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await call(server, 'POST', `/projects/${ENC}/hooks/${id}/test/push_events`, { token: t })).status);
      expect(statuses).to.deep.equal([201, 201, 201, 429]);
    } finally {
      await server.stop();
    }
    const flagOff = await startGitServer({ root: path.join(tmp, 'v1711'), gitlabVersion: '17.11' });
    try {
      await flagOff.createProject(P);
      flagOff.gitlab.setAutoDisabling(false);
      flagOff.gitlab.addHook(P, { url: receiver.url });
      receiver.status = 500;
      receiver.requests.length = 0;
      for (let i = 0; i < 5; i++) await pushCommit(flagOff, P, { files: { f: String(i) } });
      await flagOff.idle();
      expect(receiver.requests).to.have.length(5);
      expect(flagOff.gitlab.renderedHook(flagOff.gitlab.hooksOf(P)[0]!)).to.include({ alert_status: 'executable' });
    } finally {
      await flagOff.stop();
    }
  });
});
