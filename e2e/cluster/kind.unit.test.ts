import { expect } from 'chai';

import { clusterProvider } from './index.js';
import {
  KIND_ADDRESSES,
  KindProvider,
  kindNames,
  kindRefusal,
  localRegistryHosting,
  missingForPrivileged,
  ownerPid,
  registryHostsToml,
  renderKindConfig,
} from './kind.js';

/** [first, last] address of an IPv4 CIDR, as numbers. */
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const base = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return [base, base + size - 1];
}
const overlaps = (a: string, b: string) => {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
};

/** This host's bounding set (measured): every capability up to 40 but CAP_SYS_RESOURCE (24). */
const THIS_HOST = { capBnd: 0x1fffeffffffn, lastCap: 40 };

describe('kind cluster provider', () => {
  it('is chosen by CLUSTER_PROVIDER, and an unknown name is refused with the known ones', () => {
    expect(clusterProvider('kind').name).to.equal('kind');
    expect(clusterProvider('node-container').name).to.equal('node-container');
    expect(() => clusterProvider('k3s')).to.throw(/CLUSTER_PROVIDER=k3s is not a cluster provider: node-container or kind/);
  });

  describe('addresses', () => {
    it('are in the test range and overlap neither the netns hosts, docker0 nor the node-container provider, nor each other', () => {
      const taken = {
        'netns test hosts': '10.231.0.0/22',
        docker0: '10.231.240.0/24',
        'node-container Pods': '10.231.64.0/20',
        'node-container Services': '10.231.96.0/24',
      };
      const ours = Object.entries(KIND_ADDRESSES);
      for (const [name, cidr] of ours) {
        const [first, last] = range(cidr);
        expect(first >= range('10.231.0.0/16')[0] && last <= range('10.231.0.0/16')[1], `${name} ${cidr} in 10.231.0.0/16`).to.equal(true);
        for (const [other, taken_] of Object.entries(taken))
          expect(overlaps(cidr, taken_), `${name} ${cidr} vs ${other} ${taken_}`).to.equal(false);
        for (const [mine, cidr2] of ours) if (mine !== name) expect(overlaps(cidr, cidr2), `${name} vs ${mine}`).to.equal(false);
      }
    });
  });

  describe('names', () => {
    it('are unique per process and time, carry the tier prefix, and give back their owner', () => {
      const a = kindNames(4242, 1_700_000_000_000);
      const b = kindNames(4242, 1_700_000_000_001);
      expect(a.cluster).to.match(/^gfl-cluster-kind-4242-[0-9a-z]+$/);
      expect(a.cluster).to.not.equal(b.cluster);
      expect(a.registry).to.equal(`${a.cluster}-registry`);
      expect(a.network).to.equal(a.cluster);
      expect(ownerPid(a.cluster)).to.equal(4242);
      expect(ownerPid(a.registry)).to.equal(4242);
      expect(ownerPid(`${a.cluster}-control-plane`)).to.equal(4242);
      expect(ownerPid('kind')).to.equal(undefined);
      expect(ownerPid('gfl-cluster-node-4242-abc')).to.equal(undefined);
    });

    it('are valid kind cluster names (lower case, digits, dashes) short enough for a host name with "-control-plane"', () => {
      const { cluster } = kindNames(4_194_304, Date.UTC(2100, 0, 1));
      expect(cluster).to.match(/^[a-z0-9-]+$/);
      expect(`${cluster}-control-plane`.length).to.be.at.most(63);
    });
  });

  describe('config', () => {
    it('names the cluster, publishes the API server on loopback only, and puts Pods and Services in their ranges', () => {
      const config = renderKindConfig({ name: 'gfl-cluster-kind-1-a' });
      expect(config).to.match(/^kind: Cluster\napiVersion: kind\.x-k8s\.io\/v1alpha4\n/);
      expect(config).to.include('name: gfl-cluster-kind-1-a\n');
      expect(config).to.include('  apiServerAddress: "127.0.0.1"\n  apiServerPort: 0\n');
      expect(config).to.include(`  podSubnet: "${KIND_ADDRESSES.pods}"\n  serviceSubnet: "${KIND_ADDRESSES.services}"\n`);
      expect(config).to.not.include('image:');
    });

    it('makes containerd read registry hosts from /etc/containerd/certs.d, and names the node image when given', () => {
      const config = renderKindConfig({ name: 'c', image: 'kindest/node:v1.37.0' });
      expect(config).to.include(
        'containerdConfigPatches:\n- |-\n  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "/etc/containerd/certs.d"\n',
      );
      expect(config).to.match(/nodes:\n- role: control-plane\n {2}image: "kindest\/node:v1\.37\.0"\n$/);
    });

    it('points the node at the registry container over plain HTTP, and tells tools where the registry is', () => {
      expect(registryHostsToml('gfl-cluster-kind-1-a-registry')).to.equal(
        '[host."http://gfl-cluster-kind-1-a-registry:5000"]\n  capabilities = ["pull", "resolve"]\n',
      );
      const cm = localRegistryHosting('127.0.0.1:41234');
      expect(cm).to.include('name: local-registry-hosting\n  namespace: kube-public\n');
      expect(cm).to.include('    host: "127.0.0.1:41234"\n');
    });
  });

  describe('privileged nodes', () => {
    it('names the capabilities a privileged container needs and a bounding set lacks', () => {
      expect(missingForPrivileged(THIS_HOST.capBnd, THIS_HOST.lastCap)).to.deep.equal(['CAP_SYS_RESOURCE']);
      expect(missingForPrivileged(0x1ffffffffffn, 40)).to.deep.equal([]);
      expect(missingForPrivileged(0xfffffffffn, 40)).to.deep.equal([
        'CAP_BLOCK_SUSPEND',
        'CAP_AUDIT_READ',
        'CAP_PERFMON',
        'CAP_BPF',
        'CAP_CHECKPOINT_RESTORE',
      ]);
      expect(missingForPrivileged(0xfffffffffn, 37)).to.deep.equal(['CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ']);
      expect(missingForPrivileged(0x3fffffffffn | (1n << 41n), 42)).to.deep.equal([
        'CAP_PERFMON',
        'CAP_BPF',
        'CAP_CHECKPOINT_RESTORE',
        'capability 42',
      ]);
    });

    it('refuses at once on a host whose bounding set lacks one, naming the cause and the provider to use instead', async () => {
      const refusal = kindRefusal(THIS_HOST);
      expect(refusal).to.include('--privileged');
      expect(refusal).to.include('lacks CAP_SYS_RESOURCE');
      expect(refusal).to.include('unable to apply caps: operation not permitted');
      expect(refusal).to.include('CLUSTER_PROVIDER=node-container');
      expect(kindRefusal({ capBnd: 0x1ffffffffffn, lastCap: 40 })).to.equal(undefined);
    });
  });

  it('start() fails at once with that refusal on such a host: nothing built, no container made', async () => {
    const t0 = Date.now();
    const err = await new KindProvider({ log: () => undefined, host: THIS_HOST }).start().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal(kindRefusal(THIS_HOST));
    expect(Date.now() - t0).to.be.below(1000);
  });
});
