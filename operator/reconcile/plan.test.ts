import { expect } from 'chai';
import type { GitLabFluxLinkSpec } from '../api/v1alpha1/types.js';
import type { GitRepository, Receiver, Secret } from '../flux/types.js';
import { desiredPair, type DesiredPair } from './desired.js';
import { LABEL_LINK } from './names.js';
import { type Action, type Observed, type Plan, Planner } from './plan.js';

/** The whole plan for a list of pairs, as a pass builds it (link-controller.ts: add each pair, then finish). */
function plan(linkName: string, desired: DesiredPair[], observed: Observed, tokenKept: (key: string) => boolean): Plan {
  const planner = new Planner(linkName, observed);
  for (const pair of desired) planner.add(pair, tokenKept(pair.key));
  return planner.finish();
}

const LINK = 'team-a';
const SPEC: GitLabFluxLinkSpec = {
  gitlab: { url: 'https://gitlab.example.com' },
  webhook: { secretRef: { namespace: 'flux-system', name: 'hook' } },
};
const TOKEN = 'k'.repeat(64);

function repo(name: string, uid = `uid-${name}`): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: 'apps', uid },
    spec: { url: `https://gitlab.example.com/group/${name}.git` },
  };
}

function pairFor(name: string, spec = SPEC, link = LINK): DesiredPair {
  return desiredPair({ name: link, uid: `uid-link-${link}` }, spec, { repo: repo(name), project: `group/${name}` }, TOKEN);
}

let rv = 100;
/** What the API server hands back for a desired object: server fields, Flux's finalizer, defaults, status. */
function live<T extends Secret | Receiver>(obj: T, change?: (o: T) => void): T {
  const o = structuredClone(obj);
  o.metadata.resourceVersion = String(++rv);
  o.metadata.uid = `live-${o.metadata.name}-${o.kind}`;
  o.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
  if (o.kind === 'Receiver') {
    const r = o as Receiver;
    r.metadata.generation = 1;
    r.metadata.finalizers = ['finalizers.fluxcd.io'];
    r.spec.interval ??= '10m';
    r.status = {
      observedGeneration: 1,
      webhookPath: '/hook/' + 'ab'.repeat(32),
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }],
    };
  }
  change?.(o);
  return o;
}

function observedOf(secrets: Secret[], receivers: Receiver[], liveLinks: string[] = [LINK]): Observed {
  const find = <T extends Secret | Receiver>(list: T[], ns: string, n: string) =>
    list.find((o) => o.metadata.namespace === ns && o.metadata.name === n);
  const owned = (o: Secret | Receiver) => o.metadata.labels?.[LABEL_LINK] === LINK;
  return {
    secret: (ns, n) => find(secrets, ns, n),
    receiver: (ns, n) => find(receivers, ns, n),
    ownedSecrets: secrets.filter(owned),
    ownedReceivers: receivers.filter(owned),
    managedByOtherLink: (other) => liveLinks.includes(other),
  };
}

const summary = (actions: Action[]) =>
  actions.map((a) =>
    a.verb === 'create'
      ? `create ${a.kind} ${a.object.metadata.namespace}/${a.object.metadata.name}`
      : `${a.verb} ${a.kind} ${a.namespace}/${a.name}`,
  );

describe('plan', () => {
  const app = pairFor('app');
  const kept = () => true;

  it('steady state: what exists is what is desired, so nothing is written', () => {
    const p = plan(LINK, [app], observedOf([live(app.secret)], [live(app.receiver)]), kept);
    expect(p).to.deep.equal({ actions: [], blocked: [] });
  });

  it("steady state holds when others added labels, annotations, owners and Flux's defaults", () => {
    const secret = live(app.secret, (s) => {
      s.metadata.labels!['extra'] = 'yes';
      s.metadata.annotations!['kubectl.kubernetes.io/last-applied-configuration'] = '{}';
      s.metadata.ownerReferences!.push({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'x' });
    });
    const receiver = live(app.receiver, (r) => (r.metadata.labels!['kustomize.toolkit.fluxcd.io/name'] = 'apps'));
    expect(plan(LINK, [app], observedOf([secret], [receiver]), kept).actions).to.deep.equal([]);
  });

  it('a missing Secret is created (with the desired object, token included)', () => {
    const p = plan(LINK, [app], observedOf([], [live(app.receiver)]), () => false);
    expect(p.actions).to.deep.equal([{ verb: 'create', kind: 'Secret', object: app.secret }]);
  });

  it('a new repository gets its Secret created before its Receiver', () => {
    expect(summary(plan(LINK, [app], observedOf([], []), () => false).actions)).to.deep.equal([
      'create Secret apps/gfl-app',
      'create Receiver apps/gfl-app',
    ]);
  });

  it('a hand-edited Receiver spec (type, resources, suspend) gets one patch restoring only those fields', () => {
    const receiver = live(app.receiver, (r) => {
      r.spec.type = 'generic';
      r.spec.resources = [{ kind: 'GitRepository', name: 'someone-else' }];
      r.spec.suspend = true;
    });
    const p = plan(LINK, [app], observedOf([live(app.secret)], [receiver]), kept);
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Receiver',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { spec: { type: 'generic-hmac', resources: app.receiver.spec.resources, suspend: null } },
        reason: 'spec',
      },
    ]);
  });

  it('events added to a generic-hmac Receiver are removed; secretRef pointed elsewhere is restored', () => {
    const receiver = live(app.receiver, (r) => {
      r.spec.events = ['Push Hook'];
      r.spec.secretRef = { name: 'other' };
    });
    const [action] = plan(LINK, [app], observedOf([live(app.secret)], [receiver]), kept).actions;
    expect(action).to.include({ verb: 'patch', kind: 'Receiver' });
    expect((action as { patch: unknown }).patch).to.deep.equal({ spec: { events: null, secretRef: { name: 'gfl-app' } } });
  });

  it('an interval set by the link is restored; without one, the server default is no drift', () => {
    const withInterval = pairFor('app', { ...SPEC, receiver: { interval: '5m' } });
    const drifted = live(withInterval.receiver, (r) => (r.spec.interval = '1h'));
    expect(
      (plan(LINK, [withInterval], observedOf([live(withInterval.secret)], [drifted]), kept).actions[0] as { patch: unknown }).patch,
    ).to.deep.equal({ spec: { interval: '5m' } });
    const defaulted = live(app.receiver, (r) => (r.spec.interval = '10m'));
    expect(plan(LINK, [app], observedOf([live(app.secret)], [defaulted]), kept).actions).to.deep.equal([]);
  });

  it('a removed label is put back with a metadata patch (Secret watch label, Receiver link label)', () => {
    const secret = live(app.secret, (s) => delete s.metadata.labels!['reconcile.fluxcd.io/watch']);
    const receiver = live(app.receiver, (r) => delete r.metadata.labels![LABEL_LINK]);
    const p = plan(LINK, [app], observedOf([secret], [receiver]), kept);
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Secret',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { labels: app.secret.metadata.labels } },
        reason: 'metadata',
      },
      {
        verb: 'patch',
        kind: 'Receiver',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { labels: app.receiver.metadata.labels } },
        reason: 'metadata',
      },
    ]);
  });

  it('a changed annotation is restored', () => {
    const secret = live(app.secret, (s) => (s.metadata.annotations!['fluxlink.dev/project'] = 'group/renamed'));
    const p = plan(LINK, [app], observedOf([secret], [live(app.receiver)]), kept);
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Secret',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { annotations: app.secret.metadata.annotations } },
        reason: 'metadata',
      },
    ]);
  });

  it('an owner reference with a stale uid (link re-created) is replaced, other owners kept', () => {
    const other = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', uid: 'k-1' };
    const receiver = live(
      app.receiver,
      (r) => (r.metadata.ownerReferences = [{ ...app.receiver.metadata.ownerReferences![0]!, uid: 'old-uid' }, other]),
    );
    const p = plan(LINK, [app], observedOf([live(app.secret)], [receiver]), kept);
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Receiver',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { ownerReferences: [other, app.receiver.metadata.ownerReferences![0]] } },
        reason: 'metadata',
      },
    ]);
  });

  it('an object adopted from another link, or owned by its GitRepository (earlier versions), is owned by this link alone', () => {
    const other = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', uid: 'k-1' };
    const formerLink = { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: 'former', uid: 'uid-former' };
    const gitRepository = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'app', uid: 'uid-app' };
    const otherRepository = { ...gitRepository, name: 'not-this-one', uid: 'uid-x' };
    const secret = live(app.secret, (s) => (s.metadata.ownerReferences = [formerLink, other]));
    const receiver = live(app.receiver, (r) => (r.metadata.ownerReferences = [gitRepository, otherRepository]));
    const p = plan(LINK, [app], observedOf([secret], [receiver]), kept);
    const owner = app.receiver.metadata.ownerReferences![0];
    expect(owner).to.deep.equal({ apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: LINK, uid: `uid-link-${LINK}` });
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Secret',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { ownerReferences: [other, owner] } },
        reason: 'metadata',
      },
      {
        verb: 'patch',
        kind: 'Receiver',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { metadata: { ownerReferences: [otherRepository, owner] } },
        reason: 'metadata',
      },
    ]);
  });

  it('an unusable token (shorter than 32 characters) is replaced: patch of data.token only', () => {
    const secret = live(app.secret, (s) => (s.data = { token: Buffer.from('short').toString('base64') }));
    const p = plan(LINK, [app], observedOf([secret], [live(app.receiver)]), () => false);
    expect(p.actions).to.deep.equal([
      {
        verb: 'patch',
        kind: 'Secret',
        namespace: 'apps',
        name: 'gfl-app',
        patch: { data: { token: app.secret.data!.token } },
        reason: 'data',
      },
    ]);
  });

  it('a Secret of another type is deleted (type is immutable) with its resourceVersion; the next pass re-creates it', () => {
    const secret = live(app.secret, (s) => (s.type = 'kubernetes.io/basic-auth'));
    const p = plan(LINK, [app], observedOf([secret], [live(app.receiver)]), kept);
    expect(p.actions).to.deep.equal([
      { verb: 'delete', kind: 'Secret', namespace: 'apps', name: 'gfl-app', resourceVersion: secret.metadata.resourceVersion },
    ]);
  });

  describe('objects the link does not own', () => {
    it('a Secret with the desired name not managed by gitlab-flux-link blocks the repository: no action at all', () => {
      const foreign: Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gfl-app', namespace: 'apps', resourceVersion: '7' },
        type: 'Opaque',
        data: { token: 'eA==' },
      };
      const p = plan(LINK, [app], observedOf([foreign], []), () => false);
      expect(p.actions).to.deep.equal([]);
      expect(p.blocked).to.have.length(1);
      expect(p.blocked[0]!.key).to.equal('apps/app');
      expect(p.blocked[0]!.message).to.contain('Secret apps/gfl-app').and.contain('not managed by gitlab-flux-link');
    });

    it('a foreign Receiver blocks the repository even when its Secret would need a write', () => {
      const foreign: Receiver = { ...live(app.receiver), metadata: { name: 'gfl-app', namespace: 'apps', resourceVersion: '8' } };
      const p = plan(LINK, [app], observedOf([], [foreign]), () => false);
      expect(p.actions).to.deep.equal([]);
      expect(p.blocked.map((b) => b.key)).to.deep.equal(['apps/app']);
    });

    it('an object managed by another live link blocks the repository', () => {
      const theirs = pairFor('app', SPEC, 'team-b');
      const p = plan(LINK, [app], observedOf([live(theirs.secret)], [live(theirs.receiver)], [LINK, 'team-b']), kept);
      expect(p.actions).to.deep.equal([]);
      expect(p.blocked).to.deep.equal([{ key: 'apps/app', message: 'Secret apps/gfl-app is managed by link team-b' }]);
    });

    it('objects of a vanished link are adopted: labels and owner patched, token kept', () => {
      const theirs = pairFor('app', SPEC, 'gone');
      const secret = live(theirs.secret, (s) => (s.data = { token: Buffer.from('t'.repeat(40)).toString('base64') }));
      const p = plan(LINK, [app], observedOf([secret], [live(theirs.receiver)], [LINK]), kept);
      expect(p.blocked).to.deep.equal([]);
      expect(p.actions).to.deep.equal([
        {
          verb: 'patch',
          kind: 'Secret',
          namespace: 'apps',
          name: 'gfl-app',
          patch: { metadata: { labels: app.secret.metadata.labels, ownerReferences: app.secret.metadata.ownerReferences } },
          reason: 'metadata',
        },
        {
          verb: 'patch',
          kind: 'Receiver',
          namespace: 'apps',
          name: 'gfl-app',
          patch: { metadata: { labels: app.receiver.metadata.labels, ownerReferences: app.receiver.metadata.ownerReferences } },
          reason: 'metadata',
        },
      ]);
    });
  });

  describe('cleanup', () => {
    it('owned objects no longer wanted are deleted, Receivers before Secrets, each with its resourceVersion', () => {
      const gone = pairFor('gone');
      const old = pairFor('old');
      const objs = {
        secrets: [live(app.secret), live(gone.secret), live(old.secret)],
        receivers: [live(app.receiver), live(gone.receiver), live(old.receiver)],
      };
      const p = plan(LINK, [app], observedOf(objs.secrets, objs.receivers), kept);
      expect(p.actions).to.deep.equal([
        {
          verb: 'delete',
          kind: 'Receiver',
          namespace: 'apps',
          name: 'gfl-gone',
          resourceVersion: objs.receivers[1]!.metadata.resourceVersion,
        },
        {
          verb: 'delete',
          kind: 'Receiver',
          namespace: 'apps',
          name: 'gfl-old',
          resourceVersion: objs.receivers[2]!.metadata.resourceVersion,
        },
        { verb: 'delete', kind: 'Secret', namespace: 'apps', name: 'gfl-gone', resourceVersion: objs.secrets[1]!.metadata.resourceVersion },
        { verb: 'delete', kind: 'Secret', namespace: 'apps', name: 'gfl-old', resourceVersion: objs.secrets[2]!.metadata.resourceVersion },
      ]);
    });

    it('an owned object already being deleted is not deleted again', () => {
      const gone = pairFor('gone');
      const receiver = live(gone.receiver, (r) => (r.metadata.deletionTimestamp = '2024-02-01T00:00:00Z'));
      expect(plan(LINK, [], observedOf([], [receiver]), kept).actions).to.deep.equal([]);
    });

    it('with nothing desired, everything owned goes', () => {
      expect(summary(plan(LINK, [], observedOf([live(app.secret)], [live(app.receiver)]), kept).actions)).to.deep.equal([
        'delete Receiver apps/gfl-app',
        'delete Secret apps/gfl-app',
      ]);
    });

    it('objects with the same name in another namespace are told apart', () => {
      const elsewhere = live(app.secret, (s) => (s.metadata.namespace = 'staging'));
      expect(summary(plan(LINK, [app], observedOf([live(app.secret), elsewhere], [live(app.receiver)]), kept).actions)).to.deep.equal([
        'delete Secret staging/gfl-app',
      ]);
    });
  });
});
