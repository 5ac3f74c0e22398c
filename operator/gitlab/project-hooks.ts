// GitLab's project hook as its REST API shows it, and what the operator writes: the fields the operator reads or
// sets, named as GitLab names them (pure: the client is operator/gitlab-api/). Source: lib/api/entities/hook.rb and
// project_hook.rb (the entity), lib/api/project_hooks.rb (the parameters); docs: api/project_webhooks.md.

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
  /** 19.0+: whether the hook has a secret token (GitLab never shows the token itself). */
  token_present?: boolean;
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
