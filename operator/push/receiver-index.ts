import type { GitLabFluxLink } from '../api/v1alpha1/types.js';
import type { GitRepository, GitRepositoryRef, Namespace } from '../flux/types.js';
import { normalizeProject } from '../gitlab/project-url.js';
import { changeMatters } from '../kube/changes.js';
import type { Informer } from '../kube/informer.js';
import type { KubeObject } from '../meta/object.js';
import { claimsOf, type LinkMatcher } from '../reconcile/claims.js';
import type { LinkCompiler } from '../reconcile/compile.js';
import { objectName } from '../reconcile/names.js';

/**
 * project → the Receivers a push to it concerns, per link. Built from the same caches and the same pure
 * claim rules as the reconcile, so every replica (leader or not) answers a webhook the same way. Rebuilt
 * lazily: any change to links, GitRepositories or Namespaces marks it stale, and the next lookup rebuilds it
 * (O(repositories), once), so a push storm without changes costs one Map lookup per push.
 */
export interface Target {
  namespace: string;
  gitRepository: string;
  receiver: string;
  project: string;
  ref: GitRepositoryRef | undefined;
}

export interface LinkEntry {
  link: GitLabFluxLink;
  matcher: LinkMatcher;
  byProject: Map<string, Target[]>;
}

export class ReceiverIndex {
  private stale = true;
  private entries = new Map<string, LinkEntry>();

  constructor(
    private readonly links: Informer<GitLabFluxLink>,
    private readonly gitRepositories: Informer<GitRepository>,
    private readonly namespaces: Informer<Namespace>,
    private readonly compiler: LinkCompiler,
  ) {
    // Rebuilt (O(repositories)) only for changes it depends on, not for every status or annotation change.
    const invalidate = (type: string, obj: KubeObject, old?: KubeObject) => {
      if (changeMatters(type, obj, old)) this.stale = true;
    };
    links.onChange(invalidate);
    gitRepositories.onChange(invalidate);
    namespaces.onChange(invalidate);
  }

  /** The link with a valid spec, or undefined (unknown, being deleted, invalid). */
  link(name: string): LinkEntry | undefined {
    this.rebuildIfStale();
    return this.entries.get(name);
  }

  /** Names of the links with a valid spec. */
  linkNames(): string[] {
    this.rebuildIfStale();
    return [...this.entries.keys()];
  }

  lookup(linkName: string, project: string): Target[] {
    return this.link(linkName)?.byProject.get(normalizeProject(project)) ?? [];
  }

  private rebuildIfStale(): void {
    if (!this.stale) return;
    this.stale = false;
    const links = this.links.list();
    const matchers = links.flatMap((l) => {
      const m = this.compiler.matcher(l);
      return m ? [{ link: l, matcher: m }] : [];
    });
    const repos = this.gitRepositories.list();
    const nsLabels = (ns: string) => {
      const n = this.namespaces.get(undefined, ns);
      return n ? (n.metadata.labels ?? {}) : undefined;
    };
    const entries = new Map<string, LinkEntry>();
    for (const { link, matcher } of matchers) {
      const byProject = new Map<string, Target[]>();
      for (const { repo, project } of claimsOf(
        matcher,
        matchers.map((m) => m.matcher),
        repos,
        nsLabels,
      ).managed) {
        const key = normalizeProject(project);
        const list = byProject.get(key) ?? [];
        list.push({
          namespace: repo.metadata.namespace ?? '',
          gitRepository: repo.metadata.name,
          receiver: objectName(repo.metadata.name),
          project,
          ref: repo.spec?.ref,
        });
        byProject.set(key, list);
      }
      entries.set(link.metadata.name, { link, matcher, byProject });
    }
    this.entries = entries;
  }
}
