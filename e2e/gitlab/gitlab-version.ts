// Which GitLab the emulator behaves as. Each feature names the version that introduced it and where that is
// written down; an endpoint or field a version lacks is absent (404 / not in the JSON / ignored on input),
// as that GitLab would do.
export interface GitLabFeatures {
  /** e.g. '17.11' */
  version: string;
  /** `name` and `description` on hooks: 17.1 (doc/api/project_webhooks.md, issue 460887). */
  hookNameDescription: boolean;
  /** `custom_webhook_template`: 16.10; `custom_headers`: 17.1 (doc/api/project_webhooks.md). */
  customWebhookTemplate: boolean;
  customHeaders: boolean;
  /** `POST /projects/:id/hooks/:hook_id/test/:trigger`: 16.11 (doc/api/project_webhooks.md, MR 147656). */
  testEndpoint: boolean;
  /**
   * The test endpoint's own rate limit: 17.0 three a minute per hook, 17.1 five a minute per project and user
   * (doc/api/project_webhooks.md; lib/gitlab/application_rate_limiter.rb `web_hook_test`). None before 17.0.
   */
  testRateLimit: { limit: number; scope: 'hook' | 'project-user' } | undefined;
  /** `GET …/hooks/:hook_id/events`: 17.3 (doc/api/project_webhooks.md, MR 151048). */
  hookEvents: boolean;
  /** `POST …/events/:hook_log_id/resend`: 17.4, five a minute per hook and user (MR 151130). */
  resendEvent: boolean;
  /**
   * Auto-disabling as app/models/concerns/web_hooks/auto_disabling.rb has it since 17.11 (4th failure: temporary
   * backoff, 40th: permanent). Before, self-managed hooks always show `executable`.
   */
  autoDisabling: boolean;
  /** `signing_token` (write-only), `token_present`, `signing_token_present`: 19.0 (MR 231325). */
  signingToken: boolean;
  /**
   * `POST /groups/:id/hooks/:hook_id/test/:trigger`: 17.1 (doc/api/group_webhooks.md "Trigger a test group hook",
   * issue 455589), five a minute per group and user. The group hooks themselves (Premium and Ultimate) are older
   * than the oldest version emulated; their events and resend endpoints came with the project ones (17.3, 17.4).
   */
  groupHookTest: boolean;
}

export const DEFAULT_GITLAB_VERSION = '19.0';
const OLDEST = [16, 0] as const;

export function parseGitLabVersion(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version.trim());
  if (!m) throw new Error(`GitLab version must look like 17.11 (got ${JSON.stringify(version)})`);
  const v: [number, number] = [Number(m[1]), Number(m[2])];
  if (v[0] < OLDEST[0]) throw new Error(`the emulator behaves as GitLab ${OLDEST.join('.')} or later (got ${version})`);
  return v;
}

export function gitlabFeatures(version: string = DEFAULT_GITLAB_VERSION): GitLabFeatures {
  const [major, minor] = parseGitLabVersion(version);
  const atLeast = (ma: number, mi: number) => major > ma || (major === ma && minor >= mi);
  return {
    version: `${major}.${minor}`,
    hookNameDescription: atLeast(17, 1),
    customWebhookTemplate: atLeast(16, 10),
    customHeaders: atLeast(17, 1),
    testEndpoint: atLeast(16, 11),
    testRateLimit: atLeast(17, 1) ? { limit: 5, scope: 'project-user' } : atLeast(17, 0) ? { limit: 3, scope: 'hook' } : undefined,
    hookEvents: atLeast(17, 3),
    resendEvent: atLeast(17, 4),
    autoDisabling: atLeast(17, 11),
    signingToken: atLeast(19, 0),
    groupHookTest: atLeast(17, 1),
  };
}
