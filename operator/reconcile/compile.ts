import type { GitLabFluxLink } from '../api/v1alpha1/types.js';
import { formatFieldErrors, type ValidatedLinkSpec, validateLinkSpec } from '../api/v1alpha1/validation.js';
import { compilePatterns, type ProjectMatcher } from '../gitlab/project-patterns.js';
import { type Instance, parseInstance } from '../gitlab/project-url.js';
import type { LinkMatcher, NamespaceProjectsMatcher } from './claims.js';

/**
 * A link's spec validated (the CRD's defaults applied) and compiled (GitLab URL, SSH hosts, project
 * patterns), or why it cannot be: the message names the field. Depends on the spec alone.
 */
export type CompiledSpec =
  | { valid: true; spec: ValidatedLinkSpec; instance: Instance; projects: ProjectMatcher; namespaceProjects?: NamespaceProjectsMatcher[] }
  | { valid: false; message: string };

export function compileSpec(raw: unknown, linkName?: string): CompiledSpec {
  const v = validateLinkSpec(raw, linkName);
  if ('errors' in v) return { valid: false, message: formatFieldErrors(v.errors) };
  try {
    const instance = parseInstance(v.spec.gitlab.url, v.spec.gitlab.sshHosts ?? []);
    const compiled: CompiledSpec = { valid: true, spec: v.spec, instance, projects: compilePatterns(v.spec.trust.projects) };
    const rules = v.spec.trust.namespaceProjects;
    if (rules !== undefined)
      compiled.namespaceProjects = rules.map((r) => ({ namespaceSelector: r.namespaceSelector, projects: compilePatterns(r.projects) }));
    return compiled;
  } catch {
    // Validation accepts only what these parse; kept as a second line of defence.
    return { valid: false, message: 'spec: the GitLab URL, SSH hosts or project patterns cannot be compiled' };
  }
}

/**
 * The one place links are compiled: the link controller, the push path and the receiver index share one
 * instance, so a spec is validated and compiled once per generation (the API server bumps the generation on
 * every spec change and on nothing else a compile depends on).
 */
export class LinkCompiler {
  private readonly compiled = new Map<string, { uid: string; generation: number; result: CompiledSpec }>();

  compile(link: GitLabFluxLink): CompiledSpec {
    const { name, uid, generation } = link.metadata;
    if (uid === undefined || generation === undefined) return compileSpec(link.spec, name); // not from an API server
    const known = this.compiled.get(name);
    if (known && known.uid === uid && known.generation === generation) return known.result;
    const result = compileSpec(link.spec, name);
    this.compiled.set(name, { uid, generation, result });
    return result;
  }

  /** Who can manage repositories: a link with a valid spec that is not being deleted. */
  matcher(link: GitLabFluxLink): LinkMatcher | undefined {
    if (link.metadata.deletionTimestamp) return undefined;
    const c = this.compile(link);
    if (!c.valid) return undefined;
    const m: LinkMatcher = {
      name: link.metadata.name,
      createdAt: link.metadata.creationTimestamp ?? '',
      instance: c.instance,
      projects: c.projects,
      spec: c.spec,
    };
    if (c.namespaceProjects !== undefined) m.namespaceProjects = c.namespaceProjects;
    return m;
  }

  /** A deleted link's entry. */
  forget(name: string): void {
    this.compiled.delete(name);
  }
}
