import type { Resource } from '../meta/resource.js';

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
