// GitLab's project hook as its REST API shows it, and what the operator writes: the fields the operator reads or
// sets, named as GitLab names them. Source: lib/api/entities/hook.rb and project_hook.rb (the entity), and
// lib/api/project_hooks.rb (the parameters); docs: api/project_webhooks.md.

/** GitLab's alert_status (17.11+): executable, or disabled for a while (temporarily) or for good after 40 failures. */
export type AlertStatus = 'executable' | 'temporarily_disabled' | 'disabled';

/** A project hook as listed. Fields a version does not have are absent (name/description 17.1+, signing 19.0+). */
export interface ProjectHook {
  id: number;
  url: string;
  created_at?: string;
  push_events?: boolean;
  tag_push_events?: boolean;
  enable_ssl_verification?: boolean;
  push_events_branch_filter?: string | null;
  branch_filter_strategy?: string | null;
  name?: string | null;
  description?: string | null;
  alert_status?: AlertStatus | string;
  disabled_until?: string | null;
  signing_token_present?: boolean;
  custom_webhook_template?: string | null;
  [event: string]: unknown;
}

/** The other events a project hook can send; this link's hook has them all off (lib/api/project_hooks.rb). */
export const OTHER_EVENTS = [
  'issues_events',
  'confidential_issues_events',
  'merge_requests_events',
  'note_events',
  'confidential_note_events',
  'job_events',
  'pipeline_events',
  'wiki_page_events',
  'deployment_events',
  'feature_flag_events',
  'releases_events',
  'milestone_events',
  'emoji_events',
  'resource_access_token_events',
  'resource_deploy_token_events',
  'vulnerability_events',
  'repository_update_events',
] as const;

/** The body of a create or an update: always the whole hook, token included (GitLab never returns it). */
export interface HookWrite {
  url: string;
  token: string;
  push_events: true;
  tag_push_events: true;
  enable_ssl_verification: true;
  push_events_branch_filter: '';
  /** Only where the instance supports them (the listed hooks show the fields). */
  name?: string;
  description?: string;
  signing_token?: string;
  custom_webhook_template?: '';
  [event: string]: unknown;
}

/** What a test delivery did: GitLab answers 201 when the receiver answered 2xx (which re-enables the hook), else 422. */
export type TestResult = 'delivered' | 'refused';

/** The GitLab API calls the hooks controller makes. `project` is the project's path (URL-encoded by the client). */
export interface GitLabApi {
  /** Every hook of the project, following every page. */
  listProjectHooks(project: string): Promise<ProjectHook[]>;
  createProjectHook(project: string, hook: HookWrite): Promise<ProjectHook>;
  updateProjectHook(project: string, id: number, hook: HookWrite): Promise<ProjectHook>;
  /** Resolves also when the hook is already gone (404). */
  deleteProjectHook(project: string, id: number): Promise<void>;
  /** POST …/hooks/:id/test/push_events (16.11+; 5 a minute). */
  testProjectHook(project: string, id: number): Promise<TestResult>;
  /** Failed deliveries among the most recent ones (…/hooks/:id/events, 17.3+); undefined where the API has no such endpoint. */
  recentHookFailures(project: string, id: number): Promise<number | undefined>;
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
