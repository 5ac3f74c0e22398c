// Which GitLab hooks carry a link's webhook: a group hook for the managed projects below a group the link lists in
// spec.gitlab.api.groupHooks, a project hook for every other managed project (docs/adr/0020-group-hooks.md). Pure:
// the hooks controller tries the groups chosen here, tells which could not be used, and asks again.
//
// GitLab delivers a push to the hooks of the project and of every group above it (ee/app/models/ee/project.rb
// `group_hooks`: GroupHook.where(group_id: group.self_and_ancestors)). So one hook on a group covers every project in
// it and in its subgroups, and a project below two hooked groups, or with a group hook and a project hook of the
// same link, would get every push twice. Hence: for each project the topmost listed group that is usable; no hook on
// a listed group below a chosen one; no project hook on a covered project.
import { groupContains } from '../gitlab/hook-parent.js';

export interface GroupCover {
  /** The group's full path, as listed in spec.gitlab.api.groupHooks. */
  group: string;
  /** The managed projects its hook covers. */
  projects: string[];
}

export interface HookPlaces {
  /** Groups that carry the link's hook, topmost first; each covers at least one managed project. */
  groups: GroupCover[];
  /** Managed projects no usable listed group covers: each keeps a project hook. */
  projects: string[];
}

/**
 * @param projects the link's managed projects (paths)
 * @param listed spec.gitlab.api.groupHooks (absent or empty: project hooks only)
 * @param unusable listed groups found unusable in this pass: GitLab answered 403 (the token is not an Owner), 404
 * (no such group, not visible, or an instance without group hooks) or an error (their projects keep project hooks
 * until the group answers: a push is never left without a hook)
 */
export function hookPlaces(projects: readonly string[], listed: readonly string[] | undefined, unusable: ReadonlySet<string>): HookPlaces {
  // Topmost first (fewer segments), then by name: the choice does not depend on the order in the spec.
  const usable = [...new Set(listed ?? [])]
    .filter((g) => !unusable.has(g))
    .sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0));
  const byGroup = new Map<string, string[]>();
  const uncovered: string[] = [];
  for (const project of [...new Set(projects)].sort()) {
    const group = usable.find((g) => groupContains(g, project));
    if (group === undefined) uncovered.push(project);
    else byGroup.set(group, [...(byGroup.get(group) ?? []), project]);
  }
  return {
    groups: usable.filter((g) => byGroup.has(g)).map((group) => ({ group, projects: byGroup.get(group)! })),
    projects: uncovered,
  };
}
