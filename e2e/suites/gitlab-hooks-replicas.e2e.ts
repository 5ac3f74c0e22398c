import { expect } from 'chai';
import path from 'node:path';
import { type GitServer, pushCommit, startGitServer } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import {
  apiLinkManifest,
  listHooksThroughApi,
  ownedBy,
  ownedHooks,
  startWebhookFront,
  tokenSecretManifest,
  type WebhookFront,
} from '../support/gitlab-hooks.js';
import { isLeader, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';
import { sleep } from '../testenv/probe.js';

const repoName = (project: string) => project.split('/').pop()!;
const gitRepo = (git: GitServer, namespace: string, project: string) => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name: repoName(project), namespace },
  spec: { url: `${git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
});

/**
 * Two replicas of the operator and restarts (a killed leader, a graceful hand-over, a leader killed right after
 * a new project appeared) never leave a project with two hooks of the same link: the hooks are listed through
 * GitLab's API the way any client must, every page (two per page here, so pagination is exercised).
 */
describe('GitLab webhooks by the operator: two replicas and restarts never duplicate a hook', function () {
  this.timeout(300_000);
  const id = `p${process.pid}`;
  const linkName = `ghr-${id}`;
  const label = { 'e2e.fluxlink.dev/gitlab-hooks-replicas': id };
  const projects = ['a', 'b', 'c'].map((p) => `ghr/${id}/${p}`);
  const late = `ghr/${id}/late`;
  let env: TestEnv;
  let front: WebhookFront;
  let ns: string;
  let person: string;
  let uid: string;
  const ops: OperatorProcess[] = [];

  const leaderOf = async () => {
    const flags = await Promise.all(ops.map(async (o) => isLeader(await o.metrics())));
    return flags.filter(Boolean).length === 1 ? ops[flags.indexOf(true)] : undefined;
  };
  /** Through the API, every page: the number of this link's hooks on each project. */
  const ownedCounts = async (list = projects) =>
    Promise.all(list.map(async (p) => (await listHooksThroughApi(env.git, person, p)).filter((h) => ownedBy(h.url, uid)).length));
  /** Samples the hooks for `ms`: any project ever seen with two of this link's hooks fails. */
  const neverDuplicated = async (what: string, ms: number, list = projects) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const counts = await ownedCounts(list);
      expect(Math.max(...counts), `${what}: this link's hooks per project ${JSON.stringify(counts)}`).to.be.at.most(1);
      await sleep(200);
    }
  };
  const start = () => startOperator(env.cluster, { GITLAB_HOOKS_RESYNC_SECONDS: '2' }, { awaitLeadership: false });

  before(async () => {
    env = await testEnv();
    ops.push(...(await Promise.all([start(), start()])));
    front = await startWebhookFront(ops[0]!.hooksURL);
    for (const p of [...projects, late]) {
      await env.git.createProject(p);
      await pushCommit(env.git, p, { branch: 'main', files: { 'v.txt': '0' } });
    }
    const access = Object.fromEntries([...projects, late].map((p) => [p, 'maintainer' as const]));
    const apiToken = env.git.gitlab.createToken({ access });
    person = env.git.gitlab.createToken({ access });
    await apply(env.cluster, [
      tokenSecretManifest(`ghr-webhook-${id}`, `gitlab-hooks-replicas-webhook-${id}`),
      tokenSecretManifest(`ghr-api-${id}`, apiToken),
    ]);
    // A person's hooks first, so the link's are never alone on a page.
    for (const p of projects)
      env.git.gitlab.addHook(p, { url: `${front.url}/hooks/${linkName}`, token: 'x'.repeat(20), push_events: true });
    ns = await freshNamespace(env.cluster, 'ghr', label);
    await apply(
      env.cluster,
      projects.map((p) => gitRepo(env.git, ns, p)),
    );
  });
  after(async () => {
    await env?.cluster
      .kubectl(['delete', 'gitlabfluxlink', linkName, '--ignore-not-found', '--wait=true', '--timeout=60s'])
      .catch(() => undefined);
    await Promise.all(ops.map((o) => o.stop()));
    await front?.close();
  });

  it('two replicas: exactly one hook per project, written by the leader only', async () => {
    await eventually('one leader', leaderOf, 30_000);
    await apply(env.cluster, [
      apiLinkManifest(linkName, {
        gitlabURL: env.git.instanceURL,
        receiverURL: env.cluster.receiverURL,
        label,
        projects: ['ghr/**'],
        webhookSecret: `ghr-webhook-${id}`,
        apiSecret: `ghr-api-${id}`,
        webhookURL: `${front.url}/hooks/${linkName}`,
      }),
    ]);
    uid = (await eventually(
      'link uid',
      async () => (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.metadata?.uid as string,
      10_000,
    ))!;
    await eventually('one hook each', async () => (await ownedCounts()).every((n) => n === 1), 90_000, 200);
    await neverDuplicated('two replicas, steady', 8_000);
    expect(
      projects.map((p) => env.git.gitlab.hooksOf(p).length),
      'all hooks per project',
    ).to.deep.equal([2, 2, 2]);
  });

  it('a killed leader, then a graceful hand-over: still one hook per project', async () => {
    const leader = (await leaderOf())!;
    const ids = projects.map((p) => ownedHooks(env.git, p, uid)[0]!.id);
    leader.kill();
    ops.splice(ops.indexOf(leader), 1);
    await eventually('the other replica leads', async () => isLeader(await ops[0]!.metrics()), 40_000, 200);
    await neverDuplicated('after the leader was killed', 8_000);
    ops.push(await start());
    const second = ops[0]!;
    await second.stop();
    ops.splice(0, 1);
    await eventually('the new replica leads', async () => isLeader(await ops[0]!.metrics()), 40_000, 200);
    await neverDuplicated('after a graceful hand-over', 8_000);
    expect(
      projects.map((p) => ownedHooks(env.git, p, uid)[0]!.id),
      'the same hooks kept through the restarts',
    ).to.deep.equal(ids);
  });

  it('a leader killed right after a new project appeared: the next leader registers it once', async () => {
    ops.push(await start());
    const leader = (await eventually('one leader', leaderOf, 30_000))!;
    const from = env.git.gitlab.countRequests({ method: 'POST', route: '/projects/:id/hooks' });
    await apply(env.cluster, [gitRepo(env.git, ns, late)]);
    // Kill as soon as the leader has asked GitLab for the new hook (or at once if it has not yet).
    await eventually(
      'the leader starts on the new project',
      async () => env.git.gitlab.countRequests({ method: 'POST', route: '/projects/:id/hooks' }) > from,
      30_000,
      20,
    ).catch(() => undefined);
    leader.kill();
    ops.splice(ops.indexOf(leader), 1);
    await eventually('the other replica leads', async () => isLeader(await ops[0]!.metrics()), 40_000, 200);
    await eventually('one hook on the new project', async () => (await ownedCounts([late]))[0] === 1, 60_000, 200);
    await neverDuplicated('after the killed leader', 8_000, [...projects, late]);
    await eventually(
      'HooksReady True over 4 projects',
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'HooksReady')?.status === 'True' && l.status.hooks.projects === 4;
      },
      30_000,
    );
  });

  it('deleting the link with two replicas removes every one of its hooks and nothing else', async () => {
    ops.push(await start());
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', linkName, '--wait=true', '--timeout=60s']);
    expect(await ownedCounts([...projects, late])).to.deep.equal([0, 0, 0, 0]);
    expect(
      projects.map((p) => env.git.gitlab.hooksOf(p).length),
      "the person's hooks",
    ).to.deep.equal([1, 1, 1]);
  });
});

/**
 * The oldest GitLab the emulator behaves as (16.0: no hook name/description, no hook events API, no test
 * deliveries, no auto-disabling): registration works there too, and a real push reaches Flux.
 */
describe('GitLab webhooks by the operator on GitLab 16.0', function () {
  this.timeout(240_000);
  const id = `p${process.pid}`;
  const linkName = `gh16-${id}`;
  const TOKEN = `gitlab-hooks-16-webhook-token-${id}`;
  const label = { 'e2e.fluxlink.dev/gitlab-hooks-16': id };
  const projects = ['a', 'b'].map((p) => `old/${id}/${p}`);
  let env: TestEnv;
  let git: GitServer;
  let op: OperatorProcess;
  let front: WebhookFront;
  let ns: string;

  before(async () => {
    env = await testEnv();
    git = await startGitServer({
      root: path.join(env.cluster.workDir, `git-gitlab-16-${process.pid}`),
      host: new URL(env.git.baseURL).hostname,
      gitlabVersion: '16.0',
    });
    op = await startOperator(env.cluster, { GITLAB_HOOKS_RESYNC_SECONDS: '2' });
    front = await startWebhookFront(op.hooksURL);
    for (const p of projects) {
      await git.createProject(p);
      await pushCommit(git, p, { branch: 'main', files: { 'v.txt': '0' } });
    }
    const apiToken = git.gitlab.createToken({ access: Object.fromEntries(projects.map((p) => [p, 'maintainer' as const])) });
    await apply(env.cluster, [tokenSecretManifest(`gh16-webhook-${id}`, TOKEN), tokenSecretManifest(`gh16-api-${id}`, apiToken)]);
    ns = await freshNamespace(env.cluster, 'gh16', label);
    await apply(
      env.cluster,
      projects.map((p) => gitRepo(git, ns, p)),
    );
  });
  after(async () => {
    await env?.cluster
      .kubectl(['delete', 'gitlabfluxlink', linkName, '--ignore-not-found', '--wait=true', '--timeout=60s'])
      .catch(() => undefined);
    await op?.stop();
    await front?.close();
    await git?.stop();
  });

  it('registers one hook per project without name/description; a push reaches Flux; two requests per project per pass', async () => {
    expect(git.gitlab.features).to.deep.include({
      hookNameDescription: false,
      hookEvents: false,
      testEndpoint: false,
      autoDisabling: false,
    });
    const started = Date.now();
    await apply(env.cluster, [
      apiLinkManifest(linkName, {
        gitlabURL: git.instanceURL,
        receiverURL: env.cluster.receiverURL,
        label,
        projects: ['old/**'],
        webhookSecret: `gh16-webhook-${id}`,
        apiSecret: `gh16-api-${id}`,
        webhookURL: `${front.url}/hooks/${linkName}`,
      }),
    ]);
    const uid = (await eventually(
      'link uid',
      async () => (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.metadata?.uid as string,
      10_000,
    ))!;
    await eventually('one hook each', async () => projects.every((p) => ownedHooks(git, p, uid).length === 1), 90_000, 100);
    console.log(`      GitLab 16.0: ${projects.length} hooks registered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const l = await eventually(
      'HooksReady True',
      async () => {
        const x = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(x, 'HooksReady')?.status === 'True' && x;
      },
      60_000,
    );
    expect(l.status.hooks).to.deep.include({ projects: 2, active: 2 });
    for (const p of projects) {
      const h = ownedHooks(git, p, uid)[0]!;
      expect(h).to.deep.include({
        url: `${front.url}/hooks/${linkName}?fluxlink-link=${uid}`,
        token: TOKEN,
        name: null,
        description: null,
      });
      expect(h.events).to.deep.include({ push_events: true, tag_push_events: true });
      const shown = git.gitlab.renderedHook(h);
      expect(shown).to.not.have.property('name');
    }
    for (const p of projects) {
      const { sha } = await pushCommit(git, p, { branch: 'main', files: { 'v.txt': 'pushed' } });
      await eventually(
        `${p}: artifact of the pushed commit`,
        async () => (await getJson(env.cluster, 'gitrepository', repoName(p), '-n', ns))?.status?.artifact?.revision === `main@sha1:${sha}`,
        30_000,
        100,
      );
    }
    const from = git.gitlab.requests.length;
    await sleep(10_000);
    const window = git.gitlab.requests.slice(from);
    const lists = window.filter((r) => r.method === 'GET' && r.route === '/projects/:id/hooks').length;
    console.log(
      `      GitLab 16.0 steady state: ${window.length} requests, ${lists} hook lists → ${(window.length / lists).toFixed(2)} requests per project per pass`,
    );
    expect(lists).to.be.at.least(projects.length * 2);
    // The events API does not exist before 17.3: one 404 per project and pass, read as "no failures".
    expect(window.length / lists).to.equal(2);
    expect(condition(await getJson(env.cluster, 'gitlabfluxlink', linkName), 'HooksReady')?.status).to.equal('True');
  });
});
