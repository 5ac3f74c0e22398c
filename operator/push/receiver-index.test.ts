import { expect } from 'chai';
import { type GitLabFluxLink, type GitLabFluxLinkSpec, LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, type GitRepository, type Namespace } from '../flux/types.js';
import type { KubeObject } from '../meta/object.js';
import { NAMESPACES } from '../meta/resource.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { objectName } from '../reconcile/names.js';
import { FakeKube } from '../testing/fake-kube.js';
import { type RunningInformer, settle, startInformer } from '../testing/informers.js';
import { ReceiverIndex } from './receiver-index.js';

type Link = GitLabFluxLink;

function link(name: string, createdAt: string, over: Partial<GitLabFluxLinkSpec> = {}): Link {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name, creationTimestamp: createdAt },
    spec: {
      gitlab: { url: 'https://gitlab.example.com' },
      webhook: { secretRef: { namespace: 'gitlab-flux-link', name: 'hook-token' } },
      ...over,
    },
  } as Link;
}

function repo(namespace: string, name: string, url: string, ref?: GitRepository['spec']['ref']): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { namespace, name },
    spec: { url, interval: '10m', ...(ref ? { ref } : {}) },
  } as GitRepository;
}

const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

describe('receiver-index: ReceiverIndex', () => {
  let kube: FakeKube;
  let running: Array<RunningInformer<KubeObject>>;
  let index: ReceiverIndex;

  beforeEach(async () => {
    kube = new FakeKube();
    kube.seed(NAMESPACES, ns('apps', { team: 'a' }));
    kube.seed(NAMESPACES, ns('other', { team: 'b' }));
    kube.seed(GIT_REPOSITORIES, repo('apps', 'app-main', 'https://gitlab.example.com/team/app.git', { branch: 'main' }));
    kube.seed(GIT_REPOSITORIES, repo('apps', 'app-dev', 'ssh://git@gitlab.example.com/team/app.git', { branch: 'dev' }));
    kube.seed(GIT_REPOSITORIES, repo('apps', 'lib', 'https://gitlab.example.com/team/lib.git'));
    kube.seed(GIT_REPOSITORIES, repo('apps', 'github', 'https://github.com/team/app.git'));
    kube.seed(GIT_REPOSITORIES, repo('other', 'app-other', 'https://gitlab.example.com/team/app.git'));
    kube.seed(LINKS, link('gitlab', '2024-01-01T00:00:00Z', { trust: { namespaceSelector: { matchLabels: { team: 'a' } } } }));
    const links = await startInformer<Link>(kube, LINKS);
    const repos = await startInformer<GitRepository>(kube, GIT_REPOSITORIES);
    const namespaces = await startInformer<Namespace>(kube, NAMESPACES);
    running = [links, repos, namespaces] as Array<RunningInformer<KubeObject>>;
    index = new ReceiverIndex(links.informer, repos.informer, namespaces.informer, new LinkCompiler());
  });

  afterEach(async () => {
    running.forEach((r) => r.informer.stop());
    await Promise.all(running.map((r) => r.done));
  });

  it('maps a project to the Receivers of every GitRepository of it the link manages, with their refs', () => {
    const targets = index.lookup('gitlab', 'team/app');
    expect(targets.map((t) => `${t.namespace}/${t.gitRepository}`).sort()).to.deep.equal(['apps/app-dev', 'apps/app-main']);
    const main = targets.find((t) => t.gitRepository === 'app-main')!;
    expect(main).to.deep.equal({
      namespace: 'apps',
      gitRepository: 'app-main',
      receiver: objectName('app-main'),
      project: 'team/app',
      ref: { branch: 'main' },
    });
  });

  it('looks projects up case-insensitively, as GitLab resolves them', () => {
    expect(index.lookup('gitlab', 'Team/App')).to.have.length(2);
  });

  it('leaves out namespaces the selector does not match, other hosts and other projects', () => {
    expect(index.lookup('gitlab', 'team/lib').map((t) => t.gitRepository)).to.deep.equal(['lib']);
    expect(index.lookup('gitlab', 'team/nothing')).to.deep.equal([]);
  });

  it('knows nothing of an unknown link', () => {
    expect(index.link('nope')).to.equal(undefined);
    expect(index.lookup('nope', 'team/app')).to.deep.equal([]);
  });

  it('picks up a new GitRepository once the cache has it', async () => {
    expect(index.lookup('gitlab', 'team/new')).to.deep.equal([]);
    await kube.create(GIT_REPOSITORIES, repo('apps', 'new', 'https://gitlab.example.com/team/new.git', { tag: 'v1' }));
    await settle();
    expect(index.lookup('gitlab', 'team/new').map((t) => t.ref)).to.deep.equal([{ tag: 'v1' }]);
  });

  it('follows namespace label changes', async () => {
    kube.mutate<Namespace>(NAMESPACES, undefined, 'other', (n) => {
      n.metadata.labels = { team: 'a' };
    });
    await settle();
    expect(
      index
        .lookup('gitlab', 'team/app')
        .map((t) => t.gitRepository)
        .sort(),
    ).to.deep.equal(['app-dev', 'app-main', 'app-other']);
  });

  it('leaves out a GitRepository that spec.trust.namespaceProjects refuses: a push to its project reaches only the legitimate ones', async () => {
    await kube.create(NAMESPACES, ns('team-a', { tenant: 'a' }));
    await kube.create(NAMESPACES, ns('team-b', { tenant: 'b' }));
    await kube.create(GIT_REPOSITORIES, repo('team-a', 'crossed', 'https://gitlab.example.com/team-b/app.git'));
    await kube.create(GIT_REPOSITORIES, repo('team-b', 'app', 'https://gitlab.example.com/team-b/app.git'));
    await kube.create(
      LINKS,
      link('tenants', '2024-01-01T00:00:00Z', {
        trust: {
          namespaceSelector: { matchExpressions: [{ key: 'tenant', operator: 'Exists' }] },
          namespaceProjects: [
            { namespaceSelector: { matchLabels: { tenant: 'a' } }, projects: ['team-a/**'] },
            { namespaceSelector: { matchLabels: { tenant: 'b' } }, projects: ['team-b/**'] },
          ],
        },
      }),
    );
    await settle();
    expect(index.lookup('tenants', 'team-b/app').map((t) => `${t.namespace}/${t.gitRepository}`)).to.deep.equal(['team-b/app']);
  });

  it('gives a repository matched by two links to the older link only', async () => {
    kube.seed(LINKS, link('newer', '2024-06-01T00:00:00Z'));
    await settle();
    expect(index.lookup('newer', 'team/app').map((t) => t.gitRepository)).to.deep.equal(['app-other']);
    expect(index.lookup('gitlab', 'team/app')).to.have.length(2);
  });

  it('drops a link whose spec is invalid', async () => {
    kube.seed(LINKS, link('broken', '2024-06-01T00:00:00Z', { gitlab: { url: 'not a url' } }));
    await settle();
    expect(index.link('broken')).to.equal(undefined);
  });

  it('drops a link being deleted', async () => {
    kube.mutate<Link>(LINKS, undefined, 'gitlab', (l) => {
      l.metadata.finalizers = ['keep'];
    });
    kube.remove(LINKS, undefined, 'gitlab');
    await settle();
    expect(index.link('gitlab')).to.equal(undefined);
  });
});
