import { expect } from 'chai';
import path from 'node:path';
import { type GitServer, pushCommit, startGitServer } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import {
  apiLinkManifest,
  configOf,
  gitlabCall,
  listHooksThroughApi,
  ownedBy,
  ownedHooks,
  startWebhookFront,
  tokenSecretManifest,
  type WebhookFront,
} from '../support/gitlab-hooks.js';
import { type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';
import { sleep } from '../testenv/probe.js';

/**
 * GitLab webhooks registered, kept and healed by the operator through GitLab's REST API, on the real test ground:
 * the git server's GitLab API emulator delivers a real `git push` ONLY to the hooks registered in it, so a new
 * artifact in Flux after a push proves the operator registered the hook. The operator looks at the hooks every
 * 2 s (GITLAB_HOOKS_RESYNC_SECONDS) so drift is healed within seconds. A person's own hooks on the same projects
 * (one to the very same URL without the ownership marker) must stay exactly as they were through every case.
 */
describe('GitLab webhooks by the operator: registered, healed, re-keyed, per-project errors, rate limits, disabled hooks', function () {
  this.timeout(240_000);
  const id = `p${process.pid}`;
  const linkName = `gh-${id}`;
  const TOKEN_1 = `gitlab-hooks-e2e-webhook-token-1-${id}`;
  const TOKEN_2 = `gitlab-hooks-e2e-webhook-token-2-${id}`;
  const USER_TOKEN = `someone-elses-hook-token-${id}`;
  const label = { 'e2e.fluxlink.dev/gitlab-hooks': id };
  const managed = ['a', 'b', 'c'].map((p) => `gh/${id}/${p}`);
  const [A, B, C] = managed as [string, string, string];
  const untrusted = `ghx/${id}/outside`; // a GitRepository in a selected namespace, project not trusted
  const unmanaged = `gh/${id}/elsewhere`; // trusted project, GitRepository in a namespace the link does not select
  let env: TestEnv;
  let git: GitServer;
  let op: OperatorProcess;
  let front: WebhookFront;
  let ns: string;
  let apiToken: string;
  let person: string; // a Maintainer editing hooks by hand through the API
  let uid: string;
  let userHooks: Array<{ project: string; id: number }>;
  let userHooksBefore: string;

  const webhookURL = () => `${front.url}/hooks/${linkName}`;
  const link = () => getJson(env.cluster, 'gitlabfluxlink', linkName);
  const revision = async (name: string, namespace = ns) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', namespace))?.status?.artifact?.revision as string | undefined;
  const repoName = (project: string) => project.split('/').pop()!;
  const userHookConfig = () => JSON.stringify(userHooks.map((u) => configOf(git.gitlab.hooksOf(u.project).find((h) => h.id === u.id)!)));
  const expectUserHooksUntouched = () => expect(userHookConfig(), "the person's own hooks").to.equal(userHooksBefore);
  const expectOneOwnedHookEach = (projects = managed) => {
    for (const p of projects) expect(ownedHooks(git, p, uid), `this link's hooks on ${p}`).to.have.length(1);
  };
  const desiredURL = () => `${webhookURL()}?fluxlink-link=${uid}`;
  /** Every managed project has exactly one hook of this link, as the operator registers it, with `token`. */
  const hooksAsRegistered = (token: string) =>
    managed.every((p) => {
      const owned = ownedHooks(git, p, uid);
      const h = owned[0];
      return (
        owned.length === 1 &&
        h!.url === desiredURL() &&
        h!.token === token &&
        h!.events.push_events &&
        h!.events.tag_push_events &&
        !h!.events.merge_requests_events &&
        h!.enableSslVerification
      );
    });
  const pushAndAwaitArtifact = async (project: string, what: string) => {
    const { sha } = await pushCommit(git, project, { branch: 'main', files: { 'v.txt': `${what} ${Date.now()}` } });
    await eventually(
      `${project}: artifact of the pushed commit (${what})`,
      async () => (await revision(repoName(project))) === `main@sha1:${sha}`,
      30_000,
      100,
    );
    const d = git.deliveries.filter((x) => x.project === project && ownedBy(x.url, uid)).pop();
    expect(d?.status, `delivery to this link's hook on ${project}`).to.equal(202);
    return sha;
  };
  const eventsOf = async () =>
    ((await getJson(env.cluster, 'events', '-n', 'default', '--field-selector', `involvedObject.name=${linkName}`))?.items ?? []) as Array<{
      type: string;
      reason: string;
      message: string;
    }>;

  before(async () => {
    env = await testEnv();
    // A git server and GitLab API of its own: links other suites leave behind also talk to the shared one, and
    // this suite counts every request its GitLab receives.
    git = await startGitServer({
      root: path.join(env.cluster.workDir, `git-gitlab-hooks-${process.pid}`),
      host: new URL(env.git.baseURL).hostname,
    });
    op = await startOperator(env.cluster, { GITLAB_HOOKS_RESYNC_SECONDS: '2' });
    front = await startWebhookFront(op.hooksURL);
    for (const p of [...managed, untrusted, unmanaged]) {
      await git.createProject(p);
      await pushCommit(git, p, { branch: 'main', files: { 'v.txt': '0' } });
    }
    apiToken = git.gitlab.createToken({ access: Object.fromEntries([...managed, untrusted, unmanaged].map((p) => [p, 'maintainer'])) });
    person = git.gitlab.createToken({ access: Object.fromEntries([...managed, untrusted, unmanaged].map((p) => [p, 'maintainer'])) });
    await apply(env.cluster, [tokenSecretManifest(`gh-webhook-${id}`, TOKEN_1), tokenSecretManifest(`gh-api-${id}`, apiToken)]);
    ns = await freshNamespace(env.cluster, 'gh', label);
    const other = await freshNamespace(env.cluster, 'gh-other', { 'e2e.fluxlink.dev/gitlab-hooks': 'not-selected' });
    const gitRepo = (namespace: string, project: string) => ({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: repoName(project), namespace },
      spec: { url: `${git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
    });
    await apply(env.cluster, [...[...managed, untrusted].map((p) => gitRepo(ns, p)), gitRepo(other, unmanaged)]);
  });
  after(async () => {
    await env?.cluster
      .kubectl(['delete', 'gitlabfluxlink', linkName, '--ignore-not-found', '--wait=true', '--timeout=60s'])
      .catch(() => undefined);
    await op?.stop();
    await front?.close();
    await git?.stop();
  });

  it('registers exactly one hook on each managed project (none on untrusted or unmanaged ones); a real push reaches Flux', async () => {
    // A person's own hooks, made in GitLab's UI before the link exists: one to the very URL the link will use,
    // without the marker, with its own token, SSL verification off and merge request events; one elsewhere.
    userHooks = [
      {
        project: A,
        id: git.gitlab.addHook(A, {
          url: `${front.url}/hooks/${linkName}`,
          token: USER_TOKEN,
          push_events: true,
          merge_requests_events: true,
          enable_ssl_verification: false,
        }),
      },
      { project: B, id: git.gitlab.addHook(B, { url: 'http://127.0.0.1:9/hooks/my-own', token: USER_TOKEN, tag_push_events: true }) },
    ];
    userHooksBefore = userHookConfig();

    const started = Date.now();
    await apply(env.cluster, [
      apiLinkManifest(linkName, {
        gitlabURL: git.instanceURL,
        receiverURL: env.cluster.receiverURL,
        label,
        projects: ['gh/**'],
        webhookSecret: `gh-webhook-${id}`,
        apiSecret: `gh-api-${id}`,
        webhookURL: webhookURL(),
      }),
    ]);
    uid = (await eventually('link uid', async () => (await link())?.metadata?.uid as string | undefined, 10_000)) as string;
    await eventually('one hook of this link on each managed project', async () => hooksAsRegistered(TOKEN_1), 90_000, 100);
    const registeredIn = (Date.now() - started) / 1000;
    const l = await eventually(
      'HooksReady True and Ready True',
      async () => {
        const x = await link();
        return condition(x, 'HooksReady')?.status === 'True' && condition(x, 'Ready')?.status === 'True' && x;
      },
      60_000,
    );
    console.log(`      link applied → ${managed.length} hooks registered in ${registeredIn.toFixed(1)} s`);
    expect(condition(l, 'HooksReady')?.reason).to.equal('Succeeded');
    expect(l.status.hooks).to.deep.include({ projects: 3, active: 3, registered: [...managed].sort() });
    expect(l.status.hooks.secretVersion).to.be.a('string').and.not.include(TOKEN_1);
    expectOneOwnedHookEach();
    for (const p of managed) {
      const h = ownedHooks(git, p, uid)[0]!;
      expect(h, p).to.deep.include({
        name: `gitlab-flux-link ${linkName}`,
        description: `Managed by gitlab-flux-link for GitLabFluxLink ${linkName}; edits are reverted.`,
        pushEventsBranchFilter: '', // every branch
        branchFilterStrategy: 'wildcard',
        customWebhookTemplate: null,
      });
    }
    expect(git.gitlab.hooksOf(untrusted), 'hooks on the untrusted project').to.deep.equal([]);
    expect(git.gitlab.hooksOf(unmanaged), 'hooks on the project of an unselected namespace').to.deep.equal([]);
    expect(git.gitlab.hooksOf(C), 'no other hook on C').to.have.length(1);
    // The ownership marker is ignored by the webhook route: the registered URL reaches the operator.
    for (const p of managed) await pushAndAwaitArtifact(p, 'registered');
    expectUserHooksUntouched();
    // The person's hook to the same URL was delivered too (with its own token, refused by the operator): untouched.
    expect(git.deliveries.filter((d) => d.project === A && d.hookId === userHooks[0]!.id).length).to.be.at.least(1);
  });

  it('measures the steady cost: GitLab API requests per project per pass', async () => {
    const from = git.gitlab.requests.length;
    await sleep(12_000);
    const window = git.gitlab.requests.slice(from);
    const lists = window.filter((r) => r.method === 'GET' && r.route === '/projects/:id/hooks').length;
    const passes = lists / managed.length;
    const perProjectPerPass = window.length / lists;
    const routes = [...new Set(window.map((r) => `${r.method} ${r.route}`))].sort();
    console.log(
      `      steady state, 12 s, resync 2 s: ${window.length} requests, ${passes.toFixed(1)} passes over ${managed.length} projects → ${perProjectPerPass.toFixed(2)} requests per project per pass (${routes.join(', ')})`,
    );
    expect(passes, 'passes in 12 s with a 2 s resync').to.be.within(3, 7);
    expect(perProjectPerPass, 'the hook list and its recent events (README: two per project)').to.equal(2);
    expect(window.every((r) => r.method === 'GET' && r.status === 200)).to.equal(true);
  });

  it('heals a hook deleted, or edited by hand (URL, events, SSL), without touching anyone else’s hook', async () => {
    const enc = encodeURIComponent;
    const [hA, hB, hC] = managed.map((p) => ownedHooks(git, p, uid)[0]!);
    const started = Date.now();
    expect((await gitlabCall(git, person, 'DELETE', `/projects/${enc(A)}/hooks/${hA!.id}`)).status).to.equal(204);
    // A new URL that keeps the marker (the hook is still this link's): GitLab drops the token with the URL change.
    const moved = await gitlabCall(git, person, 'PUT', `/projects/${enc(B)}/hooks/${hB!.id}`, {
      url: `http://127.0.0.1:9/moved?fluxlink-link=${uid}`,
      enable_ssl_verification: false,
    });
    expect(moved.status).to.equal(200);
    expect(git.gitlab.hooksOf(B).find((h) => h.id === hB!.id)!.token, 'GitLab dropped the token with the URL').to.equal(null);
    // GitLab's edit endpoint requires `url` (doc/api/project_webhooks.md): the same one, so the token stays.
    const events = await gitlabCall(git, person, 'PUT', `/projects/${enc(C)}/hooks/${hC!.id}`, {
      url: hC!.url,
      push_events: false,
      tag_push_events: false,
      merge_requests_events: true,
    });
    expect(events.status).to.equal(200);
    await eventually('every hook as registered again', async () => hooksAsRegistered(TOKEN_1), 30_000, 100);
    const healedIn = (Date.now() - started) / 1000;
    console.log(`      deleted + URL/SSL edit + events edit → healed in ${healedIn.toFixed(1)} s (resync 2 s)`);
    expect(healedIn).to.be.below(15);
    expect(ownedHooks(git, A, uid)[0]!.id, 'a new hook on A').to.not.equal(hA!.id);
    expect(ownedHooks(git, B, uid)[0]!.id, 'B edited in place').to.equal(hB!.id);
    expect(ownedHooks(git, C, uid)[0]!.id, 'C edited in place').to.equal(hC!.id);
    expectOneOwnedHookEach();
    expectUserHooksUntouched();
    // One Event per pass that changed something: the registration's, then the heal's (one pass or two).
    const changed = await eventually(
      'HooksChanged Events for the heal',
      async () => {
        const e = (await eventsOf()).filter((x) => x.reason === 'HooksChanged');
        return e.filter((x) => /created/.test(x.message)).length >= 2 && e.some((x) => /2 repaired|1 repaired/.test(x.message)) && e;
      },
      20_000,
    );
    expect(changed.every((e) => e.type === 'Normal')).to.equal(true);
    // The token came back with the URL: B's push authenticates.
    await pushAndAwaitArtifact(B, 'after the URL was restored');
    expect(condition(await link(), 'HooksReady')?.status).to.equal('True');
  });

  it('sends a rotated webhook Secret to every hook; the next push authenticates with it', async () => {
    const versionBefore = (await link()).status.hooks.secretVersion;
    const started = Date.now();
    await apply(env.cluster, [tokenSecretManifest(`gh-webhook-${id}`, TOKEN_2)]);
    await eventually('every hook holds the new token', async () => hooksAsRegistered(TOKEN_2), 30_000, 100);
    console.log(`      webhook Secret rotated → ${managed.length} hooks re-keyed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const l = await eventually('status.hooks.secretVersion changed', async () => {
      const x = await link();
      return x.status.hooks.secretVersion !== versionBefore && x;
    });
    expect(JSON.stringify(l.status)).to.not.include(TOKEN_2);
    expectOneOwnedHookEach();
    expectUserHooksUntouched();
    for (const p of managed) await pushAndAwaitArtifact(p, 'after rotation');
  });

  it('a token with too little access on one project: HooksReady=False naming it and why; the others keep working', async () => {
    git.gitlab.setAccess(apiToken, C, 'developer');
    try {
      const l = await eventually(
        'HooksReady False naming C',
        async () => {
          const x = await link();
          return condition(x, 'HooksReady')?.status === 'False' && x;
        },
        30_000,
      );
      expect(condition(l, 'HooksReady')).to.deep.include({
        reason: 'HookRegistrationFailed',
        message: `1 of 3 projects: ${C}: the API token has too little access (403): it needs the api scope and the Maintainer role on the project`,
      });
      expect(condition(l, 'Ready')).to.deep.include({ status: 'False', reason: 'HookRegistrationFailed' });
      const entries = l.status.hooks.entries as Array<{ project: string; state: string; message?: string }>;
      expect(entries[0]).to.deep.include({ project: C, state: 'error' });
      expect(entries.filter((e) => e.project !== C).map((e) => e.state)).to.deep.equal(['active', 'active']);
      expect(l.status.hooks.registered, 'C may still hold the hook').to.deep.equal([...managed].sort());
      expect(l.status.readyReceivers, 'Receivers unaffected').to.equal(4 - 1); // the untrusted project has none
      await pushAndAwaitArtifact(A, 'while C is refused');
      await pushAndAwaitArtifact(B, 'while C is refused');
      expectOneOwnedHookEach();
      expectUserHooksUntouched();
    } finally {
      git.gitlab.setAccess(apiToken, C, 'maintainer');
    }
    // A pass with an error is retried after 30 s (the controller's retry), not at the 2 s resync.
    await eventually('HooksReady True again', async () => condition(await link(), 'HooksReady')?.status === 'True', 60_000);
  });

  it('waits out a 429 as its Retry-After says: no request to GitLab inside the window', async () => {
    const RETRY_AFTER = 6;
    const gitlab = git.gitlab;
    const from = gitlab.requests.length;
    gitlab.injectFaults({ status: 429, retryAfter: RETRY_AFTER, route: '/projects/:id/hooks', method: 'GET' });
    const limited = await eventually('the 429 answered', async () => gitlab.requests.slice(from).find((r) => r.status === 429), 20_000, 50);
    await sleep((RETRY_AFTER + 4) * 1000);
    const after429 = gitlab.requests.slice(gitlab.requests.indexOf(limited) + 1);
    const inside = after429.filter((r) => r.at < limited.at + RETRY_AFTER * 1000);
    const resumed = after429.filter((r) => r.at >= limited.at + RETRY_AFTER * 1000);
    console.log(
      `      429 Retry-After ${RETRY_AFTER} s: ${inside.length} requests inside the window, first one after it at +${(((resumed[0]?.at ?? NaN) - limited.at) / 1000).toFixed(1)} s`,
    );
    expect(inside, 'requests inside the Retry-After window').to.deep.equal([]);
    expect(resumed.length, 'requests after the window').to.be.greaterThan(0);
    expect(resumed[0]).to.include({ method: 'GET', route: '/projects/:id/hooks', status: 200 });
    await eventually('HooksReady True', async () => condition(await link(), 'HooksReady')?.status === 'True', 30_000);
    expectOneOwnedHookEach();
    expectUserHooksUntouched();
  });

  it('endpoint down: GitLab disables the hook after 4 failed pushes, the link says so; endpoint back: re-enabled by a test delivery, the missed commits reconciled without a new push', async () => {
    const gitlab = git.gitlab;
    front.down = true;
    let missed = '';
    for (let i = 1; i <= 4; i++) {
      ({ sha: missed } = await pushCommit(git, A, { branch: 'main', files: { 'v.txt': `while down ${i}` } }));
      await git.idle();
    }
    const hook = () => gitlab.hooksOf(A).find((h) => ownedBy(h.url, uid))!;
    const rendered = () => gitlab.renderedHook(hook()) as { alert_status: string; disabled_until: string | null };
    expect(rendered().alert_status, 'after 4 failed deliveries').to.equal('temporarily_disabled');
    const l = await eventually(
      'HooksReady False HooksDisabled',
      async () => {
        const x = await link();
        return condition(x, 'HooksReady')?.reason === 'HooksDisabled' && x;
      },
      30_000,
    );
    expect(condition(l, 'HooksReady')?.status).to.equal('False');
    expect(condition(l, 'HooksReady')?.message).to.match(
      new RegExp(`^GitLab disabled this link's webhook on 1 of 3 projects: ${A} \\(until [^)]+\\); re-enabling through test deliveries$`),
    );
    const entry = (l.status.hooks.entries as Array<Record<string, string>>).find((e) => e.project === A)!;
    expect(entry).to.deep.include({ state: 'temporarily_disabled', hookId: hook().id });
    expect(entry.disabledUntil).to.be.a('string');
    await eventually(
      'Warning Event HookFailing for A',
      async () => (await eventsOf()).find((e) => e.type === 'Warning' && e.reason === 'HookFailing' && e.message.includes(A)),
      20_000,
    );
    // The operator tried a test delivery at once; the endpoint was down, so GitLab refused it (422).
    expect(gitlab.requests.some((r) => r.route === '/projects/:id/hooks/:hook_id/test/:trigger' && r.status === 422)).to.equal(true);

    // The endpoint comes back with the operator: a restarted operator tries a test delivery at its first look.
    front.down = false;
    await op.stop();
    const tests201 = gitlab.countRequests({ route: '/projects/:id/hooks/:hook_id/test/:trigger', status: 201 });
    // The new operator may test the hook as soon as it leads, before startOperator returns: GitLab's test delivery
    // waits at the front until the front points at it (else the old, stopped one refuses it).
    front.holding = true;
    op = await startOperator(env.cluster, { GITLAB_HOOKS_RESYNC_SECONDS: '2' });
    front.target = op.hooksURL;
    front.holding = false;
    const disabledUntil = Date.parse(rendered().disabled_until!);
    await eventually('HooksReady True', async () => condition(await link(), 'HooksReady')?.status === 'True', 60_000);
    expect(
      gitlab.countRequests({ route: '/projects/:id/hooks/:hook_id/test/:trigger', status: 201 }),
      'test deliveries answered 2xx',
    ).to.equal(tests201 + 1);
    expect(gitlab.clock.now(), "re-enabled before GitLab's own backoff ended").to.be.below(disabledUntil);
    expect(rendered().alert_status).to.equal('executable');
    // The commits pushed while the endpoint was down (their deliveries refused) reach Flux without a new push
    // (the GitRepository polls every hour): the catch-up compared its artifact with GitLab's head and triggered it.
    await eventually(
      `${A}: artifact of the last commit pushed while the endpoint was down`,
      async () => (await revision(repoName(A))) === `main@sha1:${missed}`,
      30_000,
      100,
    );
    await eventually(
      'HooksChanged re-enabled',
      async () => (await eventsOf()).find((e) => e.reason === 'HooksChanged' && e.message.includes('1 re-enabled')),
      20_000,
    );
    await pushAndAwaitArtifact(A, 'after re-enabling');
    const after = await eventually(
      'A active in status.hooks',
      async () => {
        const x = await link();
        const e = (x.status.hooks.entries as Array<Record<string, string>>).find((y) => y.project === A);
        return e?.state === 'active' && x;
      },
      20_000,
    );
    expect(after.status.hooks.active).to.equal(3);
    expectOneOwnedHookEach();
    expectUserHooksUntouched();
  });

  it("deleting the link removes its hooks, keeps the person's, and releases the finalizer", async () => {
    const started = Date.now();
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', linkName, '--wait=true', '--timeout=60s']);
    console.log(`      link deleted (finalizer released) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await link()).to.equal(undefined);
    for (const p of managed) expect(ownedHooks(git, p, uid), p).to.deep.equal([]);
    for (const p of managed) {
      const listed = await listHooksThroughApi(git, person, p);
      expect(
        listed.map((h) => h.id),
        `hooks left on ${p}`,
      ).to.deep.equal(userHooks.filter((u) => u.project === p).map((u) => u.id));
    }
    expectUserHooksUntouched();
  });
});
