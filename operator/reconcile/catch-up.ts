// Pure decisions of the catch-up (docs/adr/0017-no-push-lost.md): what a GitRepository tracks and how to ask GitLab
// for it, what Flux last fetched (status.artifact.revision), whether it is behind, which GitLab requests a catch-up
// makes and how many a sweep may spend of the link's budget. No I/O: push/catch-up.ts asks GitLab and triggers.
import type { GitRepositoryRef } from '../flux/types.js';
import { normalizeProject } from '../gitlab/project-url.js';

/** Flux checks out `master` when spec.ref is absent or sets nothing (source-controller's default branch). */
const DEFAULT_BRANCH = 'master';
const HEADS = 'refs/heads/';
const TAGS = 'refs/tags/';

/** One GitLab request that tells where a ref is: a branch's head, a tag's commit, or the project's newest tag. */
export type HeadQuery = { kind: 'branch'; name: string } | { kind: 'tag'; name: string } | { kind: 'newest-tag' };

/**
 * What a GitRepository tracks, as the catch-up sees it:
 * - `ask`: one GitLab request answers where its ref is now (branch, tag, `refs/heads/…` or `refs/tags/…` name,
 *   and semver through the newest tag: see `semverBehind`);
 * - `pinned`: spec.ref.commit: a fixed commit is never behind (Flux gives commit precedence over every other field);
 * - `opaque`: a `name` GitLab's branch and tag API cannot answer (`refs/merge-requests/1/head`, a short name):
 *   always triggered, Flux decides (a trigger that finds nothing new costs Flux one ls-remote, no clone).
 */
export type Tracking = { kind: 'ask'; query: HeadQuery } | { kind: 'pinned' } | { kind: 'opaque' };

/** Precedence as Flux's CRD says: commit > name > semver > tag > branch (push/ref-match.ts follows the same). */
export function trackingOf(ref: GitRepositoryRef | undefined): Tracking {
  const r = ref ?? {};
  if (r.commit) return { kind: 'pinned' };
  if (r.name) {
    if (r.name.startsWith(HEADS) && r.name.length > HEADS.length)
      return { kind: 'ask', query: { kind: 'branch', name: r.name.slice(HEADS.length) } };
    if (r.name.startsWith(TAGS) && r.name.length > TAGS.length)
      return { kind: 'ask', query: { kind: 'tag', name: r.name.slice(TAGS.length) } };
    return { kind: 'opaque' };
  }
  if (r.semver) return { kind: 'ask', query: { kind: 'newest-tag' } };
  if (r.tag) return { kind: 'ask', query: { kind: 'tag', name: r.tag } };
  return { kind: 'ask', query: { kind: 'branch', name: r.branch || DEFAULT_BRANCH } };
}

/** What Flux last fetched: the ref it names (absent for a pinned commit) and the commit's hash, lower case. */
export interface ArtifactRevision {
  ref?: string;
  algorithm: 'sha1' | 'sha256';
  hash: string;
}

const HASH_OF: Record<string, ArtifactRevision['algorithm']> = { 40: 'sha1', 64: 'sha256' };

/**
 * status.artifact.revision, in every form source-controller has written:
 * - `<ref>@sha1:<40 hex>` / `<ref>@sha256:<64 hex>` (Flux v2 ≥ 0.37 and source.toolkit.fluxcd.io/v1; `<ref>` is the
 *   branch, the tag, the semver-selected tag or the full `name` such as `refs/heads/main`; SHA-256 repositories
 *   write `sha256:`);
 * - `sha1:<hex>` for a pinned commit (no ref);
 * - the older `<ref>/<hex>` (e.g. `main/1f2e…`, `v1.0.0/1f2e…`, `HEAD/1f2e…` for a commit) and a bare hash.
 * Undefined for anything else (a tampered or unknown form): the caller treats it as no artifact.
 */
export function parseRevision(revision: string | undefined): ArtifactRevision | undefined {
  if (!revision) return undefined;
  const v = revision.trim();
  const modern = /^(?:(.+)@)?(sha1|sha256):([0-9a-fA-F]+)$/.exec(v);
  if (modern) {
    const [, ref, algorithm, hex] = modern;
    if (HASH_OF[hex!.length] !== algorithm) return undefined;
    return { ...(ref ? { ref } : {}), algorithm: algorithm as ArtifactRevision['algorithm'], hash: hex!.toLowerCase() };
  }
  const legacy = /^(?:(.+)\/)?([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.exec(v);
  if (legacy) {
    const [, ref, hex] = legacy;
    return { ...(ref && ref !== 'HEAD' ? { ref } : {}), algorithm: HASH_OF[hex!.length]!, hash: hex!.toLowerCase() };
  }
  return undefined;
}

/**
 * Whether the GitRepository is behind the ref's commit in GitLab. No artifact (never fetched, or a revision we
 * cannot read) counts as behind: a trigger costs Flux one cheap check, a wrong "no" would leave it to spec.interval.
 */
export function behind(headCommit: string, artifact: ArtifactRevision | undefined): boolean {
  if (!artifact) return true;
  return headCommit.trim().toLowerCase() !== artifact.hash;
}

/** A tag as GitLab lists it: its name and the commit it points to (annotated tags peeled: `commit.id`). */
export interface TagHead {
  name: string;
  commit: string;
}

/** How the newest tag was last seen for a semver GitRepository: name and commit (a moved tag is news too). */
export const tagFingerprint = (t: TagHead) => `${t.name}@${t.commit.toLowerCase()}`;

/**
 * A semver GitRepository: trigger and let Flux decide, but only when the project's tags changed. Which tag
 * satisfies the range is Flux's rule (Masterminds semver, prefixes, pre-releases); evaluating it here would be a
 * second implementation to drift from it. So: not behind when the artifact already is the project's newest tag
 * (GitLab's `order_by=updated`), or when this newest tag was already seen (and triggered for) by an earlier
 * catch-up; otherwise behind. A project without tags is never behind. The cost of a wrong "yes" is one cheap
 * Flux reconcile, once per change of the project's tags.
 */
export function semverBehind(newest: TagHead | undefined, artifact: ArtifactRevision | undefined, seenBefore: string | undefined): boolean {
  if (!newest) return false;
  if (artifact && artifact.ref === newest.name && !behind(newest.commit, artifact)) return false;
  return seenBefore !== tagFingerprint(newest);
}

/** A GitRepository a catch-up looks at: where it is, what it tracks, what Flux last fetched. */
export interface CatchUpRepository {
  namespace: string;
  name: string;
  project: string;
  ref: GitRepositoryRef | undefined;
  revision: string | undefined;
}

/** One GitLab request of a catch-up and the GitRepositories its answer decides (same project and ref share it). */
export interface CatchUpQuery<R extends CatchUpRepository = CatchUpRepository> {
  key: string;
  project: string;
  query: HeadQuery;
  repositories: R[];
}

export interface CatchUpPlan<R extends CatchUpRepository = CatchUpRepository> {
  /** Distinct project + ref pairs, sorted by key (a stable order for the budget's rotation). */
  queries: CatchUpQuery<R>[];
  /** Triggered without asking GitLab (a `name` its API cannot answer). */
  opaque: R[];
  /** Never behind (spec.ref.commit). */
  pinned: R[];
}

export function queryKey(project: string, q: HeadQuery): string {
  return `${normalizeProject(project)}\n${q.kind}\n${q.kind === 'newest-tag' ? '' : q.name}`;
}

/** Groups a link's GitRepositories into the GitLab requests that decide them: one per project + ref. */
export function planCatchUp<R extends CatchUpRepository>(repositories: readonly R[]): CatchUpPlan<R> {
  const byKey = new Map<string, CatchUpQuery<R>>();
  const opaque: R[] = [];
  const pinned: R[] = [];
  for (const repo of repositories) {
    const t = trackingOf(repo.ref);
    if (t.kind === 'pinned') pinned.push(repo);
    else if (t.kind === 'opaque') opaque.push(repo);
    else {
      const key = queryKey(repo.project, t.query);
      const q = byKey.get(key) ?? { key, project: repo.project, query: t.query, repositories: [] };
      q.repositories.push(repo);
      byKey.set(key, q);
    }
  }
  const queries = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { queries, opaque, pinned };
}

/** The share of a link's requestsPerMinute the catch-up may spend; the rest is the hooks controller's. */
export const CATCH_UP_BUDGET_SHARE = 0.5;

/**
 * The most GitLab requests one catch-up may make: half of the link's budget over the sweep interval (at least one
 * minute's worth, so a short test interval still covers something), never less than 1. With the defaults (300 a
 * minute, every 5 minutes): 750 distinct project + ref pairs a sweep.
 */
export function catchUpRequestCap(requestsPerMinute: number, intervalMs: number): number {
  const minutes = Math.max(intervalMs, 60_000) / 60_000;
  return Math.max(1, Math.floor(requestsPerMinute * CATCH_UP_BUDGET_SHARE * minutes));
}

/**
 * The queries this catch-up makes when there are more than its cap: a window starting at `cursor` (wrapping), so
 * successive sweeps cover every pair in turn. Returns the chosen queries and the next cursor.
 */
export function chooseQueries<Q>(queries: readonly Q[], cap: number, cursor: number): { chosen: Q[]; next: number } {
  if (queries.length <= cap) return { chosen: [...queries], next: 0 };
  const start = ((cursor % queries.length) + queries.length) % queries.length;
  const chosen: Q[] = [];
  for (let i = 0; i < cap; i++) chosen.push(queries[(start + i) % queries.length]!);
  return { chosen, next: (start + cap) % queries.length };
}

/** Why a catch-up runs. Every reason but `sweep` is a moment when a push may have been missed. */
export type CatchUpReason = 'start' | 'leader' | 'hook-trouble' | 'secret-rotated' | 'api-recovered' | 'sweep';
export const CATCH_UP_REASONS: readonly CatchUpReason[] = ['start', 'leader', 'hook-trouble', 'secret-rotated', 'api-recovered', 'sweep'];

/**
 * Whether a catch-up that triggered `triggered` GitRepositories deserves an Event on the link: any catch-up run
 * because a push may have been missed, and a periodic sweep of a link with webhooks (it found a push the webhooks
 * missed, e.g. one of more than 3 refs). An outbound-only link's sweep is its delivery: no Event for that.
 */
export function catchUpNotable(reason: CatchUpReason, triggered: number, outboundOnly: boolean): boolean {
  if (triggered === 0) return false;
  return reason !== 'sweep' || !outboundOnly;
}
