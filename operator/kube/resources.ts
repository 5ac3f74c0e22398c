/** The API resources the operator reads and writes, with their REST paths. */
export interface Resource {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const LINKS: Resource = { group: 'fluxlink.dev', version: 'v1alpha1', plural: 'gitlabfluxlinks', kind: 'GitLabFluxLink', namespaced: false };
export const GIT_REPOSITORIES: Resource = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories', kind: 'GitRepository', namespaced: true };
export const RECEIVERS: Resource = { group: 'notification.toolkit.fluxcd.io', version: 'v1', plural: 'receivers', kind: 'Receiver', namespaced: true };
export const SECRETS: Resource = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
export const NAMESPACES: Resource = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
export const LEASES: Resource = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };
export const EVENTS: Resource = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

export function apiVersionOf(r: Resource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]` */
export function resourcePath(r: Resource, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

/** A short label for metrics: `gitrepositories.source.toolkit.fluxcd.io`. */
export function resourceLabel(r: Resource): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}
