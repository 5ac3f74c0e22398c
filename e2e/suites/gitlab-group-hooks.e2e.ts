import { expect } from 'chai';
import path from 'node:path';
import { type GitServer, pushCommit, startGitServer } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import {
  apiLinkManifest,
  ownedBy,
  ownedHooks,
  startWebhookFront,
  tokenSecretManifest,
  type WebhookFront,
} from '../support/gitlab-hooks.js';
import { type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * Group hooks by the operator (spec.gitlab.api.groupHooks, docs/adr/0020-group-hooks.md) on the real test ground: the
 * emulator delivers a real `git push` to the hooks of the project AND of every group above it, as GitLab Premium does,
 * and only to hooks registered in it. So an artifact after a push to a project in a subgroup, with no project hook of
 * the link left on that project, proves the group hook the operator registered delivered it. GitLab Free (no group
 * hooks) must fall back to project hooks, and deleting the link must remove the group hook.
 */
describe('GitLab group hooks by the operator: one hook for a group, fallback on Free, removed with the link', function () {
  this.timeout(240_000);
  const id = `p${process.pid}`;
  const linkName = `ggh-${id}`;
  const TOKEN = `gitlab-group-hooks-e2e-webhook-token-${id}`;
  const label = { 'e2e.fluxlink.dev/gitlab-group-hooks': id };
  const group = `ggh-${id}`;
  const A = `${group}/apps/a`; // in a subgroup of the listed group
  const B = `${group}/b`;
  const UNFOLLOWED = `${group}/apps/unfollowed`; // in the group, no GitRepository: its pushes arrive all the same
  const SOLO = `gghx-${id}/solo`; // outside every listed group: keeps a project hook
  const followed = [A, B, SOLO];
  let env: TestEnv;
  let git: GitServer;
  let op: OperatorProcess;
  let front: WebhookFront;
  let ns: string;
  let uid: string;

  const webhookURL = () => `${front.url}/hooks/${linkName}`;
  const link = () => getJson(env.cluster, 'gitlabfluxlink', linkName);
  const repoName = (project: string) => project.split('/').pop()!;
  const revision = async (name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.status?.artifact?.revision as string | undefined;
  const groupHooks = () => git.gitlab.groupHooksOf(group).filter((h) => ownedBy(h.url, uid));
  const projectHooks = (p: string) => ownedHooks(git, p, uid);
  const setGroupHooks = (groups: string[]) =>
    env.cluster.kubectl([
      'patch',
      'gitlabfluxlink',
      linkName,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { gitlab: { api: { groupHooks: groups } } } }),
    ]);
  /** Pushes, waits for the artifact, and returns the delivery of this link's hook that carried the push. */
  const pushAndAwaitArtifact = async (project: string, what: string) => {
    const { sha } = await pushCommit(git, project, { branch: 'main', files: { 'v.txt': `${what} ${Date.now()}` } });
    await eventually(
      `${project}: artifact of the pushed commit (${what})`,
      async () => (await revision(repoName(project))) === `main@sha1:${sha}`,
      30_000,
      100,
    );
    await git.idle();
    const carried = git.deliveries.filter(
      (d) => d.project === project && ownedBy(d.url, uid) && (d.body as { after?: string }).after === sha,
    );
    expect(carried, `deliveries of ${sha} to this link's hooks`).to.have.length(1);
    expect(carried[0]!.status).to.equal(202);
    return carried[0]!;
  };

  before(async () => {
    env = await testEnv();
    git = await startGitServer({
      root: path.join(env.cluster.workDir, `git-gitlab-group-hooks-${process.pid}`),
      host: new URL(env.git.baseURL).hostname,
    });
    op = await startOperator(env.cluster, { GITLAB_HOOKS_RESYNC_SECONDS: '2' });
    front = await startWebhookFront(op.hooksURL);
    for (const p of [...followed, UNFOLLOWED]) {
      await git.createProject(p);
      await pushCommit(git, p, { branch: 'main', files: { 'v.txt': '0' } });
    }
    // Maintainer on the projects, Owner of the top group (GitLab lets only Owners manage group hooks).
    const apiToken = git.gitlab.createToken({
      access: { ...Object.fromEntries([...followed, UNFOLLOWED].map((p) => [p, 'maintainer'])), [group]: 'owner' },
    });
    await apply(env.cluster, [tokenSecretManifest(`ggh-webhook-${id}`, TOKEN), tokenSecretManifest(`ggh-api-${id}`, apiToken)]);
    ns = await freshNamespace(env.cluster, 'ggh', label);
    await apply(
      env.cluster,
      followed.map((p) => ({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: repoName(p), namespace: ns },
        spec: { url: `${git.baseURL}/${p}.git`, interval: '1h', ref: { branch: 'main' } },
      })),
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

  it('switching group hooks on: one group hook replaces the project hooks below it; a push to a subgroup project reaches Flux through it', async () => {
    await apply(env.cluster, [
      apiLinkManifest(linkName, {
        gitlabURL: git.instanceURL,
        receiverURL: env.cluster.receiverURL,
        label,
        projects: [`${group}/**`, `gghx-${id}/**`],
        webhookSecret: `ggh-webhook-${id}`,
        apiSecret: `ggh-api-${id}`,
        webhookURL: webhookURL(),
      }),
    ]);
    uid = (await eventually('link uid', async () => (await link())?.metadata?.uid as string | undefined, 10_000)) as string;
    await eventually('project hooks first (group hooks off)', async () => followed.every((p) => projectHooks(p).length === 1), 90_000, 100);
    expect(git.gitlab.groupHooksOf(group)).to.deep.equal([]);

    await setGroupHooks([group]);
    await eventually(
      'one group hook of the link; no project hook of the link on the covered projects; SOLO keeps its own',
      async () =>
        groupHooks().length === 1 && projectHooks(A).length === 0 && projectHooks(B).length === 0 && projectHooks(SOLO).length === 1,
      60_000,
      100,
    );
    const hook = groupHooks()[0]!;
    expect(hook).to.deep.include({ url: `${webhookURL()}?fluxlink-link=${uid}`, token: TOKEN, enableSslVerification: true });
    expect(hook.events).to.deep.include({ push_events: true, tag_push_events: true, merge_requests_events: false });
    const l = await eventually(
      'HooksReady True counting the group hook',
      async () => {
        const x = await link();
        return (
          condition(x, 'HooksReady')?.status === 'True' &&
          /1 group hook\(s\) covering 2 projects/.test(condition(x, 'HooksReady')!.message!) &&
          x
        );
      },
      30_000,
    );
    expect(l.status.hooks.registered).to.deep.equal([`group:${group}`, SOLO].sort());

    const viaGroup = await pushAndAwaitArtifact(A, 'through the group hook');
    expect(viaGroup.hookId, 'the group hook carried the push to a project in a subgroup').to.equal(hook.id);
    expect((await pushAndAwaitArtifact(SOLO, 'through its project hook')).hookId).to.equal(projectHooks(SOLO)[0]!.id);

    // The group's other projects: their pushes arrive, answered 200 at once, never a failure of the hook.
    await pushCommit(git, UNFOLLOWED, { branch: 'main', files: { 'v.txt': 'x' } });
    await git.idle();
    const unfollowed = git.deliveries.filter((d) => d.project === UNFOLLOWED);
    expect(unfollowed.map((d) => [d.hookId, d.status])).to.deep.equal([[hook.id, 200]]);
    expect(git.gitlab.renderedGroupHook(git.gitlab.groupHooksOf(group)[0]!).alert_status).to.equal('executable');
    expect(git.gitlab.groupHooksOf(group)[0]!.failure.recentFailures).to.equal(0);
  });

  it('GitLab Free (no group hooks): the covered projects get project hooks again and pushes still reach Flux; back on Premium, the group hook again', async () => {
    git.gitlab.setTier('free');
    await eventually('project hooks on A and B', async () => projectHooks(A).length === 1 && projectHooks(B).length === 1, 60_000, 100);
    const l = await eventually(
      'HooksReady True, saying why',
      async () => {
        const x = await link();
        return condition(x, 'HooksReady')?.status === 'True' && /Free tier/.test(condition(x, 'HooksReady')!.message!) && x;
      },
      30_000,
    );
    expect(condition(l, 'Ready')?.status).to.equal('True');
    expect((await pushAndAwaitArtifact(B, 'on Free, through its project hook')).hookId).to.equal(projectHooks(B)[0]!.id);

    git.gitlab.setTier('premium');
    await eventually(
      'back to the group hook, project hooks below it removed',
      async () => groupHooks().length === 1 && projectHooks(A).length === 0 && projectHooks(B).length === 0,
      60_000,
      100,
    );
    expect((await pushAndAwaitArtifact(B, 'on Premium again')).hookId).to.equal(groupHooks()[0]!.id);
  });

  it('deleting the link removes the group hook and the project hooks', async () => {
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', linkName, '--wait=true', '--timeout=60s']);
    expect(git.gitlab.groupHooksOf(group).filter((h) => ownedBy(h.url, uid))).to.deep.equal([]);
    for (const p of followed) expect(projectHooks(p), p).to.deep.equal([]);
  });
});
