import type { KubeObject } from '../meta/object.js';

/**
 * What the caches keep of each object: a cache costs memory per object, and at 10,000 GitRepositories the
 * operator holds ~30,000 of them (bench/results). Every cache drops `managedFields`, as controller-runtime's
 * caches do by default (cache.TransformStripManagedFields): nothing here reads them, and they are often a
 * third of an object. The resourceVersion stays, so the informer still tells a change from a replay.
 */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  return { ...obj, metadata: metadataWithout(obj, ['managedFields']) };
}

/**
 * A GitRepository is read for its identity, labels and spec (claims, the push index, owner references) and the
 * revision of its artifact (the catch-up compares it with GitLab: push/catch-up.ts). The rest of its status and
 * its annotations (which can hold kubectl's last-applied copy of the whole object) are not kept.
 */
export function slimGitRepository<T extends KubeObject>(repo: T): T {
  const revision = (repo as { status?: { artifact?: { revision?: unknown } } }).status?.artifact?.revision;
  return {
    apiVersion: repo.apiVersion,
    kind: repo.kind,
    metadata: metadataWithout(repo, ['managedFields', 'annotations']),
    spec: repo.spec,
    ...(typeof revision === 'string' ? { status: { artifact: { revision } } } : {}),
  } as KubeObject as T;
}

/** A Namespace is read for its name and labels (the trust policy's namespace selector). */
export function slimNamespace<T extends KubeObject>(ns: T): T {
  return { apiVersion: ns.apiVersion, kind: ns.kind, metadata: metadataWithout(ns, ['managedFields', 'annotations']) } as KubeObject as T;
}

function metadataWithout<T extends KubeObject>(obj: T, drop: string[]): T['metadata'] {
  const metadata: Record<string, unknown> = { ...obj.metadata };
  for (const key of drop) delete metadata[key];
  return metadata as unknown as T['metadata'];
}

/** Each cache of the link controller with what it keeps (main.ts; the tests build the same caches). */
export const CACHE_TRANSFORMS = {
  gitRepositories: slimGitRepository,
  receivers: withoutManagedFields,
  secrets: withoutManagedFields,
  namespaces: slimNamespace,
} as const;
