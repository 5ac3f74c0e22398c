import { type GitLabFluxLink, LINKS } from '../api/v1alpha1/types.js';
import type { KubeClient } from '../kube/client.js';

/**
 * Sets a link's finalizers. The list is replaced as a whole, so the patch carries the resourceVersion it was
 * computed from: if anyone changed the link meanwhile (another controller's finalizer added or removed), the API
 * server answers 409 and the reconcile runs again on fresh data. Both controllers that own a finalizer use it.
 */
export function setLinkFinalizers(client: KubeClient, link: GitLabFluxLink, finalizers: string[]): Promise<GitLabFluxLink> {
  return client.patch(
    LINKS,
    undefined,
    link.metadata.name,
    { metadata: { resourceVersion: link.metadata.resourceVersion, finalizers } },
    'merge',
  );
}
