import type { TestEnv } from '../testenv/index.js';
import { OPERATOR_NAMESPACE } from './operator.js';

/** A GitLabFluxLink on the test ground's GitLab and notification-controller, selecting namespaces by label. */
export function linkManifest(
  env: TestEnv,
  name: string,
  opts: { label: Record<string, string>; projects: string[]; webhookSecret: string },
) {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: { url: env.git.instanceURL },
      receiver: { endpoint: env.cluster.receiverURL },
      trust: { namespaceSelector: { matchLabels: opts.label }, projects: opts.projects },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: opts.webhookSecret } },
    },
  };
}

/** The Secret holding a link's webhook token (GitLab's "Secret token"), in the operator's namespace. */
export function webhookSecretManifest(name: string, token: string) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: OPERATOR_NAMESPACE }, stringData: { token } };
}
