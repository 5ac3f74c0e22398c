import type { TestEnv } from '../testenv/index.js';
import type { TestHost } from '../testenv/test-host.js';
import { apply, freshNamespace } from './kube.js';
import { OPERATOR_NAMESPACE } from './operator.js';

/** The Service a link's service-proxy endpoint names, and the endpoint itself. */
export interface ServiceProxyTarget {
  namespace: string;
  service: string;
  /** `/api/v1/namespaces/<ns>/services/<svc>:80/proxy`, for `spec.receiver.endpoint`. */
  endpoint: string;
}

/**
 * A Service in a fresh namespace whose one endpoint is `host.address:port`, and the operator's grant to
 * proxy to it (the pattern of config/rbac/optional/service-proxy.yaml). The API server refuses to proxy to
 * loopback and only to addresses that are a Pod's IP: a Pod object (never run: there are no kubelets)
 * carries the test host's address as its IP.
 */
export async function serviceProxyTarget(env: TestEnv, host: TestHost, port: number, prefix = 'proxy-target'): Promise<ServiceProxyTarget> {
  const namespace = await freshNamespace(env.cluster, prefix);
  const service = 'webhook-receiver';
  await apply(env.cluster, [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'receiver-host', namespace },
      spec: { nodeName: 'test-host', containers: [{ name: 'receiver', image: 'none' }] },
    },
  ]);
  await env.cluster.kubectl([
    'patch',
    'pod',
    'receiver-host',
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { podIP: host.address, podIPs: [{ ip: host.address }] } }),
  ]);
  await apply(env.cluster, [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: service, namespace },
      spec: { ports: [{ name: 'http', port: 80, targetPort: port }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: service, namespace },
      subsets: [
        {
          addresses: [{ ip: host.address, targetRef: { kind: 'Pod', name: 'receiver-host', namespace } }],
          ports: [{ name: 'http', port }],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'gitlab-flux-link-proxy', namespace },
      rules: [
        {
          apiGroups: [''],
          resources: ['services/proxy'],
          resourceNames: [service, `${service}:80`, `${service}:http`],
          verbs: ['create'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'gitlab-flux-link-proxy', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gitlab-flux-link-proxy' },
      subjects: [{ kind: 'ServiceAccount', name: 'gitlab-flux-link', namespace: OPERATOR_NAMESPACE }],
    },
  ]);
  return { namespace, service, endpoint: `/api/v1/namespaces/${namespace}/services/${service}:80/proxy` };
}
