import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { git, gitEnv } from './git-exec.js';
import { deleteRef, type GitServer, pushCommit, pushRefspecs, startGitServer, ZERO_SHA } from './git-server.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, any>;
}

/** A webhook receiver on loopback that records every request and answers 200. */
async function startReceiver(): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      requests.push({ headers: req.headers, raw, body: JSON.parse(raw) as Record<string, any> });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('e2e/gitlab git server', function () {
  // Real git pushes through git http-backend: seconds each when the 2 cores are busy.
  this.timeout(60_000);
  const TOKEN = 'test-secret-token';
  let tmp: string;
  let server: GitServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let env: NodeJS.ProcessEnv;
  const remoteSha = async (ref: string) => {
    const out = await git(['ls-remote', `${server.baseURL}/group/sub/app.git`, ref], { env });
    return out.split('\t')[0]!;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gfl-git-server-'));
    env = gitEnv(tmp);
    server = await startGitServer({ root: path.join(tmp, 'root') });
    receiver = await startReceiver();
    await server.createProject('group/sub/app');
  });

  beforeEach(() => {
    server.setWebhook({ url: receiver.url, token: TOKEN });
    receiver.requests.length = 0;
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('serves a nested project for clone over HTTP (protocol v0 and v2)', async () => {
    const project = server.getProject('group/sub/app')!;
    expect(project.id).to.equal(1);
    expect(project.cloneURL).to.equal(`${server.baseURL}/group/sub/app.git`);
    for (const version of ['0', '2']) {
      const dir = path.join(tmp, `clone-v${version}`);
      await git(['-c', `protocol.version=${version}`, 'clone', '--quiet', project.cloneURL, dir], { env });
      expect(await readFile(path.join(dir, 'README.md'), 'utf8')).to.equal('# group/sub/app\n');
      expect((await git(['rev-parse', 'HEAD'], { env, cwd: dir })).trim()).to.equal(await remoteSha('refs/heads/main'));
      expect((await git(['symbolic-ref', 'HEAD'], { env, cwd: dir })).trim()).to.equal('refs/heads/main');
    }
  });

  it('sends exactly one Push Hook with GitLab headers and payload on a real push', async () => {
    const before = await remoteSha('refs/heads/main');
    const { sha } = await pushCommit(server, 'group/sub/app', {
      message: 'Add app\n\nbody',
      files: { 'deploy/app.yaml': 'kind: X\n', 'README.md': 'changed\n' },
    });
    await server.idle();
    expect(await remoteSha('refs/heads/main')).to.equal(sha);
    expect(receiver.requests).to.have.length(1);
    const { headers, body } = receiver.requests[0]!;
    expect(headers['x-gitlab-event']).to.equal('Push Hook');
    expect(headers['x-gitlab-token']).to.equal(TOKEN);
    expect(headers['x-gitlab-instance']).to.equal(server.instanceURL);
    expect(headers['content-type']).to.equal('application/json');
    expect(headers['user-agent']).to.equal('GitLab/19.0.0'); // the default version
    expect(headers['x-gitlab-event-uuid']).to.match(/^[0-9a-f-]{36}$/);
    expect(headers['idempotency-key'])
      .to.match(/^[0-9a-f-]{36}$/)
      .and.not.equal(headers['x-gitlab-event-uuid']);
    expect(headers['webhook-signature']).to.equal(undefined);
    expect(body).to.include({
      object_kind: 'push',
      event_name: 'push',
      ref: 'refs/heads/main',
      before,
      after: sha,
      checkout_sha: sha,
      project_id: 1,
      total_commits_count: 1,
    });
    expect(body.project).to.include({
      id: 1,
      name: 'app',
      namespace: 'sub',
      path_with_namespace: 'group/sub/app',
      default_branch: 'main',
      web_url: `${server.baseURL}/group/sub/app`,
      git_http_url: `${server.baseURL}/group/sub/app.git`,
      git_ssh_url: 'git@127.0.0.1:group/sub/app.git',
    });
    expect(body.repository.git_http_url).to.equal(body.project.git_http_url);
    expect(body.commits).to.have.length(1);
    expect(body.commits[0]).to.deep.include({
      id: sha,
      message: 'Add app\n\nbody\n',
      title: 'Add app',
      url: `${server.baseURL}/group/sub/app/-/commit/${sha}`,
      added: ['deploy/app.yaml'],
      modified: ['README.md'],
      removed: [],
    });
    const last = server.deliveries.at(-1)!;
    expect(last).to.include({ project: 'group/sub/app', event: 'Push Hook', ref: 'refs/heads/main', status: 200 });
    expect(JSON.stringify(server.deliveries)).not.to.include(TOKEN);
  });

  it('keeps X-Gitlab-Webhook-UUID stable per hook and lists every commit of a multi-commit push', async () => {
    const first = await pushCommit(server, 'group/sub/app', { files: { a: '1' } });
    const dir = path.join(tmp, 'multi');
    await git(['clone', '--quiet', server.getProject('group/sub/app')!.cloneURL, dir], { env });
    for (const n of [1, 2, 3]) await git(['commit', '--quiet', '--allow-empty', '-m', `c${n}`], { env, cwd: dir });
    await git(['push', '--quiet', 'origin', 'HEAD:refs/heads/main'], { env, cwd: dir });
    await server.idle();
    expect(receiver.requests).to.have.length(2);
    const [a, b] = receiver.requests as [Received, Received];
    expect(a.headers['x-gitlab-webhook-uuid']).to.be.a('string').and.equal(b.headers['x-gitlab-webhook-uuid']);
    expect(a.headers['x-gitlab-event-uuid']).not.to.equal(b.headers['x-gitlab-event-uuid']);
    expect(b.body.before).to.equal(first.sha);
    expect(b.body.total_commits_count).to.equal(3);
    expect(b.body.commits.map((c: { title: string }) => c.title)).to.deep.equal(['c1', 'c2', 'c3']);
  });

  it('sends a Tag Push Hook for a tag push (annotated tag: after is the tag object, checkout_sha the commit)', async () => {
    const { sha } = await pushCommit(server, 'group/sub/app', { files: { v: '1' }, tag: 'v1.0.0', tagMessage: 'Release 1.0.0' });
    await server.idle();
    expect(receiver.requests.map((r) => r.headers['x-gitlab-event'])).to.deep.equal(['Push Hook', 'Tag Push Hook']);
    const tag = receiver.requests[1]!.body;
    expect(tag).to.include({
      object_kind: 'tag_push',
      event_name: 'tag_push',
      ref: 'refs/tags/v1.0.0',
      before: ZERO_SHA,
      checkout_sha: sha,
      message: 'Release 1.0.0',
      total_commits_count: 1,
    });
    expect(tag.after)
      .to.equal(await remoteSha('refs/tags/v1.0.0'))
      .and.not.equal(sha);
    expect(tag.commits.map((c: { id: string }) => c.id)).to.deep.equal([sha]);
  });

  it('reports a branch deletion with after = 40 zeros', async () => {
    const { sha } = await pushCommit(server, 'group/sub/app', { branch: 'feature/x', files: { f: 'x' } });
    await deleteRef(server, 'group/sub/app', 'feature/x');
    await server.idle();
    expect(await remoteSha('refs/heads/feature/x')).to.equal('');
    expect(receiver.requests).to.have.length(2);
    const created = receiver.requests[0]!.body;
    expect(created).to.include({ ref: 'refs/heads/feature/x', before: ZERO_SHA, after: sha, total_commits_count: 1 });
    const deleted = receiver.requests[1]!.body;
    expect(deleted).to.include({
      object_kind: 'push',
      ref: 'refs/heads/feature/x',
      before: sha,
      after: ZERO_SHA,
      checkout_sha: null,
      total_commits_count: 0,
    });
    expect(deleted.commits).to.deep.equal([]);
  });

  it('sends System Hook for a system-kind target, with the push payload', async () => {
    server.setWebhook({ url: receiver.url, token: 'system-token', kind: 'system' });
    const { sha } = await pushCommit(server, 'group/sub/app', { files: { s: '1' } });
    await server.idle();
    expect(receiver.requests).to.have.length(1);
    expect(receiver.requests[0]!.headers['x-gitlab-event']).to.equal('System Hook');
    expect(receiver.requests[0]!.headers['x-gitlab-token']).to.equal('system-token');
    expect(receiver.requests[0]!.body).to.include({ event_name: 'push', object_kind: 'push', after: sha });
  });

  it('signs with Standard Webhooks headers (whsec_ base64 key and raw key)', async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    for (const [signingKey, keyBytes] of [
      [`whsec_${secret.toString('base64')}`, secret],
      ['plain-raw-key', Buffer.from('plain-raw-key')],
    ] as const) {
      receiver.requests.length = 0;
      server.setWebhook({ url: receiver.url, token: TOKEN, signingKey });
      await pushCommit(server, 'group/sub/app', { files: { signed: signingKey } });
      await server.idle();
      expect(receiver.requests).to.have.length(1);
      const { headers, raw } = receiver.requests[0]!;
      const id = headers['webhook-id'] as string;
      const ts = headers['webhook-timestamp'] as string;
      expect(id).to.equal(headers['x-gitlab-event-uuid']);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).to.be.lessThan(60);
      const expected = createHmac('sha256', keyBytes).update(`${id}.${ts}.${raw}`).digest('base64');
      expect(headers['webhook-signature']).to.equal(`v1,${expected}`);
      const wrong = createHmac('sha256', 'other').update(`${id}.${ts}.${raw}`).digest('base64');
      expect(headers['webhook-signature']).not.to.equal(`v1,${wrong}`);
    }
  });

  it('sends no webhook when a push creates more than 3 branches (GitLab limit), but does push them', async () => {
    await pushRefspecs(server, 'group/sub/app', ['HEAD:refs/heads/b1', 'HEAD:refs/heads/b2', 'HEAD:refs/heads/b3', 'HEAD:refs/heads/b4']);
    await server.idle();
    expect(await remoteSha('refs/heads/b4')).to.match(/^[0-9a-f]{40}$/);
    expect(receiver.requests).to.have.length(0);
    // The limit is per ref kind and action, as in GitLab: 3 branches + 1 tag in one push still send 4 hooks.
    await pushRefspecs(server, 'group/sub/app', ['HEAD:refs/heads/c1', 'HEAD:refs/heads/c2', 'HEAD:refs/heads/c3', 'HEAD:refs/tags/t1']);
    await server.idle();
    expect(receiver.requests.map((r) => r.body.ref)).to.deep.equal(['refs/heads/c1', 'refs/heads/c2', 'refs/heads/c3', 'refs/tags/t1']);
  });

  it('uses a per-project target over the global one and records failed deliveries', async () => {
    await server.createProject('other/proj');
    server.setWebhook({ url: 'http://127.0.0.1:1/hook', token: 'x' }, 'other/proj');
    const before = server.deliveries.length;
    await pushCommit(server, 'other/proj', { files: { o: '1' } });
    await server.idle();
    expect(receiver.requests).to.have.length(0);
    expect(server.deliveries.slice(before)).to.have.length(1);
    expect(server.deliveries.at(-1)).to.include({ project: 'other/proj', status: 'error' });
    expect(server.deliveries.at(-1)!.error).to.match(/ECONNREFUSED/);
    server.setWebhook(undefined, 'other/proj'); // back to the global target
    await pushCommit(server, 'other/proj', { files: { o: '2' } });
    await server.idle();
    expect(receiver.requests).to.have.length(1);
    expect(receiver.requests[0]!.body.project).to.include({ id: 2, path_with_namespace: 'other/proj', namespace: 'other' });
  });

  it('accepts a gzip-encoded upload-pack request (as git sends for large negotiations)', async () => {
    // A protocol v0 fetch request in pkt-lines: want <sha>, flush, done. The server answers NAK and a pack.
    const want = `want ${await remoteSha('refs/heads/main')}\n`;
    const request = `${(want.length + 4).toString(16).padStart(4, '0')}${want}00000009done\n`;
    const res = await fetch(`${server.baseURL}/group/sub/app.git/git-upload-pack`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' },
      body: gzipSync(request),
    });
    expect(res.status).to.equal(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 8).toString()).to.equal('0008NAK\n');
    expect(body.subarray(8, 12).toString()).to.equal('PACK');
  });

  it('answers 404 for an unknown repository', async () => {
    const res = await fetch(`${server.baseURL}/group/sub/nope.git/info/refs?service=git-upload-pack`);
    expect(res.status).to.equal(404);
    const known = await fetch(`${server.baseURL}/group/sub/app.git/info/refs?service=git-upload-pack`);
    expect(known.status).to.equal(200);
    expect(known.headers.get('content-type')).to.equal('application/x-git-upload-pack-advertisement');
    expect(await known.text()).to.include('# service=git-upload-pack');
    // The Git-Protocol header must reach http-backend (as HTTP_GIT_PROTOCOL) for protocol v2.
    const v2 = await fetch(`${server.baseURL}/group/sub/app.git/info/refs?service=git-upload-pack`, {
      headers: { 'Git-Protocol': 'version=2' },
    });
    expect(await v2.text()).to.match(/^000eversion 2\n/);
    let failed = false;
    await git(['ls-remote', `${server.baseURL}/group/sub/nope.git`], { env }).catch(() => (failed = true));
    expect(failed).to.equal(true);
  });

  it('delivers only to loopback: a hook to any other host is refused before connecting and counted as a failure', async () => {
    await server.createProject('loop/proj');
    const port = new URL(receiver.url).port;
    for (const url of [
      'http://10.255.255.1/hook',
      'https://example.com/hook',
      'http://[2001:db8::1]/hook',
      `http://localhost:${port}/hook`,
    ])
      server.gitlab.addHook('loop/proj', { url, token: TOKEN, push_events: true });
    const before = server.deliveries.length;
    await pushCommit(server, 'loop/proj', { files: { l: '1' } });
    await server.idle();
    const attempts = server.deliveries.slice(before).filter((d) => d.hookId !== undefined);
    expect(attempts.map((d) => [new URL(d.url).hostname, d.status])).to.deep.equal([
      ['10.255.255.1', 'error'],
      ['example.com', 'error'],
      ['[2001:db8::1]', 'error'],
      ['localhost', 200],
    ]);
    for (const d of attempts.slice(0, 3)) {
      expect(d.error).to.match(/is not a loopback address/);
      expect(d.durationMs, 'refused without a connection attempt').to.be.below(50);
    }
    // The refusals count as failures, as GitLab counts an unreachable receiver.
    expect(server.gitlab.hooksOf('loop/proj').map((h) => h.failure.recentFailures)).to.deep.equal([1, 1, 1, 0]);
    // The instance-wide hook delivered too; the loopback project hook reached the receiver by name.
    expect(receiver.requests.filter((r) => r.body.project.path_with_namespace === 'loop/proj')).to.have.length(2);
  });
});
