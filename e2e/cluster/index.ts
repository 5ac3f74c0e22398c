import { KindProvider } from './kind.js';
import { NodeContainerProvider } from './node-container.js';
import type { ClusterProvider } from './provider.js';

export type { ClusterProvider, StartedCluster } from './provider.js';

/** The cluster tier's provider: CLUSTER_PROVIDER=node-container (the default) or kind. */
export function clusterProvider(name = process.env.CLUSTER_PROVIDER ?? 'node-container'): ClusterProvider {
  switch (name) {
    case 'node-container':
      return new NodeContainerProvider();
    case 'kind':
      return new KindProvider();
    default:
      throw new Error(`CLUSTER_PROVIDER=${name} is not a cluster provider: node-container or kind`);
  }
}
