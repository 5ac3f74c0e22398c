import { expect } from 'chai';
import type { KubeObject } from '../meta/object.js';
import { changeMatters } from './changes.js';

const obj = (meta: Partial<KubeObject['metadata']>, status?: unknown): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'X',
    metadata: { name: 'a', namespace: 'n', generation: 1, resourceVersion: '1', ...meta },
    ...(status ? { status } : {}),
  }) as KubeObject;

describe('changeMatters', () => {
  it('counts additions and deletions', () => {
    expect(changeMatters('ADDED', obj({}), undefined)).to.equal(true);
    expect(changeMatters('DELETED', obj({}), obj({}))).to.equal(true);
  });

  it('counts a spec change (new generation), a label change and the start of deletion', () => {
    expect(changeMatters('MODIFIED', obj({ generation: 2 }), obj({}))).to.equal(true);
    expect(changeMatters('MODIFIED', obj({ labels: { a: 'b' } }), obj({}))).to.equal(true);
    expect(changeMatters('MODIFIED', obj({ labels: { a: 'c' } }), obj({ labels: { a: 'b' } }))).to.equal(true);
    expect(changeMatters('MODIFIED', obj({ deletionTimestamp: '2026-11-24T00:00:00Z' }), obj({}))).to.equal(true);
  });

  it("ignores status, annotation and resourceVersion changes (Flux's requestedAt, status after a fetch, our own status writes)", () => {
    expect(changeMatters('MODIFIED', obj({ resourceVersion: '2' }, { artifact: 'x' }), obj({}))).to.equal(false);
    expect(
      changeMatters('MODIFIED', obj({ annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' }, resourceVersion: '3' }), obj({})),
    ).to.equal(false);
    expect(changeMatters('MODIFIED', obj({ labels: { a: 'b', c: 'd' } }), obj({ labels: { c: 'd', a: 'b' } }))).to.equal(false);
  });
});
