import { expect } from 'chai';
import { Writable } from 'node:stream';
import { type GitLabFluxLink, type GitLabFluxLinkSpec, type GitLabFluxLinkStatus, LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, type GitRepository, type Receiver, RECEIVERS, type Secret } from '../flux/types.js';
import { KubeError } from '../kube/client.js';
import type { KubeObject } from '../meta/object.js';
import { NAMESPACES, SECRETS } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { Outcome } from '../queue/work-queue.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { FINALIZER, LABEL_LINK } from '../reconcile/names.js';
import { REQUEUE_MS } from '../reconcile/outcome.js';
import { CHANGED_WHILE_WRITTEN } from '../reconcile/summarize.js';
import { FakeKube } from '../testing/fake-kube.js';
import { type RunningCaches, settle, startCaches } from '../testing/informers.js';
import { SecretReader } from '../kube/secret-reader.js';
import { LinkController } from './link-controller.js';
import { LinkStatusWriter } from './link-status-writer.js';

// One registry for the file: prom-client's default metrics are per Registry, so a Metrics per test is fine
// too, but there is nothing to gain.
const metrics = new Metrics();

const SPEC: GitLabFluxLinkSpec = {
  gitlab: { url: 'https://gitlab.example.com' },
  trust: { namespaceSelector: { matchLabels: { team: 'a' } } },
  webhook: { secretRef: { namespace: 'flux-system', name: 'gitlab-webhook' } },
};

function linkObject(name: string, spec: GitLabFluxLinkSpec = SPEC): GitLabFluxLink {
  return { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', metadata: { name }, spec } as GitLabFluxLink;
}

function gitRepository(namespace: string, name: string, url: string): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace },
    spec: { url, ref: { branch: 'main' } },
  };
}

/** The cluster every story starts from: two teams' namespaces and four GitRepositories. */
function cluster(): FakeKube {
  const fake = new FakeKube();
  fake.seed(NAMESPACES, { metadata: { name: 'apps', labels: { team: 'a' } } });
  fake.seed(NAMESPACES, { metadata: { name: 'other', labels: { team: 'b' } } });
  fake.seed(GIT_REPOSITORIES, gitRepository('apps', 'app1', 'https://gitlab.example.com/group/app1.git'));
  fake.seed(GIT_REPOSITORIES, gitRepository('apps', 'app2', 'ssh://git@gitlab.example.com/group/app2.git'));
  fake.seed(GIT_REPOSITORIES, gitRepository('apps', 'mirror', 'https://github.com/group/app1.git')); // another host
  fake.seed(GIT_REPOSITORIES, gitRepository('other', 'app3', 'https://gitlab.example.com/group/app3.git')); // namespace not selected
  return fake;
}

interface RecordedEvent {
  object: string;
  type: string;
  reason: string;
  message: string;
}

/** A controller over the fake with its own caches; `restart` gives a fresh controller and caches on the same fake. */
class World {
  readonly events: RecordedEvent[] = [];
  /** What the hooks controller was told after each pass. */
  readonly passes: { link: string; uid: string | undefined; projects: readonly string[] | undefined }[] = [];
  readonly logLines: string[] = [];
  controller!: LinkController;
  caches!: RunningCaches;
  flux = true;
  private tokens = 0;
  clock = Date.parse('2024-06-01T00:00:00Z');

  constructor(
    readonly fake: FakeKube = cluster(),
    private readonly logLevel = 'error',
    private readonly echoTimeoutMs?: number,
  ) {}

  async start(opts: { waitForSync?: boolean } = {}): Promise<this> {
    this.caches = await startCaches(this.fake, opts);
    await settle();
    const recorder = {
      record: async (obj: KubeObject, type: string, reason: string, message: string) => {
        this.events.push({ object: obj.metadata.name, type, reason, message });
      },
    } as unknown as EventRecorder;
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.logLines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger(this.logLevel, sink);
    const now = () => new Date((this.clock += 1_000));
    this.controller = new LinkController({
      client: this.fake,
      caches: this.caches.caches,
      compiler: new LinkCompiler(),
      status: new LinkStatusWriter({ client: this.fake, log, events: recorder, now }),
      webhookSecrets: new SecretReader(this.fake, undefined, () => this.clock),
      fluxInstalled: () => this.flux,
      log,
      metrics,
      events: recorder,
      now,
      newToken: () => `token-${++this.tokens}-`.padEnd(64, 'x'),
      echoTimeoutMs: this.echoTimeoutMs,
      onPass: (link, obj, projects) => this.passes.push({ link, uid: obj?.metadata.uid, projects }),
    });
    return this;
  }

  async restart(): Promise<void> {
    await this.caches.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.caches.stop();
  }

  /** One reconcile, then let the watches bring the caches up to date. */
  async reconcile(name: string): Promise<Outcome> {
    const outcome = await this.controller.reconcile(name);
    await settle();
    return outcome;
  }

  /** The writes made by one reconcile. */
  async writesOf(name: string): Promise<{ outcome: Outcome; writes: string[] }> {
    this.fake.clearWrites();
    const outcome = await this.reconcile(name);
    return { outcome, writes: this.fake.writeLog() };
  }

  link(name: string): GitLabFluxLink {
    const l = this.fake.object<GitLabFluxLink>(LINKS, undefined, name);
    if (!l) throw new Error(`link ${name} is gone`);
    return l;
  }

  status(name: string): GitLabFluxLinkStatus {
    return this.link(name).status ?? {};
  }

  condition(name: string, type: string) {
    return this.status(name).conditions?.find((c) => c.type === type);
  }

  /** notification-controller's part: every Receiver Ready, with a webhook path. */
  markReceiversReady(): void {
    for (const r of this.fake.objects<Receiver>(RECEIVERS)) {
      if (r.status?.webhookPath) continue;
      this.fake.setStatus(RECEIVERS, r.metadata.namespace, r.metadata.name, {
        observedGeneration: r.metadata.generation,
        webhookPath: `/hook/${'ab'.repeat(32)}`,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'Receiver initialized for path: /hook/...' }],
      });
    }
  }

  tokenOf(namespace: string, name: string): string | undefined {
    const b64 = this.fake.object<Secret>(SECRETS, namespace, name)?.data?.token;
    return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString();
  }

  names(r: typeof SECRETS): string[] {
    return this.fake
      .objects(r)
      .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
      .sort();
  }
}

/** controller_runtime_reconcile_errors_total and controller_runtime_reconcile_total{result="error"}. */
async function reconcileCounts(): Promise<{ errors: number; errorResults: number }> {
  const errors = (await metrics.reconcileErrors.get()).values.find((v) => v.labels.controller === 'gitlabfluxlink')?.value ?? 0;
  const errorResults =
    (await metrics.reconcileTotal.get()).values.find((v) => v.labels.controller === 'gitlabfluxlink' && v.labels.result === 'error')
      ?.value ?? 0;
  return { errors, errorResults };
}

const FIRST_PASS = [
  'create secrets apps/gfl-app1',
  'create secrets apps/gfl-app2',
  'create receivers apps/gfl-app1',
  'create receivers apps/gfl-app2',
  'update-status gitlabfluxlinks team-a',
];

describe('LinkController', () => {
  let world: World;
  afterEach(async () => {
    await world?.stop();
  });

  async function worldWithLink(spec: GitLabFluxLinkSpec = SPEC, logLevel = 'error'): Promise<World> {
    world = new World(cluster(), logLevel);
    world.fake.seed(LINKS, linkObject('team-a', spec));
    return world.start();
  }

  describe('a new link', () => {
    it('first reconcile: no finalizer (the link owns its objects), Secrets before Receivers for the two matching repositories, one status write', async () => {
      await worldWithLink();
      const { outcome, writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal(FIRST_PASS);
      expect(outcome).to.deep.equal({ kind: 'done' });
      expect(world.link('team-a').metadata.finalizers ?? []).to.deep.equal([]);
      const owner = { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: 'team-a', uid: world.link('team-a').metadata.uid };
      for (const o of [...world.fake.objects(SECRETS), ...world.fake.objects(RECEIVERS)])
        expect(o.metadata.ownerReferences).to.deep.equal([owner]);
      expect(world.names(SECRETS)).to.deep.equal(['apps/gfl-app1', 'apps/gfl-app2']);
      expect(world.names(RECEIVERS)).to.deep.equal(['apps/gfl-app1', 'apps/gfl-app2']);
      const status = world.status('team-a');
      expect(status).to.include({ observedGeneration: 1, repositories: 2, readyReceivers: 0, conflicts: 0 });
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'False', reason: 'Progressing' });
      expect(world.condition('team-a', 'Reconciling')).to.include({ status: 'True' });
      expect(world.condition('team-a', 'Stalled')).to.equal(undefined);
      expect(world.events.map((e) => `${e.type} ${e.reason}: ${e.message}`)).to.deep.equal([
        'Normal Progressing: 2 repositories linked, 0 receivers ready',
        'Normal ReceiversChanged: Receivers 2 created',
      ]);
    });

    it("tells the hooks controller the projects of the link's linked GitRepositories after each pass; only a wake-up once deleted", async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      const uid = world.link('team-a').metadata.uid;
      expect(world.passes).to.deep.equal([{ link: 'team-a', uid, projects: ['group/app1', 'group/app2'] }]);
      world.fake.remove(LINKS, undefined, 'team-a');
      await world.reconcile('team-a');
      expect(world.passes.at(-1)).to.deep.equal({ link: 'team-a', uid: undefined, projects: undefined }); // gone: no finalizer holds it
    });

    it('creates Receivers that point at the GitRepository and at a Secret holding a fresh 64-character token', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      const receiver = world.fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app1')!;
      expect(receiver.spec).to.deep.include({ type: 'generic-hmac', secretRef: { name: 'gfl-app1' } });
      expect(receiver.spec.resources).to.deep.equal([{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'app1' }]);
      expect(receiver.metadata.ownerReferences).to.deep.equal([
        { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: 'team-a', uid: world.link('team-a').metadata.uid },
      ]);
      expect(world.tokenOf('apps', 'gfl-app1')).to.have.length(64);
      expect(world.tokenOf('apps', 'gfl-app1')).not.to.equal(world.tokenOf('apps', 'gfl-app2'));
    });

    it('once the Receivers are Ready: one status write (Ready=True), then steady state writes nothing at all', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.markReceiversReady();
      await settle();

      const second = await world.writesOf('team-a');
      expect(second.writes).to.deep.equal(['update-status gitlabfluxlinks team-a']);
      expect(world.condition('team-a', 'Ready')).to.include({
        status: 'True',
        reason: 'Succeeded',
        message: '2 repositories linked, 2 receivers ready',
      });
      expect(world.condition('team-a', 'Reconciling')).to.equal(undefined);
      expect(world.status('team-a').readyReceivers).to.equal(2);

      const third = await world.writesOf('team-a');
      expect(third.writes).to.deep.equal([], 'steady state: zero writes, status included');
      expect(third.outcome).to.deep.equal({ kind: 'done' });
      const fourth = await world.writesOf('team-a');
      expect(fourth.writes).to.deep.equal([]);
    });

    it('keeps every token across a restart (new controller, new caches): no write at all', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.markReceiversReady();
      await settle();
      await world.reconcile('team-a');
      const before = [world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')];

      await world.restart();
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([]);
      expect([world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')]).to.deep.equal(before);
    });

    it('waits for the echo of its own writes instead of redoing them while its cache is behind', async () => {
      await worldWithLink();
      world.fake.holdWatches(); // the caches will not see what the first reconcile creates
      await world.reconcile('team-a');
      const tokens = [world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')];
      const { outcome, writes } = await world.writesOf('team-a');
      expect(outcome).to.deep.equal({ kind: 'requeueAfter', ms: 250 });
      expect(writes).to.deep.equal([], 'no create, patch or status write before the caches caught up');
      world.fake.releaseWatches();
      await settle();
      const after = (await world.writesOf('team-a')).writes;
      expect(
        after.filter((w) => /secrets|receivers/.test(w)),
        'no Secret or Receiver written again once they did',
      ).to.deep.equal([]);
      expect([world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')]).to.deep.equal(tokens);
    });

    it('never overwrites a token when its cache is still behind after the echo timeout (AlreadyExists is fine)', async () => {
      world = await new World(cluster(), 'error', 0).start();
      world.fake.seed(LINKS, linkObject('team-a', SPEC));
      await settle();
      world.fake.holdWatches();
      await world.reconcile('team-a');
      const tokens = [world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')];
      await new Promise((r) => setTimeout(r, 2));
      const { outcome, writes } = await world.writesOf('team-a');
      expect(outcome, 'no error: the next pass, once the cache caught up, decides').to.deep.equal({
        kind: 'requeueAfter',
        ms: REQUEUE_MS.writeSuperseded,
      });
      expect(writes.filter((w) => w.startsWith('create'))).to.have.length(4, 'the stale view tries to create again');
      expect(writes.some((w) => w.startsWith('patch secrets'))).to.equal(false);
      expect([world.tokenOf('apps', 'gfl-app1'), world.tokenOf('apps', 'gfl-app2')]).to.deep.equal(tokens);
      world.fake.releaseWatches();
    });
  });

  describe('invalid or unusable links', () => {
    it('an invalid spec (spec.gitlab.url ftp://x) stalls with a message naming the field and creates nothing', async () => {
      await worldWithLink({ ...SPEC, gitlab: { url: 'ftp://x' } });
      const { outcome, writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal(['update-status gitlabfluxlinks team-a']);
      expect(outcome).to.deep.equal({ kind: 'done' }, 'terminal until the spec changes: no requeue');
      expect(world.condition('team-a', 'Stalled')).to.include({ status: 'True', reason: 'InvalidSpec' });
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'False', reason: 'InvalidSpec' });
      expect(world.condition('team-a', 'Ready')!.message).to.contain('spec.gitlab.url');
      expect(world.condition('team-a', 'Reconciling')).to.equal(undefined);
      expect(world.status('team-a').observedGeneration).to.equal(1);
      expect(world.fake.objects(SECRETS)).to.deep.equal([]);
      expect(world.fake.objects(RECEIVERS)).to.deep.equal([]);
      expect((await world.writesOf('team-a')).writes).to.deep.equal([], 'the same verdict again writes nothing');
    });

    it('a fixed spec recovers from Stalled', async () => {
      await worldWithLink({ ...SPEC, gitlab: { url: 'ftp://x' } });
      await world.reconcile('team-a');
      world.fake.mutate<GitLabFluxLink>(LINKS, undefined, 'team-a', (l) => (l.spec = SPEC));
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal(FIRST_PASS);
      expect(world.condition('team-a', 'Stalled')).to.equal(undefined);
      expect(world.status('team-a').observedGeneration).to.equal(2);
    });

    it('Flux missing: Ready=False FluxNotInstalled, nothing created, checked again after a delay', async () => {
      await worldWithLink();
      world.flux = false;
      const { outcome, writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal(['update-status gitlabfluxlinks team-a']);
      expect(outcome.kind).to.equal('requeueAfter');
      expect((outcome as { ms: number }).ms).to.be.greaterThan(0);
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'False', reason: 'FluxNotInstalled' });
      expect(world.condition('team-a', 'Stalled')).to.equal(undefined, 'not terminal: Flux may be installed later');
      expect(world.fake.objects(RECEIVERS)).to.deep.equal([]);
      world.flux = true;
      expect((await world.writesOf('team-a')).writes).to.deep.equal(FIRST_PASS);
    });

    it('a suspended link is left alone', async () => {
      await worldWithLink({ ...SPEC, suspend: true });
      const { outcome, writes } = await world.writesOf('team-a');
      expect(outcome.kind).to.equal('done');
      expect(writes).to.deep.equal([], 'nothing');
    });

    it('waits for the caches to sync before deciding anything', async () => {
      world = new World(cluster());
      world.fake.seed(LINKS, linkObject('team-a'));
      world.fake.unserve(RECEIVERS); // the Receiver cache cannot sync (yet Flux is reported installed)
      await world.start({ waitForSync: false });
      const { outcome, writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([]);
      expect(outcome.kind).to.equal('requeueAfter');
    });
  });

  describe('deletion', () => {
    it('a deleted link of an earlier version (deletionTimestamp + its former finalizer) deletes everything labelled with it, then the finalizer', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = [FINALIZER]));
      world.fake.seed(SECRETS, {
        metadata: {
          name: 'unrelated',
          namespace: 'apps',
          labels: { 'app.kubernetes.io/managed-by': 'gitlab-flux-link', [LABEL_LINK]: 'team-b' },
        },
      });
      world.fake.remove(LINKS, undefined, 'team-a');
      expect(world.link('team-a').metadata.deletionTimestamp).to.be.a('string');

      const { outcome, writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([
        'delete receivers apps/gfl-app1',
        'delete receivers apps/gfl-app2',
        'delete secrets apps/gfl-app1',
        'delete secrets apps/gfl-app2',
        'patch gitlabfluxlinks team-a',
      ]);
      expect(outcome).to.deep.equal({ kind: 'done' });
      expect(world.fake.object(LINKS, undefined, 'team-a')).to.equal(undefined, 'gone once the finalizer is removed');
      expect(world.names(RECEIVERS)).to.deep.equal([]);
      expect(world.names(SECRETS)).to.deep.equal(['apps/unrelated']);
    });

    it('keeps other finalizers on the link when removing its former one', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = [FINALIZER, 'example.com/other']));
      world.fake.remove(LINKS, undefined, 'team-a');
      await world.reconcile('team-a');
      expect(world.link('team-a').metadata.finalizers).to.deep.equal(['example.com/other']);
    });

    it('a link of an earlier version loses its former finalizer at its next pass', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = [FINALIZER, 'example.com/other']));
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal(['patch gitlabfluxlinks team-a']);
      expect(world.link('team-a').metadata.finalizers).to.deep.equal(['example.com/other']);
    });

    it("a link that another finalizer holds (the hooks controller's) has its objects deleted at once, not when it is gone", async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = ['fluxlink.dev/gitlab-hooks']));
      world.fake.remove(LINKS, undefined, 'team-a');
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([
        'delete receivers apps/gfl-app1',
        'delete receivers apps/gfl-app2',
        'delete secrets apps/gfl-app1',
        'delete secrets apps/gfl-app2',
      ]);
      expect(world.link('team-a').metadata.finalizers).to.deep.equal(['fluxlink.dev/gitlab-hooks']);
      await settle();
      expect((await world.writesOf('team-a')).writes).to.deep.equal([], 'nothing left to delete: no write at the next pass');
    });

    it('a link gone without our finalizer still leaves nothing behind', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = []));
      world.fake.remove(LINKS, undefined, 'team-a');
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([
        'delete receivers apps/gfl-app1',
        'delete receivers apps/gfl-app2',
        'delete secrets apps/gfl-app1',
        'delete secrets apps/gfl-app2',
      ]);
    });

    it('a GitRepository moved to another host loses its Receiver and Secret (Receiver first), with preconditions', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      const seen = [
        world.fake.object(RECEIVERS, 'apps', 'gfl-app2')!.metadata.resourceVersion,
        world.fake.object(SECRETS, 'apps', 'gfl-app2')!.metadata.resourceVersion,
      ];
      const preconditions: unknown[] = [];
      world.fake.reactors.push(
        (w, body) => (w.verb === 'delete' && preconditions.push((body as { resourceVersion?: string }).resourceVersion), undefined),
      );
      world.fake.mutate<GitRepository>(GIT_REPOSITORIES, 'apps', 'app2', (r) => (r.spec.url = 'https://github.com/group/app2.git'));
      await settle();
      const { writes } = await world.writesOf('team-a');
      expect(writes).to.deep.equal([
        'delete receivers apps/gfl-app2',
        'delete secrets apps/gfl-app2',
        'update-status gitlabfluxlinks team-a',
      ]);
      expect(preconditions).to.deep.equal(seen);
      expect(world.status('team-a').repositories).to.equal(1);
    });

    it('the finalizer never deletes an object another link adopted after the list (deletes carry a precondition)', async () => {
      // Guards the precondition on the finalizer's deletes (link-controller.ts deleteEverythingOf): each delete
      // carries the resourceVersion seen in the list, so a Secret/Receiver that a younger link adopted in the
      // meantime (the dying link no longer counts as live, so the plan adopts its objects) gets a 409 and stays.
      // Without it the Secret would be deleted and the younger link would re-create it with a new token.
      await worldWithLink();
      await world.reconcile('team-a');
      world.fake.remove(LINKS, undefined, 'team-a');
      world.fake.afterList = (r, opts) => {
        if (r === SECRETS && opts.labelSelector?.includes('team-a')) {
          world.fake.afterList = undefined;
          world.fake.mutate<Secret>(SECRETS, 'apps', 'gfl-app1', (s) => (s.metadata.labels![LABEL_LINK] = 'team-b')); // adopted by team-b
        }
      };
      await world.reconcile('team-a');
      expect(world.names(SECRETS)).to.include('apps/gfl-app1');
    });
  });

  describe('ownership', () => {
    it('two links matching the same repository: only the older creates objects; the younger reports the conflict and writes nothing else', async () => {
      world = new World(cluster());
      world.fake.seed(LINKS, linkObject('team-a'));
      world.fake.seed(LINKS, linkObject('team-b', { ...SPEC, trust: { ...SPEC.trust, projects: ['group/app1'] } }));
      await world.start();

      const younger = await world.writesOf('team-b');
      expect(younger.writes).to.deep.equal(['update-status gitlabfluxlinks team-b']);
      expect(world.status('team-b')).to.include({ repositories: 0, conflicts: 1 });
      expect(world.status('team-b').entries).to.deep.equal([
        { gitRepository: 'apps/app1', project: 'group/app1', receiver: '', ready: false, message: 'managed by link team-a' },
      ]);
      expect(world.condition('team-b', 'Ready')!.message).to.contain('1 managed by another link');

      const older = await world.writesOf('team-a');
      expect(older.writes).to.deep.equal(FIRST_PASS);
      expect((await world.writesOf('team-b')).writes).to.deep.equal([], 'the younger link stays quiet');
      expect(world.fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app1')!.metadata.labels![LABEL_LINK]).to.equal('team-a');
    });

    it('a hand-suspended Receiver is restored by one patch, and once Flux has seen it nothing more is written', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      world.markReceiversReady();
      await settle();
      await world.reconcile('team-a');
      const observe = () => {
        const r = world.fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app1')!;
        world.fake.setStatus(RECEIVERS, 'apps', 'gfl-app1', { ...r.status, observedGeneration: r.metadata.generation });
      };
      world.fake.mutate<Receiver>(RECEIVERS, 'apps', 'gfl-app1', (r) => (r.spec.suspend = true));
      observe();
      await settle();
      const restore = await world.writesOf('team-a');
      // The patch bumps the Receiver's generation: until Flux observes it, the link reports Progressing.
      expect(restore.writes.filter((w) => !w.includes('gitlabfluxlinks'))).to.deep.equal(['patch receivers apps/gfl-app1']);
      expect(world.fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app1')!.spec.suspend).to.equal(undefined);
      observe();
      await settle();
      await world.reconcile('team-a');
      expect(world.condition('team-a', 'Ready')!.status).to.equal('True');
      expect((await world.writesOf('team-a')).writes).to.deep.equal([]);
    });

    it('a Secret with the desired name that gitlab-flux-link does not manage blocks the repository, and the status says so', async () => {
      // The Secret/Receiver caches only hold objects labelled managed-by=gitlab-flux-link (main.ts), so the plan
      // cannot see a foreign object. Guards what link-controller.ts applyOne() does instead: on AlreadyExists it
      // reads the object, reports it as not managed, and the Receiver is not created (it would point at a Secret
      // whose token the operator does not know, and the link would stay Progressing without a hint).
      world = new World(cluster());
      world.fake.seed(LINKS, linkObject('team-a'));
      world.fake.seed(SECRETS, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gfl-app1', namespace: 'apps' },
        type: 'Opaque',
        data: { token: Buffer.from('someone else').toString('base64') },
      });
      await world.start();
      const { writes } = await world.writesOf('team-a');
      expect(writes).not.to.include('create receivers apps/gfl-app1', 'no Receiver may use a Secret the operator does not manage');
      const entry = world.status('team-a').entries!.find((e) => e.gitRepository === 'apps/app1');
      expect(entry?.message).to.contain('not managed by gitlab-flux-link');
    });

    it('adopts the objects of a link that no longer exists, keeping their tokens', async () => {
      await worldWithLink();
      await world.reconcile('team-a');
      const token = world.tokenOf('apps', 'gfl-app1');
      // team-a vanishes without cleaning up (finalizer stripped by hand, objects left); team-c takes over.
      world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.finalizers = []));
      world.fake.remove(LINKS, undefined, 'team-a');
      world.fake.seed(LINKS, linkObject('team-c'));
      await settle();
      const { writes } = await world.writesOf('team-c');
      expect(writes).to.deep.equal([
        'patch secrets apps/gfl-app1',
        'patch secrets apps/gfl-app2',
        'patch receivers apps/gfl-app1',
        'patch receivers apps/gfl-app2',
        'update-status gitlabfluxlinks team-c',
      ]);
      expect(world.fake.object<Secret>(SECRETS, 'apps', 'gfl-app1')!.metadata.labels![LABEL_LINK]).to.equal('team-c');
      expect(world.tokenOf('apps', 'gfl-app1')).to.equal(token);
    });

    it('adopting objects the garbage collector removes under it: no error, looks again soon and makes them anew', async () => {
      // The older link is deleted: its objects are adoptable at once, while the garbage collector (and that link's
      // last pass) delete them. Those deletes' watch events name the deleted link, so only a requeue brings the
      // younger link back to make them.
      await worldWithLink();
      await world.reconcile('team-a');
      world.markReceiversReady();
      world.fake.remove(LINKS, undefined, 'team-a');
      world.fake.seed(LINKS, linkObject('team-c'));
      await settle();
      world.fake.holdWatches(); // the caches still show team-a's objects, Receivers Ready
      for (const n of ['gfl-app1', 'gfl-app2']) {
        world.fake.remove(SECRETS, 'apps', n);
        world.fake.remove(RECEIVERS, 'apps', n);
      }
      const first = await world.writesOf('team-c');
      expect(first.writes.filter((w) => w.startsWith('patch'))).to.have.length(4, 'every adoption patch met a 404');
      expect(first.outcome).to.deep.equal({ kind: 'requeueAfter', ms: REQUEUE_MS.writeSuperseded });
      expect(world.condition('team-c', 'Ready'), 'no error, and not Ready on Receivers that are gone').to.include({
        status: 'False',
        reason: 'Progressing',
      });
      expect(world.status('team-c').entries!.map((e) => e.message)).to.deep.equal([CHANGED_WHILE_WRITTEN, CHANGED_WHILE_WRITTEN]);
      world.fake.releaseWatches();
      await settle();
      const again = await world.writesOf('team-c');
      expect(again.writes.filter((w) => w.startsWith('create')).sort()).to.deep.equal([
        'create receivers apps/gfl-app1',
        'create receivers apps/gfl-app2',
        'create secrets apps/gfl-app1',
        'create secrets apps/gfl-app2',
      ]);
      expect(world.fake.object<Secret>(SECRETS, 'apps', 'gfl-app1')!.metadata.labels![LABEL_LINK]).to.equal('team-c');
    });
  });

  describe('errors', () => {
    it('a failed write: Ready=False ReconciliationFailed, Reconciling ProgressingWithRetry, retry with backoff, generation not observed', async () => {
      await worldWithLink();
      world.fake.failWrites(
        (w) => w.verb === 'create' && w.resource === 'receivers' && w.name === 'gfl-app2',
        new KubeError(500, 'InternalError', 'etcd is sad'),
      );
      const before = await reconcileCounts();
      const { outcome, writes } = await world.writesOf('team-a');
      expect(outcome.kind).to.equal('retry');
      const after = await reconcileCounts();
      expect(
        { errors: after.errors - before.errors, errorResults: after.errorResults - before.errorResults },
        'both error series count it',
      ).to.deep.equal({ errors: 1, errorResults: 1 });
      expect(writes).to.deep.equal(FIRST_PASS);
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'False', reason: 'ReconciliationFailed' });
      expect(world.condition('team-a', 'Ready')!.message).to.contain('create Receiver apps/gfl-app2').and.contain('etcd is sad');
      expect(world.condition('team-a', 'Reconciling')).to.include({ status: 'True', reason: 'ProgressingWithRetry' });
      expect(world.status('team-a').observedGeneration).to.equal(undefined);
    });

    it('a conflict on the status write is retried quietly and soon', async () => {
      await worldWithLink();
      world.fake.failWrites((w) => w.verb === 'update-status', new KubeError(409, 'Conflict', 'the object has been modified'), 1);
      const { outcome } = await world.writesOf('team-a');
      expect(outcome.kind).to.equal('requeueAfter');
    });

    it('a link changed between its read and the finalizer patch is retried quietly, like a conflict', async () => {
      // Guards the finalizer patches (link-controller.ts setFinalizers): a merge patch carrying the
      // metadata.resourceVersion it was computed from, so a link changed meanwhile gets a 409 Conflict and the
      // reconcile is retried soon, not counted as an error. (A JSON patch with a `test` of resourceVersion
      // would get 422 Invalid instead, which isConflict() does not take for a conflict.)
      await worldWithLink();
      world.fake.afterList = (r) => {
        if (r !== LINKS) return;
        world.fake.afterList = undefined;
        world.fake.mutate<KubeObject>(LINKS, undefined, 'team-a', (l) => (l.metadata.labels = { touched: 'yes' }));
      };
      const { outcome } = await world.writesOf('team-a');
      expect(outcome.kind).to.equal('requeueAfter');
    });
  });

  it('never logs a token or a webhook path, even at debug level', async () => {
    await worldWithLink(SPEC, 'debug');
    await world.reconcile('team-a');
    world.markReceiversReady();
    await settle();
    await world.reconcile('team-a');
    world.fake.remove(LINKS, undefined, 'team-a');
    await world.reconcile('team-a');
    const logs = world.logLines.join('\n');
    expect(world.logLines.length).to.be.greaterThan(0, 'debug logging was on');
    expect(logs).not.to.contain('token-1-');
    expect(logs).not.to.contain('/hook/');
  });
  describe('weak webhook Secrets: WebhookSecretReady', () => {
    const webhookSecret = (name: string, data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'flux-system' },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    const SIGNED: GitLabFluxLinkSpec = {
      ...SPEC,
      webhook: { ...SPEC.webhook, signingSecretRef: { namespace: 'flux-system', name: 'gitlab-signing', key: 'key' } },
    };

    it('a webhook token under 16 characters: WebhookSecretReady=False WeakWebhookSecret naming the field and key, Ready False, looked at again in 30 s', async () => {
      world = new World(cluster());
      world.fake.seed(SECRETS, webhookSecret('gitlab-webhook', { token: 'tiny-hook' }));
      world.fake.seed(LINKS, linkObject('team-a', SPEC));
      await world.start();
      await world.reconcile('team-a');
      world.markReceiversReady();
      await settle();
      const outcome = await world.reconcile('team-a');
      const condition = world.condition('team-a', 'WebhookSecretReady');
      expect(condition).to.include({ status: 'False', reason: 'WeakWebhookSecret' });
      expect(condition!.message).to.equal(
        'spec.webhook.secretRef (Secret flux-system/gitlab-webhook, key token) is not acceptable: shorter than 16 characters',
      );
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'False', reason: 'WeakWebhookSecret', message: condition!.message });
      expect(world.condition('team-a', 'ReceiversReady')).to.include({ status: 'True' });
      expect(outcome).to.deep.equal({ kind: 'requeueAfter', ms: 30_000 });
      expect(JSON.stringify(world.status('team-a'))).to.not.include('tiny-hook');

      // Fixed: the next look (30 s on, past the reader's 10 s) clears the condition and Ready is True again.
      world.fake.mutate<KubeObject>(
        SECRETS,
        'flux-system',
        'gitlab-webhook',
        (o) => ((o as Secret).data = { token: Buffer.from('a-long-enough-webhook-token').toString('base64') }),
      );
      world.clock += 30_000;
      expect(await world.reconcile('team-a')).to.deep.equal({ kind: 'done' });
      expect(world.condition('team-a', 'WebhookSecretReady')).to.equal(undefined);
      expect(world.condition('team-a', 'Ready')).to.include({ status: 'True', message: '2 repositories linked, 2 receivers ready' });
    });

    for (const [name, key, reason] of [
      ['an empty whsec_ key', 'whsec_', 'shorter than 16 bytes (0)'],
      ['whsec_!!!!', 'whsec_!!!!', 'a whsec_ key that is not canonical base64 (standard alphabet, with padding)'],
    ] as const) {
      it(`a signing key ${name}: the condition names spec.webhook.signingSecretRef, never the value`, async () => {
        world = new World(cluster());
        world.fake.seed(SECRETS, webhookSecret('gitlab-webhook', { token: 'a-long-enough-webhook-token' }));
        world.fake.seed(SECRETS, webhookSecret('gitlab-signing', { key }));
        world.fake.seed(LINKS, linkObject('team-a', SIGNED));
        await world.start();
        await world.reconcile('team-a');
        expect(world.condition('team-a', 'WebhookSecretReady')).to.include({
          status: 'False',
          reason: 'WeakWebhookSecret',
          message: `spec.webhook.signingSecretRef (Secret flux-system/gitlab-signing, key key) is not acceptable: ${reason}`,
        });
      });
    }

    it("acceptable or missing Secrets state no WebhookSecretReady (a missing one is the webhook's 503 and log)", async () => {
      world = new World(cluster());
      world.fake.seed(SECRETS, webhookSecret('gitlab-webhook', { token: 'a-long-enough-webhook-token' }));
      world.fake.seed(LINKS, linkObject('team-a', SIGNED));
      await world.start();
      expect(await world.reconcile('team-a')).to.deep.equal({ kind: 'done' });
      expect(world.condition('team-a', 'WebhookSecretReady')).to.equal(undefined);
    });
  });
});
