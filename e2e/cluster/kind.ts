import type { ClusterProvider, StartedCluster } from './provider.js';

/**
 * Real kind (sigs.k8s.io/kind, CLUSTER_PROVIDER=kind) for hosts that can pull kindest/node and its images. Not implemented on this
 * machine, where nothing can be pulled: the node-container provider builds the same shape here
 * (docs/adr/0019-test-ground-node.md).
 */
export class KindProvider implements ClusterProvider {
  readonly name = 'kind' as const;

  start(): Promise<StartedCluster> {
    return Promise.reject(
      new Error('the kind provider is not implemented here: use CLUSTER_PROVIDER=node-container (docs/adr/0019-test-ground-node.md)'),
    );
  }
}
