import { createHash } from 'node:crypto';

/** Labels and annotations that tie the objects the operator makes to their link. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'gitlab-flux-link';
export const LABEL_LINK = 'fluxlink.dev/link';
export const LABEL_FLUX_WATCH = 'reconcile.fluxcd.io/watch';
export const ANNOTATION_PROJECT = 'fluxlink.dev/project';
export const ANNOTATION_GIT_REPOSITORY = 'fluxlink.dev/git-repository';
export const FINALIZER = 'fluxlink.dev/finalizer';
export const TOKEN_KEY = 'token';

const PREFIX = 'gfl-';
const HASHED_PREFIX = 'gfh-';
const MAX_NAME = 253;

/**
 * The Receiver and Secret for GitRepository `name` share this name in its namespace. `gfl-` + the name is
 * injective, so two GitRepositories can never get the same name. A name too long for the 253-character
 * limit becomes `gfh-` + a prefix + a hash of the whole name: the other prefix keeps hashed names apart
 * from every plain one, and 64 bits of hash keep them apart from each other.
 */
export function objectName(gitRepositoryName: string): string {
  const plain = PREFIX + gitRepositoryName;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash('sha256').update(gitRepositoryName).digest('hex').slice(0, 16);
  return `${(HASHED_PREFIX + gitRepositoryName).slice(0, MAX_NAME - hash.length - 1).replace(/[.-]+$/, '')}-${hash}`;
}

/** Label selector for everything a link made. */
export function linkSelector(linkName: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_LINK}=${linkName}`;
}
