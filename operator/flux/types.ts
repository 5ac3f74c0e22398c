import type { KubeObject } from '../meta/object.js';
import { apiVersionOf, type Resource } from '../meta/resource.js';
import { RECEIVER_WEBHOOK_PATH } from './webhook-path.js';

/** The parts of Flux's objects the operator reads and writes (source.toolkit.fluxcd.io/v1, notification.toolkit.fluxcd.io/v1). */

export interface FluxCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

/** spec.ref. Empty strings count as unset, as in Flux. */
export interface GitRepositoryRef {
  branch?: string;
  tag?: string;
  semver?: string;
  name?: string;
  commit?: string;
}

export interface GitRepository extends KubeObject {
  spec: { url: string; ref?: GitRepositoryRef; interval?: string; suspend?: boolean };
  status?: { artifact?: { revision?: string }; lastHandledReconcileAt?: string; conditions?: FluxCondition[] };
}

export interface ReceiverResource {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ReceiverSpec {
  type: string;
  interval?: string;
  events?: string[];
  resources: ReceiverResource[];
  secretRef?: { name: string };
  suspend?: boolean;
}

export interface Receiver extends KubeObject {
  spec: ReceiverSpec;
  status?: { webhookPath?: string; observedGeneration?: number; conditions?: FluxCondition[] };
}

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export type Namespace = KubeObject;

export const GIT_REPOSITORIES: Resource = {
  group: 'source.toolkit.fluxcd.io',
  version: 'v1',
  plural: 'gitrepositories',
  kind: 'GitRepository',
  namespaced: true,
};
export const RECEIVERS: Resource = {
  group: 'notification.toolkit.fluxcd.io',
  version: 'v1',
  plural: 'receivers',
  kind: 'Receiver',
  namespaced: true,
};
export const GIT_REPOSITORY_API_VERSION = apiVersionOf(GIT_REPOSITORIES);
export const RECEIVER_API_VERSION = apiVersionOf(RECEIVERS);

/** Ready with a webhook path for the current generation: only then can a push be delivered. */
export function receiverReadiness(r: Receiver | undefined): { ready: boolean; message: string } {
  if (!r) return { ready: false, message: 'Receiver not created yet' };
  const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
  const current = (r.status?.observedGeneration ?? 0) >= (r.metadata.generation ?? 0);
  // notification-controller writes no other shape; Flux's edit role can patch receivers/status (flux/webhook-path.ts).
  if (r.status?.webhookPath && !RECEIVER_WEBHOOK_PATH.test(r.status.webhookPath))
    return {
      ready: false,
      message:
        'Receiver status.webhookPath was changed by someone other than notification-controller: triggers are refused until it reconciles the Receiver again',
    };
  if (ready?.status === 'True' && r.status?.webhookPath && current) return { ready: true, message: 'Receiver ready' };
  if (!ready) return { ready: false, message: 'waiting for notification-controller to reconcile the Receiver' };
  return { ready: false, message: `Receiver not ready: ${ready.reason ?? ''} ${ready.message ?? ''}`.trim() };
}
