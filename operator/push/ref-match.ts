import type { GitRepositoryRef } from '../flux/types.js';

// Decides whether a GitLab push can change what a Flux GitRepository tracks.
//
// A wrong "yes" costs one extra reconcile of the GitRepository; a wrong "no" leaves it stale until
// spec.interval. So every case we cannot decide exactly and cheaply answers "yes".

/** The ref a push touched: `refs/heads/main`, `refs/tags/v1.2.0`, or anything else. */
export interface PushedRef {
  ref: string;
  /** True when the push deleted the ref (GitLab sends `after` as 40 zeros). */
  deleted: boolean;
}

const HEADS = 'refs/heads/';
const TAGS = 'refs/tags/';
/** Flux checks out `master` when spec.ref is absent or sets nothing. */
export const DEFAULT_BRANCH = 'master';

export function shouldTrigger(repoRef: GitRepositoryRef | undefined, push: PushedRef): boolean {
  // A deleted ref has no new content to fetch; if the GitRepository tracked it, the next
  // interval reports the failure, and a reconcile now would only report it sooner.
  if (push.deleted) return false;

  const isBranchPush = push.ref.startsWith(HEADS) && push.ref.length > HEADS.length;
  const isTagPush = push.ref.startsWith(TAGS) && push.ref.length > TAGS.length;
  // GitLab only sends heads and tags today; anything else we cannot reason about.
  if (!isBranchPush && !isTagPush) return true;

  const ref = repoRef ?? {};
  // Precedence, from the CRD field descriptions: commit "takes precedence over all reference
  // fields"; name "takes precedence over Branch, Tag and SemVer"; semver "takes precedence over
  // Tag"; tag "takes precedence over Branch"; branch defaults to 'master' if nothing is set.
  // So: commit > name > semver > tag > branch.
  if (ref.commit) {
    // A pinned commit may be reachable from any ref (and commit+branch only narrows the clone);
    // proving a push irrelevant would need the repository graph. Triggering is cheap.
    return true;
  }
  if (ref.name) {
    if (ref.name.startsWith(HEADS) || ref.name.startsWith(TAGS)) return push.ref === ref.name;
    // refs/merge-requests/1/head, refs/pull/..., or a short name: which push moves it is unknown.
    return true;
  }
  if (ref.semver) {
    // Any new tag may be the new highest match of the range. Evaluating the range here would
    // duplicate Flux's semver rules (prefixes like `v`, pre-releases) for the price of one
    // reconcile per tag push, which is rare; and branch pushes can never change the result.
    return isTagPush;
  }
  if (ref.tag) return push.ref === TAGS + ref.tag;
  return push.ref === HEADS + (ref.branch || DEFAULT_BRANCH);
}
