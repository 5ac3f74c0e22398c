import { expect } from 'chai';
import { isAlreadyExists, isConflict, isNotFound, KubeError, type WatchEvent } from '../kube/client.js';

const isInvalid = (e: unknown) => e instanceof KubeError && e.status === 422;
import type { KubeObject } from '../meta/object.js';
import { LINKS } from '../api/v1alpha1/types.js';
import { RECEIVERS } from '../flux/types.js';
import { SECRETS } from '../meta/resource.js';
import { FakeKube, jsonPatch, mergePatch } from './fake-kube.js';

const secret = (name: string, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', labels },
  data: { a: 'YQ==' },
});
const receiver = (name: string): KubeObject => ({
  metadata: { name, namespace: 'ns' },
  spec: { type: 'generic' },
  status: { webhookPath: '/x' },
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('FakeKube (test double of the Kubernetes API)', () => {
  describe('patch algorithms', () => {
    it('merge patch (RFC 7386): objects merge, null deletes, arrays replace', () => {
      expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2], k: 1 }, { a: { b: null, d: 3 }, l: [3], k: null })).to.deep.equal({
        a: { c: 2, d: 3 },
        l: [3],
      });
    });
    it('json patch: add with /- appends, ~1 escapes a slash, replace, test', () => {
      const doc = { metadata: { finalizers: ['a'], labels: { 'x/y': '1' } } };
      const out = jsonPatch(doc, [
        { op: 'test', path: '/metadata/labels/x~1y', value: '1' },
        { op: 'add', path: '/metadata/finalizers/-', value: 'b' },
        { op: 'replace', path: '/metadata/labels/x~1y', value: '2' },
      ]);
      expect(out).to.deep.equal({ metadata: { finalizers: ['a', 'b'], labels: { 'x/y': '2' } } });
    });
    it('json patch: a failed test is a 422 Invalid, as the API server answers', () => {
      expect(() => jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]))
        .to.throw()
        .that.satisfies(isInvalid);
    });
  });

  describe('writes', () => {
    it('create: stamps uid, resourceVersion, creationTimestamp; a second create is AlreadyExists', async () => {
      const fake = new FakeKube();
      const created = await fake.create(SECRETS, secret('s'));
      expect(created.metadata).to.include.keys('uid', 'resourceVersion', 'creationTimestamp');
      expect(isAlreadyExists(await rejection(fake.create(SECRETS, secret('s'))))).to.equal(true);
      expect(fake.writeLog()).to.deep.equal(['create secrets ns/s', 'create secrets ns/s']);
    });

    it('replace: a stale resourceVersion is a Conflict; a no-op keeps the resourceVersion', async () => {
      const fake = new FakeKube();
      const s = await fake.create(SECRETS, secret('s'));
      const same = await fake.replace(SECRETS, s);
      expect(same.metadata.resourceVersion).to.equal(s.metadata.resourceVersion);
      await fake.replace(SECRETS, { ...s, data: { b: 'Yg==' } });
      expect(isConflict(await rejection(fake.replace(SECRETS, s)))).to.equal(true);
    });

    it('status subresource: PUT /status changes only status; the main resource ignores status', async () => {
      const fake = new FakeKube();
      const r = await fake.create(RECEIVERS, receiver('r'));
      expect(r).not.to.have.property('status', 'status is dropped on create');
      const withStatus = await fake.replace(RECEIVERS, { ...r, spec: { type: 'changed' }, status: { ok: true } }, 'status');
      expect(withStatus.spec).to.deep.equal({ type: 'generic' });
      expect(withStatus.status).to.deep.equal({ ok: true });
      const main = await fake.patch(RECEIVERS, 'ns', 'r', { status: { ok: false }, spec: { type: 'gitlab' } }, 'merge');
      expect(main.status).to.deep.equal({ ok: true });
      expect(main.metadata.generation).to.equal(2, 'generation follows spec changes');
      const labelled = await fake.patch(RECEIVERS, 'ns', 'r', { metadata: { labels: { a: 'b' } } }, 'merge');
      expect(labelled.metadata.generation).to.equal(2, 'metadata changes leave the generation alone');
    });

    it('merge patch with metadata.resourceVersion is a precondition', async () => {
      const fake = new FakeKube();
      await fake.create(SECRETS, secret('s'));
      expect(isConflict(await rejection(fake.patch(SECRETS, 'ns', 's', { metadata: { resourceVersion: '1' } }, 'merge')))).to.equal(true);
    });

    it('delete: 404 gives false, a stale resourceVersion is a Conflict, finalizers hold the object', async () => {
      const fake = new FakeKube();
      expect(await fake.delete(SECRETS, 'ns', 'missing')).to.equal(false);
      const s = await fake.create(SECRETS, secret('s'));
      await fake.patch(SECRETS, 'ns', 's', { data: { c: 'Yw==' } }, 'merge');
      expect(isConflict(await rejection(fake.delete(SECRETS, 'ns', 's', { resourceVersion: s.metadata.resourceVersion })))).to.equal(true);
      await fake.create(LINKS, { metadata: { name: 'l', finalizers: ['f'] }, spec: {} });
      expect(await fake.delete(LINKS, undefined, 'l')).to.equal(true);
      const held = fake.object(LINKS, undefined, 'l')!;
      expect(held.metadata.deletionTimestamp).to.be.a('string');
      expect(
        isInvalid(await rejection(fake.patch(LINKS, undefined, 'l', [{ op: 'add', path: '/metadata/finalizers/-', value: 'g' }], 'json'))),
      ).to.equal(true);
      await fake.patch(LINKS, undefined, 'l', [{ op: 'replace', path: '/metadata/finalizers', value: [] }], 'json');
      expect(fake.object(LINKS, undefined, 'l')).to.equal(undefined);
    });

    it('reactors make writes fail; unserved resources answer 404', async () => {
      const fake = new FakeKube();
      fake.failWrites((w) => w.verb === 'create', new Error('nope'), 1);
      expect(String(await rejection(fake.create(SECRETS, secret('s'))))).to.contain('nope');
      await fake.create(SECRETS, secret('s'));
      fake.unserve(RECEIVERS);
      expect(isNotFound(await rejection(fake.list(RECEIVERS)))).to.equal(true);
      expect(await fake.get(RECEIVERS, 'ns', 'r')).to.equal(undefined);
    });
  });

  describe('reads', () => {
    it('list filters by equality label selector and namespace, sorted by namespace/name', async () => {
      const fake = new FakeKube();
      fake.seed(SECRETS, secret('b', { a: '1', b: '2' }));
      fake.seed(SECRETS, secret('a', { a: '1' }));
      fake.seed(SECRETS, { ...secret('c', { a: '1' }), metadata: { name: 'c', namespace: 'other', labels: { a: '1' } } });
      const names = async (labelSelector?: string, namespace?: string) =>
        (await fake.list(SECRETS, { labelSelector, namespace })).items.map((i) => i.metadata.name);
      expect(await names('a=1')).to.deep.equal(['a', 'b', 'c']);
      expect(await names('a=1,b=2')).to.deep.equal(['b']);
      expect(await names('b!=2')).to.deep.equal(['a', 'c']);
      expect(await names('a=1', 'ns')).to.deep.equal(['a', 'b']);
      expect(await names('!b')).to.deep.equal(['a', 'c']);
    });

    it('watch replays events after the given resourceVersion and follows label transitions', async () => {
      const fake = new FakeKube();
      const { resourceVersion } = await fake.list(SECRETS);
      fake.seed(SECRETS, secret('s', { x: '1' }));
      const seen: string[] = [];
      const h = fake.watch(SECRETS, { resourceVersion, labelSelector: 'x=1' }, (e: WatchEvent<KubeObject>) =>
        seen.push(`${e.type} ${e.object.metadata.name}`),
      );
      fake.mutate(SECRETS, 'ns', 's', (o) => (o.metadata.labels = { x: '2' }));
      fake.mutate(SECRETS, 'ns', 's', (o) => (o.metadata.labels = { x: '1' }));
      fake.remove(SECRETS, 'ns', 's');
      expect(seen).to.deep.equal(['ADDED s', 'DELETED s', 'ADDED s', 'DELETED s']);
      h.abort();
      await h.done;
      expect(fake.openWatches).to.equal(0);
    });

    it('a watch from a compacted resourceVersion ends with 410 Gone', async () => {
      const fake = new FakeKube();
      fake.seed(SECRETS, secret('s'));
      fake.compact();
      const err = await rejection(fake.watch(SECRETS, { resourceVersion: '1' }, () => undefined).done);
      expect((err as { status: number }).status).to.equal(410);
    });
  });
});
