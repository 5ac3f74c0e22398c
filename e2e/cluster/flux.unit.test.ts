import { expect } from 'chai';
import yaml from 'js-yaml';

import { FLUX_CONTROLLERS, fluxKustomization } from './flux.js';
import { linkAddresses } from './host-link.js';

describe('Flux on the node: the generated kustomization', () => {
  const configs = {
    'source-controller': '/root/go/pkg/mod/github.com/fluxcd/source-controller@v1.9.3/config',
    'notification-controller': '/root/go/pkg/mod/github.com/fluxcd/notification-controller@v1.9.3/config',
    'kustomize-controller': '/root/go/pkg/mod/github.com/fluxcd/kustomize-controller@v1.9.5/config',
  };
  const images = {
    'source-controller': '127.0.0.1:41000/gfl/source-controller:0123456789abcdef',
    'notification-controller': '127.0.0.1:41000/gfl/notification-controller:00000000000000e1',
    'kustomize-controller': '127.0.0.1:41000/gfl/kustomize-controller:1e5',
  };
  const k = yaml.load(fluxKustomization({ dir: '/tmp/gfl-cluster-flux-kustomization-x', configs, images }).kustomization) as {
    namespace: string;
    resources: string[];
    images: { name: string; newName: string; newTag: string }[];
    patches?: unknown;
  };

  it("names each controller's crd, rbac and manager folders by relative paths (kustomize refuses absolute ones), in flux-system", () => {
    expect(k.namespace).to.equal('flux-system');
    expect(k.resources[0]).to.equal('namespace.yaml');
    expect(k.resources.slice(1)).to.deep.equal(
      FLUX_CONTROLLERS.flatMap((c) => ['crd', 'rbac', 'manager'].map((p) => `../../${configs[c].slice(1)}/${p}`)),
    );
  });

  it('overrides only the images, by the names the manifests give them, tags kept as strings', () => {
    expect(k.images).to.deep.equal([
      { name: 'fluxcd/source-controller', newName: '127.0.0.1:41000/gfl/source-controller', newTag: '0123456789abcdef' },
      { name: 'fluxcd/notification-controller', newName: '127.0.0.1:41000/gfl/notification-controller', newTag: '00000000000000e1' },
      { name: 'fluxcd/kustomize-controller', newName: '127.0.0.1:41000/gfl/kustomize-controller', newTag: '1e5' },
    ]);
    expect(k.patches).to.equal(undefined);
  });
});

describe('host link addresses', () => {
  it('gives each test process a /30 of 10.231.8.0/22: outside the test hosts, Pods, Services and the bridge', () => {
    const seen = new Set<string>();
    for (let pid = 0; pid < 256; pid++) {
      const { host, node } = linkAddresses(pid);
      const [a, b, third, fourth] = host.split('.').map(Number);
      expect([a, b]).to.deep.equal([10, 231]);
      expect(third).to.be.within(8, 11);
      expect(fourth % 4, host).to.equal(1);
      expect(node).to.equal(`10.231.${third}.${fourth + 1}`);
      seen.add(host);
    }
    expect(seen.size).to.equal(256);
    expect(linkAddresses(256 + 7)).to.deep.equal(linkAddresses(7));
  });
});
