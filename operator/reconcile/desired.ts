import { API_VERSION, type GitLabFluxLinkSpec, KIND } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORY_API_VERSION, type Receiver, RECEIVER_API_VERSION, type Secret } from '../flux/types.js';
import type { Claim } from './claims.js';
import {
  ANNOTATION_GIT_REPOSITORY,
  ANNOTATION_PROJECT,
  LABEL_FLUX_WATCH,
  LABEL_LINK,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  objectName,
  TOKEN_KEY,
} from './names.js';

/**
 * The Secret and Receiver each managed GitRepository should have. Deterministic: names, labels, owner
 * references and specs depend only on the link and the repository, so a re-run produces identical objects
 * (golden tests hold this). The token is the one thing that is random; it is passed in, never made here.
 */
export interface DesiredPair {
  key: string; // namespace/gitRepositoryName
  project: string;
  secret: Secret;
  receiver: Receiver;
}

export const PUSH_EVENTS = ['Push Hook', 'Tag Push Hook'];

/**
 * The link owns what it made: deleting the link (by hand, or with its CRD when the operator is uninstalled and no
 * longer runs) lets Kubernetes' garbage collector remove them, so the link needs no finalizer of the operator's
 * to be deleted cleanly (docs/adr/0020-uninstall-without-the-operator.md). A namespaced object may have a
 * cluster-scoped owner. The only owner: the collector deletes an object only once every owner is gone.
 */
export function ownerReference(link: LinkIdentity) {
  return { apiVersion: API_VERSION, kind: KIND, name: link.name, uid: link.uid };
}

/** The link as its owner references name it. */
export interface LinkIdentity {
  name: string;
  uid: string;
}

export function desiredPair(link: LinkIdentity, spec: GitLabFluxLinkSpec, claim: Claim, token: string): DesiredPair {
  const linkName = link.name;
  const { repo, project } = claim;
  const namespace = repo.metadata.namespace ?? '';
  const name = objectName(repo.metadata.name);
  const labels = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_LINK]: linkName };
  const annotations = { [ANNOTATION_PROJECT]: project, [ANNOTATION_GIT_REPOSITORY]: repo.metadata.name };
  const ownerReferences = [ownerReference(link)];
  const type = spec.receiver?.type ?? 'generic-hmac';

  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { ...labels, [LABEL_FLUX_WATCH]: 'Enabled' }, annotations, ownerReferences },
    type: 'Opaque',
    data: { [TOKEN_KEY]: Buffer.from(token).toString('base64') },
  };
  const receiver: Receiver = {
    apiVersion: RECEIVER_API_VERSION,
    kind: 'Receiver',
    metadata: { name, namespace, labels, annotations, ownerReferences },
    spec: {
      type,
      ...(spec.receiver?.interval ? { interval: spec.receiver.interval } : {}),
      // The gitlab type checks X-Gitlab-Event against this list; generic-hmac ignores events.
      ...(type === 'gitlab' ? { events: PUSH_EVENTS } : {}),
      resources: [{ apiVersion: GIT_REPOSITORY_API_VERSION, kind: 'GitRepository', name: repo.metadata.name }],
      secretRef: { name },
    },
  };
  return { key: `${namespace}/${repo.metadata.name}`, project, secret, receiver };
}

/** A token is kept when it is there and long enough; anything else gets a fresh one. */
export function usableToken(secret: Secret | undefined): string | undefined {
  const b64 = secret?.data?.[TOKEN_KEY];
  if (!b64) return undefined;
  const token = Buffer.from(b64, 'base64').toString('utf8');
  return token.length >= 32 ? token : undefined;
}
