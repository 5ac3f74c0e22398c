// The GitLabFluxLink API (fluxlink.dev/v1alpha1) as plain TypeScript types.
// The CRD schema (crds/fluxlink.dev_gitlabfluxlinks.yaml) and the class-validator classes (validation.ts)
// enforce the same rules; README documents every field.
import type { KubeObject } from '../../meta/object.js';
import type { Resource } from '../../meta/resource.js';

export const GROUP = 'fluxlink.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'GitLabFluxLink';
export const PLURAL = 'gitlabfluxlinks';
export const LINKS: Resource = { group: GROUP, version: VERSION, plural: PLURAL, kind: KIND, namespaced: false };

export const DEFAULT_RECEIVER_ENDPOINT = 'http://webhook-receiver.flux-system.svc.cluster.local';
export const DEFAULT_PROJECT_PATTERNS = ['**'];
export type ReceiverType = 'generic-hmac' | 'gitlab';
export const RECEIVER_TYPES: readonly ReceiverType[] = ['generic-hmac', 'gitlab'];

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface SecretKeyRef {
  /** Namespace of the Secret (the link is cluster-scoped, so it must be named). */
  namespace: string;
  name: string;
  /** Key inside the Secret's data; defaults to `token`. */
  key?: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

export interface GitLabSpec {
  /** Instance URL, http or https, optionally with a relative root (https://example.com/gitlab). */
  url: string;
  /** Extra host names that appear in SSH clone URLs (ssh://git@ssh.example.com/group/project.git). */
  sshHosts?: string[];
  /** GitLab REST API access: the operator registers and heals the projects' webhooks. Absent: hooks are made by hand. */
  api?: GitLabApiSpec;
}

/** Default of spec.gitlab.api.requestsPerMinute: well under GitLab.com's 2,000 authenticated requests a minute per user. */
export const DEFAULT_REQUESTS_PER_MINUTE = 300;
export const MAX_REQUESTS_PER_MINUTE = 2000;
export const DEFAULT_CA_KEY = 'ca.crt';
/**
 * spec.gitlab.api.sweepInterval: how often every linked GitRepository is compared with its ref in GitLab (the safety
 * net for pushes no webhook announced, and the delivery of an outbound-only link). Default 5m, at least 1m, at most 24h.
 */
export const DEFAULT_SWEEP_INTERVAL = '5m';
export const MIN_SWEEP_INTERVAL_MS = 60_000;
export const MAX_SWEEP_INTERVAL_MS = 24 * 3_600_000;

export interface GitLabApiSpec {
  /** Secret with a GitLab access token (`api` scope, Maintainer on the projects); key defaults to `token`. */
  tokenSecretRef: SecretKeyRef;
  /** Secret with a PEM CA bundle GitLab's TLS certificate chains to (self-managed GitLab); key defaults to `ca.crt`. */
  caSecretRef?: SecretKeyRef;
  /** This link's GitLab API budget, requests a minute (1..2000, default 300). */
  requestsPerMinute?: number;
  /** How often the operator compares every linked GitRepository with its ref in GitLab (Go duration, 1m..24h, default 5m). */
  sweepInterval?: string;
  /**
   * GitLab groups (full paths) whose group hook may carry this link's webhook instead of one project hook per project
   * (GitLab Premium/Ultimate, the token an Owner of the group). A managed project below a listed group is covered by
   * the topmost listed group the token can own; the others keep project hooks (docs/adr/0020-group-hooks.md).
   */
  groupHooks?: string[];
}

/** spec.gitlab.api.groupHooks: at most this many groups. */
export const MAX_GROUP_HOOKS = 20;
/** A GitLab group's full path (each segment as GitLab's NamespacePathValidator allows, lower- or upper-case). */
export const GROUP_PATH_REGEX = '^[A-Za-z0-9_.][-A-Za-z0-9_.]*(/[A-Za-z0-9_.][-A-Za-z0-9_.]*)*$';

export interface ReceiverSpec {
  /** Base URL of Flux's webhook receiver, or a Kubernetes API service-proxy path. */
  endpoint?: string;
  /** Flux Receiver type to create. */
  type?: ReceiverType;
  /** Receiver.spec.interval (Flux's own default is 10m). */
  interval?: string;
}

export interface TrustSpec {
  /** Namespaces whose GitRepositories this link manages; empty selector = every namespace. */
  namespaceSelector?: LabelSelector;
  /** GitLab project path patterns allowed to trigger (`*` one segment, `**` any depth); default ["**"]. */
  projects?: string[];
  /** Services that may receive requests through the Kubernetes API service proxy with the operator's credentials. */
  serviceProxies?: ServiceRef[];
  /**
   * Which namespaces may link which projects. Absent: any selected namespace may link any trusted project.
   * Present: a GitRepository is linked only if some rule selects its namespace and one of that rule's
   * patterns matches its project (on top of namespaceSelector and projects).
   */
  namespaceProjects?: NamespaceProjectsRule[];
}

export interface NamespaceProjectsRule {
  /** Namespaces the rule applies to; an empty selector selects every namespace. */
  namespaceSelector: LabelSelector;
  /** GitLab project path patterns those namespaces may link (same syntax as trust.projects). */
  projects: string[];
}

export interface WebhookSpec {
  /** Secret holding the token GitLab sends in X-Gitlab-Token. */
  secretRef: SecretKeyRef;
  /** Optional Secret holding the signing key for GitLab's signed webhooks (webhook-signature). */
  signingSecretRef?: SecretKeyRef;
  /**
   * The public URL GitLab calls for this link (ends in /hooks/<link name>); only with gitlab.api. The operator
   * registers it on every project the link manages, with `?fluxlink-link=<link uid>` added as its ownership marker.
   */
  url?: string;
}

export interface GitLabFluxLinkSpec {
  gitlab: GitLabSpec;
  receiver?: ReceiverSpec;
  trust?: TrustSpec;
  webhook: WebhookSpec;
  suspend?: boolean;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface RepositoryEntry {
  /** namespace/name of the GitRepository. */
  gitRepository: string;
  project: string;
  receiver: string;
  ready: boolean;
  message?: string;
}

export interface PushRecord {
  project: string;
  ref: string;
  receivedAt: string;
}

export interface TriggerRecord {
  gitRepository: string;
  result: string;
  at: string;
}

/** The link's last catch-up: GitRepositories compared with their ref in GitLab, and those triggered. */
export interface CatchUpRecord {
  /** Why it ran: start, leader, hook-trouble, secret-rotated, api-recovered, sweep. */
  reason: string;
  at: string;
  /** GitRepositories looked at. */
  checked: number;
  /** Of those, triggered (behind their ref in GitLab, or one GitLab's API cannot answer for). */
  triggered: number;
  /** GitLab requests made. */
  requests: number;
  /** What failed (never a token); the next catch-up comes sooner. */
  error?: string;
}

export interface GitLabFluxLinkStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** GitRepositories this link manages (Receiver + Secret). */
  repositories?: number;
  /** Of those, how many Receivers are Ready with a webhook path. */
  readyReceivers?: number;
  /** GitRepositories that match this link but belong to another link. */
  conflicts?: number;
  /** Bounded list, problems first. */
  entries?: RepositoryEntry[];
  lastPush?: PushRecord;
  lastTrigger?: TriggerRecord;
  /** The last catch-up (only with spec.gitlab.api). */
  lastCatchUp?: CatchUpRecord;
  /** The GitLab webhooks the operator registers for this link (only with spec.gitlab.api). */
  hooks?: HooksStatus;
}

/** How a project's hook looks to the operator. */
export type HookState = 'active' | 'temporarily_disabled' | 'disabled' | 'failing' | 'error';

export interface HookEntry {
  /** GitLab project path, or `group:<group path>` for a group hook (spec.gitlab.api.groupHooks). */
  project: string;
  state: HookState;
  /** GitLab's hook id, once registered. */
  hookId?: number;
  /** GitLab's disabled_until, for a temporarily disabled hook. */
  disabledUntil?: string;
  /** What is wrong (never a token). */
  message?: string;
}

export interface HooksStatus {
  /** Hooks this link should have: one per project, or one per group hook covering projects (groupHooks). */
  projects: number;
  /** Of those, how many have it, active. */
  active: number;
  /**
   * Projects (and `group:<path>` groups) where this link's hook may exist (registered and not yet removed), so that a
   * project leaving the link or the link's deletion removes it even after a restart. Sorted.
   */
  registered: string[];
  /**
   * The version (uid/resourceVersion of the webhook Secret and of the signing Secret) of the values last sent to
   * every hook. GitLab never returns a hook's token, so a rotated Secret is seen here; never a value or a hash of one.
   */
  secretVersion?: string;
  /** Bounded list, problems first. */
  entries: HookEntry[];
}

export interface GitLabFluxLink extends KubeObject {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  spec: GitLabFluxLinkSpec;
  status?: GitLabFluxLinkStatus;
}
