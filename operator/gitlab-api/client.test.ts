import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { FakeGitLab } from '../testing/fake-gitlab.js';
import { GitLabClient } from './client.js';
import { RequestBudget } from './pacing.js';
import type { HookWrite } from '../gitlab/project-hooks.js';
import { GitLabApiError } from './types.js';

const TOKEN = 'glpat-operator-token-0123456789';

const write = (url: string): HookWrite => ({
  url,
  token: 'webhook-token-0123456789',
  push_events: true,
  tag_push_events: true,
  enable_ssl_verification: true,
  push_events_branch_filter: '',
});

describe('gitlab-api client against a fake GitLab', () => {
  let gitlab: FakeGitLab;
  let client: GitLabClient;
  let slept: number[];
  let responses: string[];
  let clock: number;

  const newClient = (over: Partial<ConstructorParameters<typeof GitLabClient>[0]> = {}) =>
    new GitLabClient({
      instanceURL: gitlab.url,
      token: TOKEN,
      budget: new RequestBudget(1000),
      onResponse: (endpoint, code) => responses.push(`${endpoint} ${code}`),
      now: () => clock,
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
      ...over,
    });

  beforeEach(async () => {
    gitlab = new FakeGitLab();
    await gitlab.start();
    gitlab.addProject('group/sub/app', { [TOKEN]: 40 });
    slept = [];
    responses = [];
    clock = 1_000_000;
    client = newClient();
  });
  afterEach(async () => {
    client.close();
    await gitlab.stop();
  });

  it('lists every hook across pages (250 hooks: 3 pages of at most 100), the project path URL-encoded', async () => {
    for (let i = 0; i < 250; i++) gitlab.addHook('group/sub/app', `https://example.com/h${i}`);
    const hooks = await client.listHooks('group/sub/app');
    expect(hooks.map((h) => h.url)).to.deep.equal(Array.from({ length: 250 }, (_, i) => `https://example.com/h${i}`));
    const gets = gitlab.requests.filter((r) => r.method === 'GET');
    expect(gets.map((r) => r.query['page'])).to.deep.equal(['1', '2', '3']);
    expect(gets.every((r) => r.query['per_page'] === '100')).to.equal(true);
    expect(responses).to.deep.equal(['GET /projects/:id/hooks 200', 'GET /projects/:id/hooks 200', 'GET /projects/:id/hooks 200']);
  });

  it('creates, updates and deletes; the token is sent and never returned', async () => {
    const created = await client.createHook('group/sub/app', write('https://hooks.example.com/hooks/a?fluxlink-link=u1'));
    expect(created.id).to.be.a('number');
    expect(JSON.stringify(created)).not.to.include('webhook-token');
    expect(gitlab.hooks('group/sub/app')[0]!.token).to.equal('webhook-token-0123456789');
    const updated = await client.updateHook('group/sub/app', created.id, {
      ...write(created.url),
      token: 'rotated-token-0123456789',
    });
    expect(updated.tag_push_events).to.equal(true);
    expect(gitlab.hooks('group/sub/app')[0]!.token).to.equal('rotated-token-0123456789');
    await client.deleteHook('group/sub/app', created.id);
    expect(gitlab.hooks('group/sub/app')).to.deep.equal([]);
    await client.deleteHook('group/sub/app', created.id); // gone already: fine
    expect(responses).to.include('DELETE /projects/:id/hooks/:hook_id 404');
  });

  it("401, 403 and 404 fail with the status and GitLab's message, never the token", async () => {
    gitlab.addProject('group/dev-only', { [TOKEN]: 30 });
    const bad = newClient({ token: 'glpat-wrong-token-xyz' });
    const errors: GitLabApiError[] = [];
    for (const call of [
      () => bad.listHooks('group/sub/app'),
      () => client.listHooks('group/dev-only'),
      () => client.listHooks('group/missing'),
      () => client.deleteHook('group/missing', 1),
    ]) {
      try {
        await call();
        expect.fail('expected an error');
      } catch (err) {
        expect(err).to.be.instanceOf(GitLabApiError);
        errors.push(err as GitLabApiError);
      }
    }
    bad.close();
    expect(errors.map((e) => e.status)).to.deep.equal([401, 403, 404, 404]);
    expect(errors.map((e) => e.message)).to.deep.equal([
      'GitLab API GET /projects/:id/hooks: 401 401 Unauthorized',
      'GitLab API GET /projects/:id/hooks: 403 403 Forbidden',
      'GitLab API GET /projects/:id/hooks: 404 404 Project Not Found',
      'GitLab API DELETE /projects/:id/hooks/:hook_id: 404 404 Project Not Found',
    ]);
    for (const e of errors) expect(`${e.message} ${e.stack}`).not.to.include('glpat-');
  });

  it('group hooks: the same calls under /groups/:id/hooks, the group path URL-encoded, counted by their own template', async () => {
    gitlab.addGroup('group/sub', { [TOKEN]: 50 });
    for (let i = 0; i < 120; i++) gitlab.addHook('group:group/sub', `https://example.com/g${i}`);
    expect(await client.listHooks('group:group/sub')).to.have.length(120);
    const created = await client.createHook('group:group/sub', write('https://hooks.example.com/hooks/a'));
    expect(created).to.include({ url: 'https://hooks.example.com/hooks/a', group_id: gitlab.groups.get('group/sub')!.id });
    await client.updateHook('group:group/sub', created.id, write('https://hooks.example.com/hooks/b'));
    expect(gitlab.hooks('group:group/sub').at(-1)).to.include({
      url: 'https://hooks.example.com/hooks/b',
      token: 'webhook-token-0123456789',
    });
    expect(await client.testHook('group:group/sub', created.id)).to.equal('delivered');
    expect(await client.recentHookFailures('group:group/sub', created.id)).to.equal(0);
    await client.deleteHook('group:group/sub', created.id);
    await client.deleteHook('group:group/sub', created.id); // gone already: 404 "404 Not found" is success
    expect(gitlab.hooks('group:group/sub')).to.have.length(120);
    expect(gitlab.requests[0]!.path).to.equal('/api/v4/groups/group%2Fsub/hooks');
    expect(responses).to.include.members([
      'GET /groups/:id/hooks 200',
      'POST /groups/:id/hooks 201',
      'PUT /groups/:id/hooks/:hook_id 200',
      'POST /groups/:id/hooks/:hook_id/test/:trigger 201',
      'GET /groups/:id/hooks/:hook_id/events 200',
      'DELETE /groups/:id/hooks/:hook_id 404',
    ]);
  });

  it('group hooks refused: not Owner 403, invisible group 404, GitLab Free (no such route) 404 — errors, not "gone"', async () => {
    gitlab.addGroup('group', { [TOKEN]: 40 });
    const status = async (call: Promise<unknown>) =>
      call.then(
        () => 0,
        (e: GitLabApiError) => `${e.status} ${e.message}`,
      );
    expect(await status(client.listHooks('group:group'))).to.equal('403 GitLab API GET /groups/:id/hooks: 403 403 Forbidden');
    expect(await status(client.listHooks('group:nope'))).to.equal('404 GitLab API GET /groups/:id/hooks: 404 404 Group Not Found');
    expect(await status(client.deleteHook('group:nope', 1))).to.match(/^404 .*Group Not Found$/);
    gitlab.freeTier = true;
    expect(await status(client.listHooks('group:group'))).to.equal('404 GitLab API GET /groups/:id/hooks: 404 404 Not Found');
    expect(await status(client.deleteHook('group:group', 1))).to.match(/^404 .*404 Not Found$/);
  });

  it('429: waits Retry-After, holds the following requests too, then retries', async () => {
    gitlab.throttle = { remaining: 2, retryAfter: '7' };
    const hooks = await client.listHooks('group/sub/app');
    expect(hooks).to.deep.equal([]);
    expect(slept).to.deep.equal([7000, 7000]);
    expect(responses).to.deep.equal(['GET /projects/:id/hooks 429', 'GET /projects/:id/hooks 429', 'GET /projects/:id/hooks 200']);
  });

  it('429 with a wait longer than it waits in place, or too many times: an error carrying the wait', async () => {
    gitlab.throttle = { remaining: 1, retryAfter: '3600' };
    try {
      await client.listHooks('group/sub/app');
      expect.fail('expected an error');
    } catch (err) {
      expect(err).to.be.instanceOf(GitLabApiError);
      expect((err as GitLabApiError).status).to.equal(429);
      expect((err as GitLabApiError).retryAfterMs).to.equal(3_600_000);
    }
    expect(slept).to.deep.equal([]);
    // The next call of this client waits for the hour GitLab asked for.
    await client.listHooks('group/sub/app');
    expect(slept).to.deep.equal([3_600_000]);
  });

  it("keeps to the link's budget: the 4th request in a minute waits", async () => {
    const budgeted = newClient({ budget: new RequestBudget(3) });
    for (let i = 0; i < 4; i++) await budgeted.listHooks('group/sub/app');
    budgeted.close();
    expect(slept).to.have.length(1);
    expect(slept[0]).to.equal(60_000);
  });

  it('test delivery: 201 delivered (re-enables), 422 refused; recent failures from the events API, undefined before 17.3', async () => {
    const ok = gitlab.addHook('group/sub/app', 'https://hooks.example.com/hooks/a');
    ok.alertStatus = 'disabled';
    ok.deliveries = [500, 200, 404, 201];
    const failing = gitlab.addHook('group/sub/app', 'https://hooks.example.com/hooks/b');
    failing.receiverAnswers = 'fail';
    expect(await client.testHook('group/sub/app', ok.id)).to.equal('delivered');
    expect(ok.alertStatus).to.equal('executable');
    expect(await client.testHook('group/sub/app', failing.id)).to.equal('refused');
    expect(await client.recentHookFailures('group/sub/app', ok.id)).to.equal(1); // the newest (500), before a 200
    gitlab.version.events = false;
    expect(await client.recentHookFailures('group/sub/app', ok.id)).to.equal(undefined);
  });

  it('branch head and tag commit: commit.id, names URL-encoded; a missing ref is undefined, a missing project an error', async () => {
    const p = gitlab.projects.get('group/sub/app')!;
    p.branches.set('feature/x', 'a'.repeat(40));
    p.tags.push({ name: 'v1.0.0', commit: 'b'.repeat(40) });
    expect(await client.branchHead('group/sub/app', 'feature/x')).to.equal('a'.repeat(40));
    expect(await client.tagCommit('group/sub/app', 'v1.0.0')).to.equal('b'.repeat(40));
    expect(await client.branchHead('group/sub/app', 'gone')).to.equal(undefined);
    expect(await client.tagCommit('group/sub/app', 'gone')).to.equal(undefined);
    expect(gitlab.requests[0]!.path).to.equal('/api/v4/projects/group%2Fsub%2Fapp/repository/branches/feature%2Fx');
    const err = await client.branchHead('group/other', 'main').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(GitLabApiError);
    expect((err as GitLabApiError).status).to.equal(404);
    expect(responses).to.include('GET /projects/:id/repository/branches/:branch 200');
    expect(responses).to.include('GET /projects/:id/repository/tags/:tag_name 404');
  });

  it('newest tag: one request ordered by update, newest first; undefined without tags', async () => {
    const p = gitlab.projects.get('group/sub/app')!;
    expect(await client.newestTag('group/sub/app')).to.equal(undefined);
    p.tags.push({ name: 'v1.0.0', commit: 'a'.repeat(40) }, { name: 'v0.9.9', commit: 'b'.repeat(40) });
    expect(await client.newestTag('group/sub/app')).to.deep.equal({ name: 'v0.9.9', commit: 'b'.repeat(40) });
    expect(gitlab.requests.at(-1)!.query).to.deep.equal({ order_by: 'updated', sort: 'desc', per_page: '1' });
    expect(responses.at(-1)).to.equal('GET /projects/:id/repository/tags 200');
  });

  it('recent failures are the failed deliveries since the last success: a hook answered 2xx again is not failing', async () => {
    const hook = gitlab.addHook('group/sub/app', 'https://hooks.example.com/hooks/a');
    hook.deliveries = [201, 500, 503, 404, 500]; // newest first: re-enabled by a test delivery after 4 failures
    expect(await client.recentHookFailures('group/sub/app', hook.id)).to.equal(0);
    hook.deliveries = [500, 404, 200, 500];
    expect(await client.recentHookFailures('group/sub/app', hook.id)).to.equal(2);
    hook.deliveries = [];
    expect(await client.recentHookFailures('group/sub/app', hook.id)).to.equal(0);
  });

  it('no answer: status 0, counted as error, without the token', async () => {
    const port = Number(new URL(gitlab.url).port);
    await gitlab.stop();
    const dead = new GitLabClient({
      instanceURL: `http://127.0.0.1:${port}`,
      token: TOKEN,
      budget: new RequestBudget(10),
      onResponse: (e, c) => responses.push(`${e} ${c}`),
    });
    try {
      await dead.listHooks('group/sub/app');
      expect.fail('expected an error');
    } catch (err) {
      expect((err as GitLabApiError).status).to.equal(0);
      expect((err as Error).message).to.match(/^GitLab API GET \/projects\/:id\/hooks: no answer/);
      expect((err as Error).message).not.to.include(TOKEN);
    }
    dead.close();
    expect(responses).to.deep.equal(['GET /projects/:id/hooks error']);
    await gitlab.start();
  });

  it("the link's CA bundle: a self-managed GitLab with a private CA is trusted by this client only", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxlink-ca-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
          '-days',
          '1',
          '-subj',
          '/CN=gitlab.test',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert }, (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Next-Page': '' });
        res.end('[]');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
      const trusting = new GitLabClient({ instanceURL: url, token: TOKEN, ca: cert, budget: new RequestBudget(10) });
      const plain = new GitLabClient({ instanceURL: url, token: TOKEN, budget: new RequestBudget(10) });
      try {
        expect(await trusting.listHooks('group/app')).to.deep.equal([]);
        const err = await plain.listHooks('group/app').then(
          () => undefined,
          (e: unknown) => e as GitLabApiError,
        );
        expect(err?.status).to.equal(0);
        expect(err?.message).to.match(/self[- ]signed/i);
      } finally {
        trusting.close();
        plain.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
