import { expect } from 'chai';
import { Writable } from 'node:stream';
import { type GitLabFluxLink, type GitLabFluxLinkSpec, LINKS } from '../api/v1alpha1/types.js';
import type { Secret } from '../flux/types.js';
import { GitLabClient } from '../gitlab-api/client.js';
import type { KubeObject } from '../meta/object.js';
import { SECRETS } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { ownedHookURL } from '../reconcile/hooks.js';
import { FakeGitLab } from '../testing/fake-gitlab.js';
import { FakeKube } from '../testing/fake-kube.js';
import { HOOKS_FINALIZER, HooksController } from './hooks-controller.js';
import { LinkStatusWriter } from './link-status-writer.js';

const API_TOKEN = 'glpat-operator-api-token-000000';
const WEBHOOK_TOKEN = 'webhook-token-aaaaaaaaaaaaaaaa';
const ROTATED_TOKEN = 'webhook-token-bbbbbbbbbbbbbbbb';
const NS = 'gitlab-flux-link-system';
const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(name: string, data: Record<string, string>): Secret {
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, data: encoded } as Secret;
}

/** The operator with the hooks controller over a fake cluster and a fake GitLab (on loopback, through the real client). */
class World {
  readonly fake = new FakeKube();
  readonly gitlab = new FakeGitLab();
  readonly metrics = new Metrics();
  readonly events: { type: string; reason: string; message: string }[] = [];
  readonly logs: string[] = [];
  /** What the controller asked of the catch-up: `${link} ${reason}`. */
  readonly catchUps: string[] = [];
  controller!: HooksController;
  clock = Date.parse('2026-01-01T00:00:00Z');

  async start(): Promise<this> {
    await this.gitlab.start();
    this.gitlab.now = () => this.clock;
    this.gitlab.addProject('group/app1', { [API_TOKEN]: 40 });
    this.gitlab.addProject('group/app2', { [API_TOKEN]: 40 });
    this.gitlab.addProject('team/locked', { [API_TOKEN]: 30 }); // Developer: 403 on hooks
    this.fake.seed(SECRETS, secret('gitlab-api', { token: API_TOKEN }));
    this.fake.seed(SECRETS, secret('gitlab-webhook', { token: WEBHOOK_TOKEN }));
    this.newController();
    return this;
  }

  newController(): void {
    const sink = new Writable({
      write: (chunk: Buffer, _e, done) => {
        this.logs.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('debug', sink);
    const events = {
      record: async (_o: KubeObject, type: string, reason: string, message: string) => {
        this.events.push({ type, reason, message });
      },
    } as unknown as EventRecorder;
    const now = () => new Date(this.clock);
    this.controller = new HooksController({
      client: this.fake,
      compiler: new LinkCompiler(),
      status: new LinkStatusWriter({ client: this.fake, log, events, now }),
      log,
      metrics: this.metrics,
      events,
      now,
      gitlab: (o) => new GitLabClient({ ...o, sleep: async () => undefined }),
      onCatchUp: (link, reason) => this.catchUps.push(`${link} ${reason}`),
    });
  }

  async stop(): Promise<void> {
    await this.gitlab.stop();
  }

  addLink(name = 'prod', over: Partial<GitLabFluxLinkSpec> = {}): GitLabFluxLink {
    const spec: GitLabFluxLinkSpec = {
      gitlab: { url: this.gitlab.url, api: { tokenSecretRef: { namespace: NS, name: 'gitlab-api' } } },
      webhook: { secretRef: { namespace: NS, name: 'gitlab-webhook' }, url: `https://hooks.example.com/hooks/${name}` },
      ...over,
    };
    return this.fake.seed(LINKS, {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name },
      spec,
    } as GitLabFluxLink);
  }

  link(name = 'prod'): GitLabFluxLink | undefined {
    return this.fake.object<GitLabFluxLink>(LINKS, undefined, name);
  }

  uid(name = 'prod'): string {
    return this.link(name)!.metadata.uid!;
  }

  /** The link controller's word, then one pass of the hooks controller. */
  async pass(name = 'prod', projects?: string[]) {
    if (projects) this.controller.linked(name, this.uid(name), this.link(name)!.metadata.generation ?? 0, projects);
    this.gitlab.requests.length = 0;
    return this.controller.reconcile(name);
  }

  condition(type = 'HooksReady', name = 'prod') {
    return this.link(name)?.status?.conditions?.find((c) => c.type === type);
  }

  ours(project: string, name = 'prod') {
    return this.gitlab.hooks(project).filter((h) => h.url === ownedHookURL(`https://hooks.example.com/hooks/${name}`, this.uid(name)));
  }

  writes(): string[] {
    return this.gitlab.requests
      .filter((r) => r.method !== 'GET')
      .map((r) => `${r.method} ${decodeURIComponent(r.path.replace('/api/v4', ''))}`);
  }
}

describe('hooks-controller: the GitLab side without hands (fake GitLab through the real client)', () => {
  let w: World;
  beforeEach(async () => {
    w = await new World().start();
  });
  afterEach(() => w.stop());

  it('without spec.gitlab.api the link works as today: no GitLab request, no finalizer, no HooksReady', async () => {
    w.addLink('manual', { gitlab: { url: w.gitlab.url }, webhook: { secretRef: { namespace: NS, name: 'gitlab-webhook' } } });
    expect(await w.pass('manual', ['group/app1'])).to.deep.equal({ kind: 'done' });
    expect(w.gitlab.requests).to.deep.equal([]);
    expect(w.link('manual')!.metadata.finalizers ?? []).to.deep.equal([]);
    expect(w.condition('HooksReady', 'manual')).to.equal(undefined);
  });

  it("registers exactly one hook per project: the link's URL with its marker, push and tag push, SSL on, the webhook token", async () => {
    w.addLink();
    const outcome = await w.pass('prod', ['group/app1', 'group/app2']);
    expect(outcome).to.deep.equal({ kind: 'requeueAfter', ms: 300_000 });
    for (const project of ['group/app1', 'group/app2']) {
      const hooks = w.gitlab.hooks(project);
      expect(hooks).to.have.length(1);
      expect(hooks[0]!.url).to.equal(`https://hooks.example.com/hooks/prod?fluxlink-link=${w.uid()}`);
      expect(hooks[0]!.token).to.equal(WEBHOOK_TOKEN);
      expect(hooks[0]!.fields).to.include({
        push_events: true,
        tag_push_events: true,
        enable_ssl_verification: true,
        merge_requests_events: false,
        name: 'gitlab-flux-link prod',
        description: 'Managed by gitlab-flux-link for GitLabFluxLink prod; edits are reverted.',
      });
    }
    const link = w.link()!;
    expect(link.metadata.finalizers).to.include(HOOKS_FINALIZER);
    expect(w.condition()).to.deep.include({
      status: 'True',
      reason: 'Succeeded',
      message: "2 of 2 projects have this link's GitLab webhook",
    });
    expect(link.status!.hooks).to.deep.include({ projects: 2, active: 2, registered: ['group/app1', 'group/app2'] });
    expect(link.status!.hooks!.secretVersion).to.match(/^[^/]+\/[0-9]+$/);
    expect(w.events.map((e) => e.message)).to.include('GitLab webhooks 2 created');
    const text = JSON.stringify(link) + w.logs.join('') + JSON.stringify(w.events);
    expect(text).not.to.include(WEBHOOK_TOKEN).and.not.to.include(API_TOKEN);

    // Steady state: one list per project and its recent events, no write.
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([]);
    expect(w.gitlab.requests.map((r) => `${r.method} ${r.path.replace(/.*\/hooks/, '…/hooks')}`)).to.deep.equal([
      'GET …/hooks',
      `GET …/hooks/${w.ours('group/app1')[0]!.id}/events`,
      'GET …/hooks',
      `GET …/hooks/${w.ours('group/app2')[0]!.id}/events`,
    ]);
  });

  it("never touches a hook it did not make (a person's hook to the same URL, another link's); removes its own duplicates, oldest kept; pages followed", async () => {
    w.addLink();
    const uid = w.uid();
    for (let i = 0; i < 120; i++) w.gitlab.addHook('group/app1', `https://ci.example.com/hook/${i}`); // pages 1 and 2
    const person = w.gitlab.addHook('group/app1', 'https://hooks.example.com/hooks/prod', { tag_push_events: false }, 'their-token');
    const otherLink = w.gitlab.addHook('group/app1', ownedHookURL('https://hooks.example.com/hooks/prod', 'another-uid'));
    const oldest = w.gitlab.addHook('group/app1', ownedHookURL('https://hooks.example.com/hooks/prod', uid));
    const dup = w.gitlab.addHook('group/app1', ownedHookURL('https://hooks.example.com/hooks/prod', uid));
    await w.pass('prod', ['group/app1']);
    const ids = w.gitlab.hooks('group/app1').map((h) => h.id);
    expect(ids).to.include.members([person.id, otherLink.id, oldest.id]);
    expect(ids).not.to.include(dup.id);
    expect(w.ours('group/app1').map((h) => h.id)).to.deep.equal([oldest.id]);
    expect(person.url).to.equal('https://hooks.example.com/hooks/prod');
    expect(person.token).to.equal('their-token');
    expect(person.fields['tag_push_events']).to.equal(false);
    expect(w.gitlab.hooks('group/app1')).to.have.length(123);
    expect(w.gitlab.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/hooks')).map((r) => r.query['page'])).to.deep.equal([
      '1',
      '2',
    ]);
  });

  it('restarts and a second controller never add a hook: the one listed is kept', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1']);
    w.newController(); // a restart: nothing remembered but the link's status
    await w.pass('prod', ['group/app1']);
    w.newController();
    await w.pass('prod', ['group/app1']);
    expect(w.ours('group/app1')).to.have.length(1);
    expect(w.writes()).to.deep.equal([]);
  });

  it('drift is repaired: URL, events and SSL edited by hand, a hook deleted by hand; the token is sent again', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    const h1 = w.ours('group/app1')[0]!;
    // Editing the URL in GitLab clears the token (the fake does what GitLab does).
    h1.url = `https://evil.example.com/steal?fluxlink-link=${w.uid()}`;
    h1.token = '';
    h1.fields['tag_push_events'] = false;
    h1.fields['enable_ssl_verification'] = false;
    h1.fields['custom_webhook_template'] = '{"event":"{{object_kind}}"}';
    w.gitlab.projects.get('group/app2')!.hooks = [];
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([`PUT /projects/group/app1/hooks/${h1.id}`, 'POST /projects/group/app2/hooks']);
    expect(h1.url).to.equal(ownedHookURL('https://hooks.example.com/hooks/prod', w.uid()));
    expect(h1.token).to.equal(WEBHOOK_TOKEN);
    expect(h1.fields).to.include({ tag_push_events: true, enable_ssl_verification: true, custom_webhook_template: '' });
    const posted = w.gitlab.requests.find((r) => r.method === 'POST')!;
    expect(posted.body).not.to.have.property('custom_webhook_template'); // a create never sends it
    expect(w.ours('group/app2')).to.have.length(1);
    expect(w.events.at(-1)!.message).to.equal('GitLab webhooks 1 created, 1 repaired');
  });

  it('a rotated webhook Secret is sent to every hook; the status records its version, never the value', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    const before = w.link()!.status!.hooks!.secretVersion;
    w.fake.mutate<Secret>(SECRETS, NS, 'gitlab-webhook', (s) => {
      s.data = { token: b64(ROTATED_TOKEN) };
    });
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.have.length(2);
    expect(w.gitlab.requests.filter((r) => r.method === 'PUT').every((r) => r.body!['token'] === ROTATED_TOKEN)).to.equal(true);
    expect(w.ours('group/app1')[0]!.token).to.equal(ROTATED_TOKEN);
    const after = w.link()!.status!.hooks!.secretVersion;
    expect(after).not.to.equal(before);
    expect(JSON.stringify(w.link()!.status)).not.to.include(ROTATED_TOKEN).and.not.to.include(b64(ROTATED_TOKEN));
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([]);
  });

  it("a project that leaves the link loses this link's hook, and nothing else", async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    const person = w.gitlab.addHook('group/app2', 'https://hooks.example.com/hooks/prod');
    await w.pass('prod', ['group/app1']);
    expect(w.ours('group/app2')).to.deep.equal([]);
    expect(w.gitlab.hooks('group/app2').map((h) => h.id)).to.deep.equal([person.id]);
    expect(w.link()!.status!.hooks).to.deep.include({ projects: 1, registered: ['group/app1'] });
  });

  describe('group hooks (spec.gitlab.api.groupHooks)', () => {
    const setGroups = (groupHooks: string[]) =>
      w.fake.mutate<GitLabFluxLink>(LINKS, undefined, 'prod', (l) => {
        l.spec.gitlab.api!.groupHooks = groupHooks;
      });
    const withGroups = (groupHooks: string[]) => ({
      gitlab: { url: w.gitlab.url, api: { tokenSecretRef: { namespace: NS, name: 'gitlab-api' }, groupHooks } },
    });

    it("one group hook covers the group's projects; their project hooks of this link are removed after it is in place; others keep theirs", async () => {
      w.gitlab.addGroup('group', { [API_TOKEN]: 50 });
      w.gitlab.addProject('team/other', { [API_TOKEN]: 40 });
      w.addLink();
      await w.pass('prod', ['group/app1', 'group/app2', 'team/other']);
      expect(w.ours('group/app1')).to.have.length(1);
      const person = w.gitlab.addHook('group/app1', 'https://hooks.example.com/hooks/prod');
      setGroups(['group']);
      await w.pass('prod');
      expect(w.writes()[0]).to.equal('POST /groups/group/hooks');
      expect(w.ours('group:group')).to.have.length(1);
      expect(w.ours('group:group')[0]!.fields).to.include({ push_events: true, tag_push_events: true, enable_ssl_verification: true });
      expect(w.ours('group/app1')).to.deep.equal([]);
      expect(w.ours('group/app2')).to.deep.equal([]);
      expect(w.gitlab.hooks('group/app1').map((h) => h.id)).to.deep.equal([person.id]);
      expect(w.ours('team/other')).to.have.length(1);
      expect(w.link()!.status!.hooks!.registered).to.deep.equal(['group:group', 'team/other']);
      // Steady state: one list of the group, no write, no duplicate (a restart or a second replica sees the same).
      w.newController();
      await w.pass('prod', ['group/app1', 'group/app2', 'team/other']);
      expect(w.writes()).to.deep.equal([]);
      expect(w.ours('group:group')).to.have.length(1);
    });

    it('the token not Owner (403) or GitLab Free (404): project hooks instead, HooksReady True saying why; no error', async () => {
      w.gitlab.addGroup('group', { [API_TOKEN]: 40 });
      w.addLink('prod', withGroups(['group']));
      await w.pass('prod', ['group/app1', 'group/app2']);
      expect(w.ours('group/app1')).to.have.length(1);
      expect(w.ours('group/app2')).to.have.length(1);
      expect(w.condition()).to.include({ status: 'True', reason: 'Succeeded' });
      expect(w.condition()!.message).to.match(/group group: the API token is not an Owner of the group \(403\)/);
      const fallbackLogs = w.logs.filter((l) => l.includes('GitLab hook not handled') && l.includes('group:group'));
      expect(fallbackLogs, 'a fallback is said at info, not as a warning every pass').to.have.length.above(0);
      expect(fallbackLogs.filter((l) => !l.includes('"level":"info"'))).to.deep.equal([]);
      w.gitlab.groups.get('group')!.access.set(API_TOKEN, 50);
      w.gitlab.freeTier = true;
      await w.pass('prod');
      expect(w.condition()!.message).to.match(/Free tier\) \(404\)/);
      expect(w.writes()).to.deep.equal([]);
      w.gitlab.freeTier = false;
      await w.pass('prod');
      expect(w.ours('group:group')).to.have.length(1);
      expect(w.ours('group/app1')).to.deep.equal([]);
      expect(w.condition()!.message).to.equal('1 of 1 hooks in place: 1 group hook(s) covering 2 projects, 0 project hook(s)');
    });

    it('a group erroring (5xx) keeps its projects on project hooks and reports it; the group hook is tried again', async () => {
      w.gitlab.addGroup('group', { [API_TOKEN]: 50 });
      w.addLink('prod', withGroups(['group']));
      w.gitlab.failures.set('GET group', 503);
      expect(await w.pass('prod', ['group/app1'])).to.deep.include({ kind: 'requeueAfter' });
      expect(w.ours('group/app1')).to.have.length(1);
      expect(w.condition()).to.include({ status: 'False', reason: 'HookRegistrationFailed' });
      w.gitlab.failures.clear();
      await w.pass('prod');
      expect(w.ours('group:group')).to.have.length(1);
      expect(w.ours('group/app1')).to.deep.equal([]);
    });

    it('switching group hooks off, or deleting the link, removes the group hook; project hooks take over first', async () => {
      w.gitlab.addGroup('group', { [API_TOKEN]: 50 });
      w.addLink('prod', withGroups(['group']));
      await w.pass('prod', ['group/app1']);
      expect(w.ours('group:group')).to.have.length(1);
      setGroups([]);
      await w.pass('prod');
      expect(w.writes()).to.deep.equal([
        `POST /projects/group/app1/hooks`,
        `DELETE /groups/group/hooks/${w.gitlab.hooks('group/app1')[0]!.id - 1}`,
      ]);
      expect(w.ours('group:group')).to.deep.equal([]);
      setGroups(['group']);
      await w.pass('prod');
      expect(w.ours('group:group')).to.have.length(1);
      w.fake.remove(LINKS, undefined, 'prod');
      expect(await w.pass('prod')).to.deep.equal({ kind: 'done' });
      expect(w.gitlab.hooks('group:group')).to.deep.equal([]);
      expect(w.link()).to.equal(undefined);
    });
  });

  it('a token with too little access on one project: HooksReady False naming the project and the reason; the others work', async () => {
    w.addLink();
    const outcome = await w.pass('prod', ['group/app1', 'team/locked']);
    expect(outcome).to.deep.equal({ kind: 'requeueAfter', ms: 30_000 });
    expect(w.ours('group/app1')).to.have.length(1);
    expect(w.condition()).to.deep.include({
      status: 'False',
      reason: 'HookRegistrationFailed',
      message:
        '1 of 2 projects: team/locked: the API token has too little access (403): it needs the api scope and the Maintainer role on the project',
    });
    expect(w.condition('Ready')).to.deep.include({ status: 'False', reason: 'HookRegistrationFailed' });
    expect(w.link()!.status!.hooks!.entries[0]).to.deep.include({ project: 'team/locked', state: 'error' });
    expect(w.link()!.status!.hooks!.registered).to.deep.equal(['group/app1']);
  });

  it('a missing token Secret: HooksReady False naming the field and the Secret, no GitLab request', async () => {
    w.addLink('prod', {
      gitlab: { url: w.gitlab.url, api: { tokenSecretRef: { namespace: NS, name: 'nope' } } },
    });
    await w.pass('prod', ['group/app1']);
    expect(w.gitlab.requests).to.deep.equal([]);
    expect(w.condition()).to.deep.include({
      status: 'False',
      reason: 'GitLabSecretNotFound',
      message: `spec.gitlab.api.tokenSecretRef: Secret ${NS}/nope not found`,
    });
  });

  it("outbound-only (no webhook.url): no hooks registered, this link's earlier hooks removed, HooksReady True OutboundOnly", async () => {
    w.addLink();
    await w.pass('prod', ['group/app1']);
    w.fake.mutate<GitLabFluxLink>(LINKS, undefined, 'prod', (l) => {
      delete l.spec.webhook.url;
    });
    await w.pass('prod', ['group/app1']);
    expect(w.gitlab.hooks('group/app1')).to.deep.equal([]);
    expect(w.condition()).to.deep.include({ status: 'True', reason: 'OutboundOnly' });
    expect(w.link()!.status!.hooks!.registered).to.deep.equal([]);
  });

  it('deleting the link removes its hooks, then its finalizer', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    const person = w.gitlab.addHook('group/app1', 'https://hooks.example.com/hooks/prod');
    w.fake.remove(LINKS, undefined, 'prod');
    expect(w.link()!.metadata.deletionTimestamp).to.be.a('string');
    expect(await w.pass('prod')).to.deep.equal({ kind: 'done' });
    expect(w.gitlab.hooks('group/app1').map((h) => h.id)).to.deep.equal([person.id]);
    expect(w.gitlab.hooks('group/app2')).to.deep.equal([]);
    expect(w.link()).to.equal(undefined);
  });

  it('deleting the link: a hook whose status write was lost is removed too; a project the token never could manage does not hold the finalizer', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'team/locked']);
    // The link's status lost the record (e.g. a write that failed after the create).
    w.fake.mutate<GitLabFluxLink>(LINKS, undefined, 'prod', (l) => {
      l.status!.hooks!.registered = [];
    });
    w.fake.remove(LINKS, undefined, 'prod');
    expect(await w.pass('prod')).to.deep.equal({ kind: 'done' });
    expect(w.gitlab.hooks('group/app1')).to.deep.equal([]);
    expect(w.link()).to.equal(undefined);
  });

  it('deleting the link while GitLab refuses (token revoked): the finalizer stays and HooksReady says why', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1']);
    w.gitlab.projects.get('group/app1')!.access.delete(API_TOKEN);
    w.gitlab.projects.get('group/app2')!.access.delete(API_TOKEN);
    w.gitlab.projects.get('team/locked')!.access.delete(API_TOKEN);
    w.fake.remove(LINKS, undefined, 'prod');
    expect(await w.pass('prod')).to.deep.equal({ kind: 'requeueAfter', ms: 30_000 });
    expect(w.link()!.metadata.finalizers).to.deep.equal([HOOKS_FINALIZER]);
    expect(w.condition()!.message).to.match(
      /^the link is being deleted and its webhooks could not be removed; the finalizer stays until they are: group\/app1: GitLab does not accept the API token \(401\)/,
    );
    expect(w.ours('group/app1')).to.have.length(1);
  });

  it('disabled hooks are seen and re-enabled through a test delivery; the metric shows the states', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    const h1 = w.ours('group/app1')[0]!;
    const h2 = w.ours('group/app2')[0]!;
    h1.alertStatus = 'disabled';
    h2.alertStatus = 'temporarily_disabled';
    h2.disabledUntil = '2026-01-01T00:10:00Z';
    h2.receiverAnswers = 'fail'; // the endpoint still does not answer for this one
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([
      `POST /projects/group/app1/hooks/${h1.id}/test/push_events`,
      `POST /projects/group/app2/hooks/${h2.id}/test/push_events`,
    ]);
    expect(h1.alertStatus).to.equal('executable');
    // The Ready transition (the status writer's Event) and the hook's own Warning.
    expect(w.events.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`)).to.deep.equal([
      "HooksDisabled: GitLab disabled this link's webhook on 1 of 2 projects: group/app2 (until 2026-01-01T00:10:00Z); re-enabling through test deliveries",
      'HookFailing: GitLab webhook of group/app2: GitLab disabled it for a while after failures',
    ]);
    expect(w.events.at(-2)).to.deep.include({ reason: 'HooksChanged', message: 'GitLab webhooks 1 re-enabled' });
    expect(w.condition()).to.deep.include({
      status: 'False',
      reason: 'HooksDisabled',
      message:
        "GitLab disabled this link's webhook on 1 of 2 projects: group/app2 (until 2026-01-01T00:10:00Z); re-enabling through test deliveries",
    });
    expect(w.link()!.status!.hooks!.entries[0]).to.deep.include({
      project: 'group/app2',
      state: 'temporarily_disabled',
      disabledUntil: '2026-01-01T00:10:00Z',
    });
    const metrics = await w.metrics.registry.getSingleMetricAsString('fluxlink_gitlab_hooks');
    expect(metrics).to.include('fluxlink_gitlab_hooks{link="prod",state="active"} 1');
    expect(metrics).to.include('fluxlink_gitlab_hooks{link="prod",state="temporarily_disabled"} 1');
    const requests = await w.metrics.registry.getSingleMetricAsString('fluxlink_gitlab_api_requests_total');
    expect(requests).to.include('endpoint="POST /projects/:id/hooks/:hook_id/test/:trigger",code="201"} 1');
    expect(requests).to.include('endpoint="POST /projects/:id/hooks/:hook_id/test/:trigger",code="422"} 1');
    // A refused test waits 10 minutes before the next one; a hook that stays disabled is not reported again.
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([]);
    expect(w.events.filter((e) => e.type === 'Warning')).to.have.length(2);
    w.clock += 10 * 60_000;
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.writes()).to.deep.equal([`POST /projects/group/app2/hooks/${h2.id}/test/push_events`]);
  });

  it('asks for a catch-up when a push may have been missed: a hook disabled or re-enabled, a rotated Secret, the API back; not in steady state', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1', 'group/app2']);
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps).to.deep.equal([]); // the first values sent are no rotation; nothing changed since
    const h2 = w.ours('group/app2')[0]!;
    h2.alertStatus = 'temporarily_disabled';
    h2.receiverAnswers = 'fail';
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps).to.deep.equal(['prod hook-trouble']);
    await w.pass('prod', ['group/app1', 'group/app2']); // still disabled: not news
    expect(w.catchUps).to.have.length(1);
    h2.alertStatus = 'executable'; // GitLab's backoff ended and a delivery got through
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps).to.deep.equal(['prod hook-trouble', 'prod hook-trouble']);
    w.fake.mutate<Secret>(SECRETS, NS, 'gitlab-webhook', (s) => {
      s.data = { token: b64(ROTATED_TOKEN) };
    });
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps.at(-1)).to.equal('prod secret-rotated');
    w.gitlab.failures.set('GET group/app1', 503); // GitLab's API failing
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps).to.have.length(3);
    w.gitlab.failures.clear();
    await w.pass('prod', ['group/app1', 'group/app2']);
    expect(w.catchUps.at(-1)).to.equal('prod api-recovered');
    expect(w.catchUps).to.have.length(4);
  });

  it("at most 5 test deliveries a minute (GitLab's limit), whatever the number of disabled hooks", async () => {
    const projects = Array.from({ length: 8 }, (_, i) => `many/p${i}`);
    for (const p of projects) w.gitlab.addProject(p, { [API_TOKEN]: 40 });
    w.addLink();
    await w.pass('prod', projects);
    for (const p of projects) w.ours(p)[0]!.alertStatus = 'disabled';
    await w.pass('prod', projects);
    expect(w.writes().filter((x) => x.endsWith('/test/push_events'))).to.have.length(5);
    w.clock += 60_000;
    await w.pass('prod', projects);
    expect(w.writes().filter((x) => x.endsWith('/test/push_events'))).to.have.length(3);
  });

  it('removing spec.gitlab.api: its finalizer, HooksReady and status.hooks go; hooks already made stay (no token to remove them)', async () => {
    w.addLink();
    await w.pass('prod', ['group/app1']);
    w.fake.mutate<GitLabFluxLink>(LINKS, undefined, 'prod', (l) => {
      delete l.spec.gitlab.api;
      delete l.spec.webhook.url;
    });
    await w.pass('prod', ['group/app1']);
    expect(w.link()!.metadata.finalizers ?? []).to.deep.equal([]);
    expect(w.condition()).to.equal(undefined);
    expect(w.link()!.status).not.to.have.property('hooks');
    expect(w.gitlab.hooks('group/app1')).to.have.length(1);
  });
});
