// The GitLab API calls the hooks controller makes, and how they fail. The hook's fields: gitlab/project-hooks.ts.
import type { HookWrite, ProjectHook } from '../gitlab/project-hooks.js';

/** What a test delivery did: GitLab answers 201 when the receiver answered 2xx (which re-enables the hook), else 422. */
export type TestResult = 'delivered' | 'refused';

/**
 * The GitLab API calls the hooks controller makes. `parent` is where the hooks live (gitlab/hook-parent.ts): a
 * project's path, or `group:` and a group's full path; the client URL-encodes it. A group's hooks answer as a
 * project's (ee/lib/api/group_hooks.rb mounts the same hook helpers, test and events endpoints), under
 * `/groups/:id/hooks`.
 */
export interface GitLabApi {
  /** Every hook of the project or group, following every page. */
  listHooks(parent: string): Promise<ProjectHook[]>;
  createHook(parent: string, hook: HookWrite): Promise<ProjectHook>;
  updateHook(parent: string, id: number, hook: HookWrite): Promise<ProjectHook>;
  /** Resolves also when the hook is already gone (404). */
  deleteHook(parent: string, id: number): Promise<void>;
  /** POST …/hooks/:id/test/push_events (projects 16.11+, groups 17.1+; 5 a minute). */
  testHook(parent: string, id: number): Promise<TestResult>;
  /** Failed deliveries since the last 2xx (…/hooks/:id/events, 17.3+, newest first); undefined where the API has no such endpoint. */
  recentHookFailures(parent: string, id: number): Promise<number | undefined>;
}

/** A tag: its name and the commit it points to (GitLab's `commit.id`, an annotated tag peeled). */
export interface TagCommit {
  name: string;
  commit: string;
}

/**
 * Where a project's refs are now, for the catch-up (docs: api/branches.md, api/tags.md). Reading a repository needs
 * Reporter; the link's token has Maintainer. A ref that does not exist is `undefined`; a project GitLab does not show
 * the token fails the call (404 "Project Not Found").
 */
export interface GitLabRefs {
  /** GET /projects/:id/repository/branches/:branch → commit.id. */
  branchHead(project: string, branch: string): Promise<string | undefined>;
  /** GET /projects/:id/repository/tags/:tag_name → commit.id. */
  tagCommit(project: string, tag: string): Promise<string | undefined>;
  /** GET /projects/:id/repository/tags?order_by=updated&sort=desc&per_page=1: the most recently updated tag. */
  newestTag(project: string): Promise<TagCommit | undefined>;
}

/** Why a GitLab API call failed, without the token: the HTTP status (0: no answer), the endpoint, GitLab's message. */
export class GitLabApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly endpoint: string,
    /** For a 429: how long GitLab asked to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'GitLabApiError';
  }
}
