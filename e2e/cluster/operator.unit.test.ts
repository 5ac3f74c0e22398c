import { expect } from 'chai';
import yaml from 'js-yaml';

import { operatorKustomization, shippedImageName } from './operator.js';

describe('cluster tier: the operator kustomization', () => {
  it('has config/default as its only resource, overrides the shipped image and makes the webhook Service a NodePort', () => {
    const k = yaml.load(
      operatorKustomization({ base: '../../work/config/default', image: '127.0.0.1:5000/gitlab-flux-link:v2', replicas: 2 }),
    ) as Record<string, unknown>;
    expect(k.resources).to.deep.equal(['../../work/config/default']);
    expect(k.images).to.deep.equal([{ name: shippedImageName(), newName: '127.0.0.1:5000/gitlab-flux-link', newTag: 'v2' }]);
    expect(k.replicas).to.deep.equal([{ name: 'gitlab-flux-link', count: 2 }]);
    expect(k.patches).to.deep.equal([
      {
        target: { version: 'v1', kind: 'Service', name: 'gitlab-flux-link-webhook' },
        patch: JSON.stringify([{ op: 'add', path: '/spec/type', value: 'NodePort' }]),
      },
    ]);
    expect(Object.keys(k).sort()).to.deep.equal(['apiVersion', 'images', 'kind', 'patches', 'replicas', 'resources']);
  });

  it('leaves the replica count to the shipped Deployment unless asked', () => {
    const k = yaml.load(operatorKustomization({ base: 'b', image: 'r:1/gitlab-flux-link:t' })) as Record<string, unknown>;
    expect(k).to.not.have.property('replicas');
  });

  it('reads the image name, without its tag, from config/manager/manager.yaml', () => {
    expect(shippedImageName()).to.equal('ghcr.io/gitlab-flux-link/gitlab-flux-link');
    const manifest = (image: string) => `spec: {template: {spec: {containers: [{name: manager, image: "${image}"}]}}}`;
    expect(shippedImageName(manifest('example.com:5000/a/b@sha256:0123abcd'))).to.equal('example.com:5000/a/b');
    expect(shippedImageName(manifest('example.com:5000/a/b'))).to.equal('example.com:5000/a/b');
  });
});
