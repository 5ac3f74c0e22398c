import { expect } from 'chai';
import type { GitRepository, Namespace, Receiver } from '../flux/types.js';
import { slimGitRepository, slimNamespace, withoutManagedFields } from './slim.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:url': {} } } }];
const metadata = {
  name: 'app',
  namespace: 'team',
  uid: 'u1',
  resourceVersion: '7',
  generation: 3,
  labels: { team: 'a' },
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}' },
  deletionTimestamp: '2026-11-24T00:00:00Z',
  managedFields,
};

describe('slim (what the caches keep)', () => {
  it('withoutManagedFields keeps everything but metadata.managedFields, and leaves the received object alone', () => {
    const receiver = {
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { ...metadata },
      spec: { type: 'gitlab', resources: [] },
      status: { webhookPath: '/hook/x' },
    } as Receiver;
    const kept = withoutManagedFields(receiver);
    const { managedFields: _m, ...rest } = metadata;
    expect(kept).to.deep.equal({ ...receiver, metadata: rest });
    expect(receiver.metadata).to.have.property('managedFields');
  });

  it("slimGitRepository keeps identity, labels, generation, deletion, spec and the artifact's revision; drops the rest of status, annotations and managedFields", () => {
    const repo = {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { ...metadata },
      spec: { url: 'https://gitlab.example/a/b.git', ref: { branch: 'main' } },
      status: {
        artifact: { revision: 'main@sha1:abc', digest: 'sha256:def', url: 'http://source-controller/x.tar.gz' },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    } as GitRepository;
    expect(slimGitRepository(repo)).to.deep.equal({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: {
        name: 'app',
        namespace: 'team',
        uid: 'u1',
        resourceVersion: '7',
        generation: 3,
        labels: { team: 'a' },
        deletionTimestamp: '2026-11-24T00:00:00Z',
      },
      spec: { url: 'https://gitlab.example/a/b.git', ref: { branch: 'main' } },
      status: { artifact: { revision: 'main@sha1:abc' } },
    });
    expect(slimGitRepository({ ...repo, status: {} })).to.not.have.property('status');
  });

  it('slimNamespace keeps the name, labels and resourceVersion only', () => {
    const ns = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { ...metadata, namespace: undefined },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    } as Namespace;
    const kept = slimNamespace(ns);
    expect(kept).to.not.have.property('spec');
    expect(kept).to.not.have.property('status');
    expect(kept.metadata).to.not.have.any.keys('annotations', 'managedFields');
    expect(kept.metadata).to.include({ name: 'app', resourceVersion: '7' });
    expect(kept.metadata.labels).to.deep.equal({ team: 'a' });
  });
});
