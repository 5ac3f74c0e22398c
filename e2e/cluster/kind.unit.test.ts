import { expect } from 'chai';

import { clusterProvider } from './index.js';
import { KindProvider } from './kind.js';

describe('kind cluster provider', () => {
  it('says clearly that it is not implemented here, and which provider to use', async () => {
    const err = await new KindProvider().start().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/not implemented here/);
    expect(err?.message).to.include('node-container');
  });

  it('is chosen by CLUSTER_PROVIDER, and an unknown name is refused with the known ones', () => {
    expect(clusterProvider('kind').name).to.equal('kind');
    expect(clusterProvider('node-container').name).to.equal('node-container');
    expect(() => clusterProvider('k3s')).to.throw(/CLUSTER_PROVIDER=k3s is not a cluster provider: node-container or kind/);
  });
});
