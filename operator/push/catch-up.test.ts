import { expect } from 'chai';
import { Writable } from 'node:stream';
import { type CatchUpRecord, type GitLabFluxLink, type GitLabFluxLinkSpec, LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, type GitRepository, type Namespace } from '../flux/types.js';
import { GitLabClient } from '../gitlab-api/client.js';
import { GitLabConnections } from '../gitlab-api/connections.js';
import { CACHE_TRANSFORMS } from '../kube/slim.js';
import type { KubeObject } from '../meta/object.js';
import { NAMESPACES } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { FakeGitLab } from '../testing/fake-gitlab.js';
import { FakeKube } from '../testing/fake-kube.js';
import { type RunningInformer, settle, startInformer } from '../testing/informers.js';
import { CatchUp } from './catch-up.js';
import { ReceiverIndex } from './receiver-index.js';

const TOKEN = 'glpat-catch-up-token-0123456789';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function repo(name: string, project: string, ref: GitRepository['spec']['ref'], revision?: string, suspend = false): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { namespace: 'apps', name },
    spec: { url: `https://gitlab.example.com/${project}.git`, interval: '10m', ref, ...(suspend ? { suspend } : {}) },
    ...(revision ? { status: { artifact: { revision } } } : {}),
  } as GitRepository;
}

/** A catch-up over a fake cluster (informers) and a fake GitLab (through the real client); triggers are recorded. */
class World {
  readonly kube = new FakeKube();
  readonly gitlab = new FakeGitLab();
  readonly metrics = new Metrics();
  readonly triggered: string[] = [];
  /** How many requests GitLab had had when each trigger was made. */
  readonly requestsAtTrigger: number[] = [];
  /** What the operator's caches say (false: the GitRepositories are still being listed). */
  cachesSynced = true;
  readonly records: CatchUpRecord[] = [];
  readonly events: string[] = [];
  running: Array<RunningInformer<KubeObject>> = [];
  catchUp!: CatchUp;

  /** `api`: fields of spec.gitlab.api (null: none); `outboundOnly`: no webhook.url. */
  async start(repos: GitRepository[], o: { api?: Record<string, unknown> | null; outboundOnly?: boolean } = {}): Promise<this> {
    await this.gitlab.start();
    const p = this.gitlab.addProject('team/app', { [TOKEN]: 40 });
    p.branches.set('main', A).set('dev', B);
    p.tags.push({ name: 'v1.0.0', commit: A }, { name: 'v1.1.0', commit: B });
    this.gitlab.addProject('team/lib', { [TOKEN]: 40 }).branches.set('master', C);
    this.kube.seed(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } } as Namespace);
    // The link manages GitRepositories cloned from its GitLab: here the fake one.
    for (const r of repos)
      this.kube.seed(GIT_REPOSITORIES, {
        ...r,
        spec: { ...r.spec, url: r.spec.url.replace('https://gitlab.example.com', this.gitlab.url) },
      });
    this.kube.seed(LINKS, {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name: 'prod', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {
        gitlab: {
          url: this.gitlab.url,
          ...(o.api === null ? {} : { api: { tokenSecretRef: { namespace: 'sys', name: 'gitlab-api' }, ...o.api } }),
        },
        webhook: {
          secretRef: { namespace: 'sys', name: 'hook' },
          ...(o.outboundOnly || o.api === null ? {} : { url: 'https://hooks.example.com/hooks/prod' }),
        },
      } as GitLabFluxLinkSpec,
    } as GitLabFluxLink);
    const links = await startInformer<GitLabFluxLink>(this.kube, LINKS);
    const gitRepositories = await startInformer<GitRepository>(this.kube, GIT_REPOSITORIES, {
      transform: CACHE_TRANSFORMS.gitRepositories,
    });
    const namespaces = await startInformer<Namespace>(this.kube, NAMESPACES);
    this.running = [links, gitRepositories, namespaces] as Array<RunningInformer<KubeObject>>;
    const index = new ReceiverIndex(links.informer, gitRepositories.informer, namespaces.informer, new LinkCompiler());
    const log = createLogger('debug', new Writable({ write: (_c, _e, done) => done() }));
    this.catchUp = new CatchUp({
      index,
      gitRepositories: gitRepositories.informer,
      connections: new GitLabConnections(
        (endpoint, code) => this.metrics.gitlabApiRequests.inc({ endpoint, code }),
        // The client's clock moves only when it waits (the link's budget, Retry-After): no real waiting in a unit test.
        (options) => {
          let clock = 0;
          return new GitLabClient({
            ...options,
            now: () => clock,
            sleep: async (ms) => {
              clock += ms;
            },
          });
        },
      ),
      secretValue: async (ref) => (ref.name === 'gitlab-api' ? TOKEN : undefined),
      trigger: (link, target, tag) => {
        this.triggered.push(`${link} ${target.namespace}/${target.gitRepository}${tag ? ' tag' : ''}`);
        this.requestsAtTrigger.push(this.gitlab.requests.length);
        return 'queued';
      },
      records: { recordCatchUp: (_l, r) => this.records.push(r) },
      events: {
        record: async (_o: KubeObject, type: string, reason: string, message: string) => {
          this.events.push(`${type} ${reason}: ${message}`);
        },
      } as unknown as EventRecorder,
      metrics: this.metrics,
      log,
      paused: true,
      cachesSynced: () => this.cachesSynced,
      now: () => new Date('2026-01-01T00:00:00Z'),
      retryMs: 50,
    });
    return this;
  }

  async stop(): Promise<void> {
    this.catchUp?.close();
    this.running.forEach((r) => r.informer.stop());
    await Promise.all(this.running.map((r) => r.done));
    await this.gitlab.stop();
  }

  gitlabRequests(): string[] {
    return this.gitlab.requests.map((r) => decodeURIComponent(r.path.replace('/api/v4/projects/', '')));
  }
}

describe('catch-up: GitRepositories behind GitLab are triggered (fake GitLab through the real client)', () => {
  let w: World;
  afterEach(() => w.stop());

  it('branch, name and tag refs: the ones behind are triggered, one request per project + ref, a pinned commit never', async () => {
    w = await new World().start([
      repo('main-current', 'team/app', { branch: 'main' }, `main@sha1:${A}`),
      repo('main-behind', 'team/app', { name: 'refs/heads/main' }, `refs/heads/main@sha1:${C}`),
      repo('dev-old-form', 'team/app', { branch: 'dev' }, `dev/${A}`),
      repo('tag-current', 'team/app', { tag: 'v1.1.0' }, `v1.1.0@sha1:${B}`),
      repo('never-fetched', 'team/lib', undefined),
      repo('pinned', 'team/app', { commit: A }, `sha1:${C}`),
      repo('gone-branch', 'team/app', { branch: 'deleted' }, `deleted@sha1:${A}`),
      repo('suspended', 'team/app', { branch: 'main' }, `main@sha1:${C}`, true),
    ]);
    const record = await w.catchUp.run('prod', 'leader');
    expect(w.triggered.sort()).to.deep.equal(['prod apps/dev-old-form', 'prod apps/main-behind', 'prod apps/never-fetched']);
    expect(w.gitlabRequests().sort()).to.deep.equal([
      'team/app/repository/branches/deleted',
      'team/app/repository/branches/dev',
      'team/app/repository/branches/main',
      'team/app/repository/tags/v1.1.0',
      'team/lib/repository/branches/master',
    ]);
    expect(record).to.deep.equal({ reason: 'leader', at: '2026-01-01T00:00:00.000Z', checked: 7, triggered: 3, requests: 5 });
    expect(w.records).to.deep.equal([record]);
    expect(await w.metrics.registry.getSingleMetricAsString('fluxlink_catchup_triggers_total')).to.include(
      'fluxlink_catchup_triggers_total{reason="leader"} 3',
    );
    expect(w.events).to.have.length(1);
    expect(w.events[0]).to.match(
      /^Normal CatchUp: Catch-up \(leader\): 3 of 7 GitRepositories were behind GitLab and were triggered: apps\//,
    );
  });

  it('triggers the GitRepositories of each answer as it arrives (Flux fetches while GitLab is still being asked)', async () => {
    w = await new World().start([
      repo('app', 'team/app', { branch: 'main' }, `main@sha1:${C}`),
      repo('lib', 'team/lib', { branch: 'master' }, `master@sha1:${A}`),
      repo('never-fetched', 'team/lib', undefined),
    ]);
    await w.catchUp.run('prod', 'start');
    expect(w.triggered).to.have.length(3);
    // team/app's answer triggers app at once; team/lib's (master, also the default branch) both of its own.
    expect(w.requestsAtTrigger).to.deep.equal([1, 2, 2]);
  });

  it('semver: triggered when the newest tag is not its artifact, once per change of the tags; a Tag Push', async () => {
    w = await new World().start([
      repo('semver-behind', 'team/app', { semver: '1.x' }, `v1.0.0@sha1:${A}`),
      repo('semver-current', 'team/app', { semver: '>=1.0.0' }, `v1.1.0@sha1:${B}`),
    ]);
    await w.catchUp.run('prod', 'start');
    expect(w.triggered).to.deep.equal(['prod apps/semver-behind tag']);
    expect(w.gitlab.requests.map((r) => r.query)).to.deep.equal([{ order_by: 'updated', sort: 'desc', per_page: '1' }]);
    // Flux decided (say the range excludes v1.1.0): the same tags do not trigger again.
    await w.catchUp.run('prod', 'sweep');
    expect(w.triggered).to.have.length(1);
    w.gitlab.projects.get('team/app')!.tags.push({ name: 'v1.2.0', commit: C });
    await w.catchUp.run('prod', 'sweep');
    expect(w.triggered.slice(1).sort()).to.deep.equal(['prod apps/semver-behind tag', 'prod apps/semver-current tag']);
  });

  it('a sweep of an outbound-only link is its delivery: triggered, without an Event', async () => {
    w = await new World().start([repo('app', 'team/app', { branch: 'main' }, `main@sha1:${C}`)], { outboundOnly: true });
    const record = await w.catchUp.run('prod', 'sweep');
    expect(record?.triggered).to.equal(1);
    expect(w.events).to.deep.equal([]);
  });

  it('spends at most half the budget over the interval, covering every project + ref in turn', async () => {
    const repos = Array.from({ length: 5 }, (_, i) => repo(`r${i}`, 'team/app', { branch: `b${i}` }, `b${i}@sha1:${A}`));
    // 1 request a minute, half of it over the default 5m interval: 2 requests a sweep, in turn over the 5 branches.
    w = await new World().start(repos, { api: { requestsPerMinute: 1 } });
    const asked: string[][] = [];
    for (let i = 0; i < 3; i++) {
      w.gitlab.requests.length = 0;
      const record = await w.catchUp.run('prod', 'sweep');
      expect(record?.requests).to.equal(2);
      asked.push(w.gitlabRequests().map((p) => p.replace('team/app/repository/branches/', '')));
    }
    expect(asked).to.deep.equal([
      ['b0', 'b1'],
      ['b2', 'b3'],
      ['b4', 'b0'],
    ]);
  });

  it('GitLab failing: the error is recorded (no token), the rest not asked, the next run after a failure is "api-recovered"', async () => {
    w = await new World().start([
      repo('a', 'team/app', { branch: 'main' }, `main@sha1:${C}`),
      repo('b', 'team/lib', { branch: 'master' }, `master@sha1:${A}`),
    ]);
    w.gitlab.failures.set('GET team/app', 503);
    const record = await w.catchUp.run('prod', 'sweep');
    expect(record?.error).to.match(/503/);
    expect(record?.error).to.not.include(TOKEN);
    expect(record?.requests).to.equal(1);
    expect(w.triggered).to.deep.equal([]);
    // Leading starts while GitLab still fails; the retry comes after retryMs and, once GitLab answers, is the API back.
    w.catchUp.resume('leader');
    const until = async (ok: () => boolean) => {
      for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => w.records.length >= 2);
    expect(w.records[1]).to.deep.include({ reason: 'leader', triggered: 0 });
    w.gitlab.failures.clear();
    await until(() => w.records.some((r) => r.reason === 'api-recovered' && !r.error));
    expect(w.records.at(-1)).to.deep.include({ reason: 'api-recovered', triggered: 2, requests: 2 });
    expect(w.triggered.sort()).to.deep.equal(['prod apps/a', 'prod apps/b']);
  });

  it('leading before the caches hold every GitRepository: the catch-up waits for them, then runs for the same reason', async () => {
    w = await new World().start([
      repo('a', 'team/app', { branch: 'main' }, `main@sha1:${C}`),
      repo('b', 'team/lib', { branch: 'master' }, `master@sha1:${A}`),
    ]);
    w.cachesSynced = false;
    w.catchUp.resume('leader');
    await new Promise((r) => setTimeout(r, 500));
    expect(w.records).to.deep.equal([]);
    expect(w.gitlab.requests).to.deep.equal([]);
    w.cachesSynced = true;
    for (let i = 0; i < 200 && w.records.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.records).to.have.length(1);
    expect(w.records[0]).to.deep.include({ reason: 'leader', checked: 2, triggered: 2, requests: 2 });
  });

  it('a missing token Secret: recorded, nothing asked, nothing triggered', async () => {
    w = await new World().start([repo('a', 'team/app', { branch: 'main' }, `main@sha1:${C}`)], {
      api: { tokenSecretRef: { namespace: 'sys', name: 'missing' } },
    });
    const record = await w.catchUp.run('prod', 'start');
    expect(record?.error).to.equal('spec.gitlab.api.tokenSecretRef: Secret sys/missing not found, not readable or without key token');
    expect(w.gitlab.requests).to.deep.equal([]);
    expect(w.triggered).to.deep.equal([]);
  });

  it('a link without spec.gitlab.api is not caught up', async () => {
    w = await new World().start([repo('a', 'team/app', { branch: 'main' }, `main@sha1:${C}`)], { api: null });
    expect(await w.catchUp.run('prod', 'start')).to.equal(undefined);
    w.catchUp.resume('start');
    await settle(20);
    expect(w.gitlab.requests).to.deep.equal([]);
  });
});
