// Spec validation for GitLabFluxLink, the operator's half of "validate twice".
//
// The CRD (crds/fluxlink.dev_gitlabfluxlinks.yaml) enforces the same rules with OpenAPI + CEL in the
// API server; this module enforces them again in the operator so that a link written while the CRD
// was older (or applied with validation off) ends Stalled with an actionable message instead of
// doing something surprising. validation.test.ts keeps the two in step: the regexes below are copied
// verbatim into the CRD, the CRD's defaults are compared with the ones applied here, and every sample
// in config/samples/ must pass. invalid-specs.ts is the shared corpus of specs both must reject.
//
// Shape: class-validator classes (one per API struct) with class-transformer `@Type` for nesting.
// Checks that need a precise field path (list items: `spec.trust.projects[2]`) or a computed message
// use the small `Check` decorator below; everything maps to FieldError {field, message}.

import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  Max,
  Min,
  IsOptional,
  registerDecorator,
  ValidateNested,
  validateSync,
  type ValidationArguments,
  type ValidationError,
} from 'class-validator';
import { isIPv6 } from 'node:net';
import { validatePattern } from '../../gitlab/project-patterns.js';
import {
  DEFAULT_CA_KEY,
  DEFAULT_SWEEP_INTERVAL,
  MAX_SWEEP_INTERVAL_MS,
  MIN_SWEEP_INTERVAL_MS,
  DEFAULT_PROJECT_PATTERNS,
  DEFAULT_REQUESTS_PER_MINUTE,
  MAX_REQUESTS_PER_MINUTE,
  MAX_GROUP_HOOKS,
  GROUP_PATH_REGEX,
  DEFAULT_RECEIVER_ENDPOINT,
  type GitLabFluxLinkSpec,
  type LabelSelector,
  type LabelSelectorRequirement,
  type NamespaceProjectsRule,
  RECEIVER_TYPES,
  type ReceiverType,
  type SecretKeyRef,
  type ServiceRef,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Rules shared with the CRD. Regexes are RE2- and ECMAScript-compatible strings; the CRD carries
// the identical strings (validation.test.ts compares them).

/** DNS-1123 label: namespaces, Service names, Secret namespaces. */
export const DNS_LABEL_REGEX = String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`;
/** DNS-1123 subdomain: Secret names. */
export const DNS_SUBDOMAIN_REGEX = String.raw`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`;
/** Host name as it appears in an SSH clone URL; either case, labels of at most 63 characters, no port. */
export const SSH_HOST_REGEX = String.raw`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$`;
/** Host part of an http(s) URL that is not a bracketed IPv6 address (Go and WHATWG both accept these). */
export const URL_HOST_REGEX = String.raw`^[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_])?$`;
/** Path of spec.gitlab.url: empty or a relative URL root such as /gitlab, optionally with a trailing slash. */
export const URL_ROOT_PATH_REGEX = String.raw`^(/[A-Za-z0-9_.~-]+)*/?$`;
/** Key inside a Secret's data. */
export const SECRET_KEY_REGEX = String.raw`^[-._a-zA-Z0-9]+$`;
/** Label key: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export const LABEL_KEY_REGEX = String.raw`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`;
/** Label value (may be empty). */
export const LABEL_VALUE_REGEX = String.raw`^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$`;
/** Go duration as Flux's Receiver.spec.interval accepts it. */
export const INTERVAL_REGEX = String.raw`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`;
/**
 * Kubernetes API service-proxy path, anchored. The service part is `<name>` or `<name>:<port>`
 * (port number or port name); Kubernetes' other forms (`https:<name>:<port>`, `<scheme>:<name>:`)
 * are deliberately not supported.
 */
export const SERVICE_PROXY_PATH_REGEX =
  '^/api/v1/namespaces/[a-z0-9]([-a-z0-9]*[a-z0-9])?/services/[a-z0-9]([-a-z0-9]*[a-z0-9])?(:[a-z0-9-]+)?/proxy/?$';

/**
 * The shapes of spec.gitlab.url and spec.receiver.endpoint as OpenAPI `pattern`s of the CRD (a pattern costs
 * nothing against the API server's CEL budget; regex rules on 2 KiB strings exceed it). Built from the same
 * pieces the checks below use.
 */
const HOST_PART = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_])?)`;
export const URL_PATTERN_REGEX = String.raw`^https?://` + HOST_PART + String.raw`(:[0-9]{1,5})?(/[A-Za-z0-9_.~-]+)*/?$`;
/**
 * spec.webhook.url: an http(s) URL without user-info, query or fragment (the operator adds its ownership marker as
 * the query). That it ends in /hooks/<link name> is checked with the name (a CEL rule on the root in the CRD).
 */
export const WEBHOOK_URL_PATTERN_REGEX = String.raw`^https?://` + HOST_PART + String.raw`(:[0-9]{1,5})?(/[!-"$->@-~]*)?$`;
export const ENDPOINT_PATTERN_REGEX =
  '^(https?://' + HOST_PART + String.raw`(:[0-9]{1,5})?(/[!-"$->@-~]*)?|` + SERVICE_PROXY_PATH_REGEX.slice(1, -1) + ')$';

/** Size limits; the CRD has the same maxLength/maxItems/maxProperties (bounded sizes keep CEL cost estimates low). */
export const LIMITS = {
  linkName: 63,
  url: 2048,
  webhookURL: 2048,
  endpoint: 2048,
  interval: 32,
  sshHosts: 16,
  sshHost: 253,
  projects: 100,
  project: 512,
  serviceProxies: 32,
  namespaceProjects: 32,
  dnsLabel: 63,
  dnsSubdomain: 253,
  secretKey: 253,
  matchLabels: 64,
  matchExpressions: 32,
  matchExpressionValues: 64,
  labelKey: 317,
  labelValue: 63,
} as const;

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export const DEFAULT_SECRET_KEY = 'token';

const DNS_LABEL = new RegExp(DNS_LABEL_REGEX);
const DNS_SUBDOMAIN = new RegExp(DNS_SUBDOMAIN_REGEX);
const SSH_HOST = new RegExp(SSH_HOST_REGEX);
const GROUP_PATH = new RegExp(GROUP_PATH_REGEX);
const URL_HOST = new RegExp(URL_HOST_REGEX);
const URL_ROOT_PATH = new RegExp(URL_ROOT_PATH_REGEX);
const SECRET_KEY = new RegExp(SECRET_KEY_REGEX);
const LABEL_KEY = new RegExp(LABEL_KEY_REGEX);
const LABEL_VALUE = new RegExp(LABEL_VALUE_REGEX);
const INTERVAL = new RegExp(INTERVAL_REGEX);
const SERVICE_PROXY_PATH = new RegExp(SERVICE_PROXY_PATH_REGEX);
const URL_PATTERN = new RegExp(URL_PATTERN_REGEX);
const ENDPOINT_PATTERN = new RegExp(ENDPOINT_PATTERN_REGEX);
const WEBHOOK_URL_PATTERN = new RegExp(WEBHOOK_URL_PATTERN_REGEX);

// ---------------------------------------------------------------------------------------------
// Public types and helpers

export interface FieldError {
  /** Path from the object root, e.g. `spec.receiver.endpoint` or `spec.trust.projects[2]`. */
  field: string;
  /** What is wrong and how to fix it; does not repeat the field (formatFieldErrors prefixes it). */
  message: string;
}

/** A spec after validation, with every CRD default applied (same defaults as the CRD). */
export interface ValidatedLinkSpec extends GitLabFluxLinkSpec {
  receiver: { endpoint: string; type: ReceiverType; interval?: string };
  trust: {
    namespaceSelector?: LabelSelector;
    projects: string[];
    serviceProxies: ServiceRef[];
    namespaceProjects?: NamespaceProjectsRule[];
  };
  gitlab: { url: string; sshHosts?: string[]; api?: ValidatedApiSpec };
  webhook: { secretRef: Required<SecretKeyRef>; signingSecretRef?: Required<SecretKeyRef>; url?: string };
  suspend: boolean;
}

/** spec.gitlab.api with its defaults. */
export interface ValidatedApiSpec {
  tokenSecretRef: Required<SecretKeyRef>;
  caSecretRef?: Required<SecretKeyRef>;
  requestsPerMinute: number;
  /** Go duration, 1m..24h (default 5m); `durationMs` reads it. */
  sweepInterval: string;
  /** Groups whose hook may carry the link's webhook; absent: project hooks only. */
  groupHooks?: string[];
}

/** Go duration (units ms, s, m, h, decimals allowed, as INTERVAL_REGEX) in milliseconds; undefined if unreadable. */
export function durationMs(value: string): number | undefined {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  return value.length > 0 && end === value.length ? Math.round(total) : undefined;
}

export type LinkSpecValidation = { spec: ValidatedLinkSpec } | { errors: FieldError[] };

export interface ServiceProxyTarget {
  namespace: string;
  service: string;
  /** Port number or name after `:`, when given. */
  port?: string;
}

/** Parses an anchored service-proxy path (`/api/v1/namespaces/<ns>/services/<svc>[:<port>]/proxy[/]`). */
export function parseServiceProxyPath(endpoint: string): ServiceProxyTarget | undefined {
  if (!SERVICE_PROXY_PATH.test(endpoint)) return undefined;
  const parts = endpoint.split('/'); // ['', 'api', 'v1', 'namespaces', ns, 'services', svc[:port], 'proxy', ...]
  const namespace = parts[4]!;
  const [service, port] = parts[6]!.split(':') as [string, string | undefined];
  return port === undefined ? { namespace, service } : { namespace, service, port };
}

/** `field: message; field: message …` bounded to maxLength characters, first errors first. */
export function formatFieldErrors(errors: readonly FieldError[], maxLength = 1024): string {
  const parts = errors.map((e) => `${e.field}: ${e.message}`);
  const more = (n: number) => (n > 0 ? ` (and ${n} more)` : '');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const piece = (out === '' ? '' : '; ') + parts[i]!;
    // Keep room for the "(and N more)" that would follow if the next one does not fit.
    if (out.length + piece.length + more(parts.length - i - 1).length <= maxLength) {
      out += piece;
      continue;
    }
    if (out !== '') return out + more(parts.length - i); // fits: reserved when the last piece was added
    const tail = more(parts.length - 1);
    return (parts[0]!.slice(0, Math.max(0, maxLength - tail.length - 1)) + '…' + tail).slice(0, maxLength);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check: a class-validator decorator whose checker returns issues with an optional sub-path
// (`[2]`, `.endpoint`) relative to the decorated property. The issues travel through class-validator
// as a JSON constraint message and are unpacked by toFieldErrors.

interface Issue {
  at?: string;
  message: string;
}
type Checker = (value: unknown, owner: Record<string, unknown>) => Issue[] | string | undefined;

const CHECK_PREFIX = 'fieldCheck';
let checkCounter = 0;

function runChecker(checker: Checker, value: unknown, owner: unknown): Issue[] {
  const r = checker(value, (owner ?? {}) as Record<string, unknown>);
  if (r === undefined) return [];
  return typeof r === 'string' ? [{ message: r }] : r;
}

function Check(checker: Checker): PropertyDecorator {
  const name = `${CHECK_PREFIX}${++checkCounter}`;
  return (target, propertyKey) => {
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyKey),
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => runChecker(checker, value, args?.object).length === 0,
        defaultMessage: (args?: ValidationArguments) => JSON.stringify(runChecker(checker, args?.value, args?.object)),
      },
    });
  };
}

const required = { message: 'is required' };

function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const mustBeString = (v: unknown) => `must be a string, got ${typeName(v)}`;

// --- string checkers -------------------------------------------------------------------------

function stringMatching(re: RegExp, max: number, what: string): Checker {
  return (v) => {
    if (typeof v !== 'string') return mustBeString(v);
    if (v.length > max) return `must be at most ${max} characters (got ${v.length})`;
    if (!re.test(v)) return `${show(v)} is not ${what}`;
    return undefined;
  };
}

const DNS_LABEL_WHAT = 'a DNS label (lower-case letters, digits and "-", starting and ending with a letter or digit)';
const dnsLabel = stringMatching(DNS_LABEL, LIMITS.dnsLabel, DNS_LABEL_WHAT);
const dnsSubdomain = stringMatching(
  DNS_SUBDOMAIN,
  LIMITS.dnsSubdomain,
  'a DNS subdomain (lower-case letters, digits, "-" and ".", starting and ending with a letter or digit)',
);

/**
 * Problems of an absolute http(s) URL, mirroring the CRD's CEL rules (Kubernetes' `isURL`/`url()` use
 * Go's url.ParseRequestURI; the WHATWG parser is used here, with the raw-string checks below keeping
 * the two in agreement on what gets accepted). `rootPathOnly`: the path must be a relative URL root.
 */
function httpURLProblem(v: string, max: number, rootPathOnly: boolean): string | undefined {
  if (v.length > max) return `must be at most ${max} characters (got ${v.length})`;
  if (!/^https?:\/\//.test(v)) return `${show(v)} must start with http:// or https:// (lower case)`;
  if (!/^[\x21-\x7e]+$/.test(v)) return 'must contain only printable ASCII characters, without spaces';
  if (/[?#]/.test(v)) return 'must not contain a query ("?") or a fragment ("#")';
  const rest = v.slice(v.indexOf('://') + 3);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (authority.includes('@')) return 'must not contain user-info ("user:password@"); credentials do not belong in the URL';
  if (authority === '') return 'must name a host';
  let host: string;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return `${show(v)} has an unterminated IPv6 address`;
    host = authority.slice(0, close + 1);
    if (!isIPv6(host.slice(1, -1))) return `host ${show(host)} is not a valid IPv6 address`;
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return `${show(v)} is not a valid URL (text after the IPv6 address)`;
    port = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    port = colon < 0 ? undefined : authority.slice(colon + 1);
    if (!URL_HOST.test(host)) {
      return `host ${show(host)} must be a DNS name or IPv4 address (letters, digits, "-", "_", ".") or a bracketed IPv6 address`;
    }
  }
  if (port !== undefined && port !== '') {
    if (!/^[0-9]+$/.test(port)) return `port ${show(port)} must be a number`;
    if (port.length > 5 || Number(port) > 65535) return `port ${port} must be at most 65535`;
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return `${show(v)} has an invalid percent-escape`;
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch (err) {
    return `${show(v)} is not a valid URL (${(err as Error).message})`;
  }
  if (parsed.hostname === '') return 'must name a host';
  if (rootPathOnly) {
    if (!URL_ROOT_PATH.test(path)) {
      return `path ${show(path)} must be empty or a relative URL root such as /gitlab (letters, digits, "_", ".", "~", "-")`;
    }
    if (/\/\.\.?(\/|$)/.test(v)) return `path ${show(path)} must not contain "." or ".." segments`;
  }
  return undefined;
}

function gitlabURL(v: unknown): string | undefined {
  if (typeof v !== 'string') return mustBeString(v);
  const p = httpURLProblem(v, LIMITS.url, true) ?? (URL_PATTERN.test(v) ? undefined : `${show(v)} must match ${URL_PATTERN_REGEX}`);
  return p === undefined
    ? undefined
    : `${p} (expected the instance's base URL, e.g. https://gitlab.example.com or https://example.com/gitlab)`;
}

/** spec.webhook.url: the public URL GitLab calls for this link. */
function webhookURL(v: unknown): string | undefined {
  if (typeof v !== 'string') return mustBeString(v);
  const p =
    httpURLProblem(v, LIMITS.webhookURL, false) ??
    (WEBHOOK_URL_PATTERN.test(v) ? undefined : `${show(v)} must match ${WEBHOOK_URL_PATTERN_REGEX}`);
  return p === undefined
    ? undefined
    : `${p} (expected the public URL of this link's webhook, e.g. https://hooks.example.com/hooks/<link name>)`;
}

/** The suffix webhook.url must end in: the operator's webhook route for this link. */
export function webhookURLSuffix(linkName: string): string {
  return `/hooks/${linkName}`;
}

const PROXY_FORM = '/api/v1/namespaces/<namespace>/services/<name>[:<port>]/proxy';

function receiverEndpoint(v: unknown): string | undefined {
  if (typeof v !== 'string') return mustBeString(v);
  if (v.length > LIMITS.endpoint) return `must be at most ${LIMITS.endpoint} characters (got ${v.length})`;
  if (v.startsWith('/')) {
    if (!SERVICE_PROXY_PATH.test(v)) {
      return `${show(v)} is not a service-proxy path; expected exactly ${PROXY_FORM} (only the <name> and <name>:<port> service forms are supported)`;
    }
    return undefined;
  }
  if (!/^https?:\/\//.test(v)) {
    return `${show(v)} must be an absolute http:// or https:// URL, or a Kubernetes API service-proxy path ${PROXY_FORM}`;
  }
  const p =
    httpURLProblem(v, LIMITS.endpoint, false) ?? (ENDPOINT_PATTERN.test(v) ? undefined : `${show(v)} must match ${ENDPOINT_PATTERN_REGEX}`);
  return p === undefined ? undefined : `${p} (expected the base URL of Flux's webhook receiver, e.g. ${DEFAULT_RECEIVER_ENDPOINT})`;
}

// --- list checkers ---------------------------------------------------------------------------

interface ListOptions {
  max: number;
  min?: number;
  /** Items must be distinct (x-kubernetes-list-type: set). */
  unique?: boolean;
  item: Checker;
}

function list(opts: ListOptions): Checker {
  return (v, owner) => {
    if (!Array.isArray(v)) return `must be a list, got ${typeName(v)}`;
    if (opts.min !== undefined && v.length < opts.min) return `must have at least ${opts.min} item${opts.min === 1 ? '' : 's'}`;
    if (v.length > opts.max) return `must have at most ${opts.max} items (got ${v.length})`;
    const issues: Issue[] = [];
    const seen = new Set<unknown>();
    v.forEach((item, i) => {
      for (const issue of runChecker(opts.item, item, owner)) issues.push({ at: `[${i}]${issue.at ?? ''}`, message: issue.message });
      if (opts.unique && typeof item === 'string') {
        if (seen.has(item)) issues.push({ at: `[${i}]`, message: `duplicate value ${show(item)}` });
        seen.add(item);
      }
    });
    return issues;
  };
}

/**
 * A list of objects: size and, for `x-kubernetes-list-type: map`, unique keys. Whether each item is an
 * object, and its fields, is left to @ValidateNested (so one bad item does not hide the others).
 */
function listOfObjects(max: number, keys?: readonly string[], min?: number): Checker {
  return (v) => {
    if (!Array.isArray(v)) return `must be a list, got ${typeName(v)}`;
    if (min !== undefined && v.length < min) return `must have at least ${min} item${min === 1 ? '' : 's'}`;
    if (v.length > max) return `must have at most ${max} items (got ${v.length})`;
    const issues: Issue[] = [];
    const seen = new Map<string, number>();
    v.forEach((item, i) => {
      if (keys === undefined || item === null || typeof item !== 'object') return;
      const key = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k]));
      if (seen.has(key)) issues.push({ at: `[${i}]`, message: `duplicate entry ${key.slice(1, -1)} (same as item [${seen.get(key)}])` });
      else seen.set(key, i);
    });
    return issues;
  };
}

/** @ValidateNested for a list whose items must be objects; names the expected shape. */
function EachNested(what: string): PropertyDecorator {
  return ValidateNested({ message: (a) => `must be ${what}, got ${typeName(a.value)}` });
}

function mustBeObject(what: string): Checker {
  return (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : `must be ${what}, got ${typeName(v)}`);
}

// ---------------------------------------------------------------------------------------------
// The spec classes. Property order is error order.

export class SecretKeyRefDto {
  @IsDefined(required)
  @Check(dnsLabel)
  namespace!: string;

  @IsDefined(required)
  @Check(dnsSubdomain)
  name!: string;

  @IsOptional()
  @Check(stringMatching(SECRET_KEY, LIMITS.secretKey, 'a Secret data key (letters, digits, "-", "_", ".")'))
  key?: string;
}

export class ServiceRefDto {
  @IsDefined(required)
  @Check(dnsLabel)
  namespace!: string;

  @IsDefined(required)
  @Check(dnsLabel)
  name!: string;
}

export class LabelSelectorRequirementDto {
  @IsDefined(required)
  @Check(stringMatching(LABEL_KEY, LIMITS.labelKey, 'a label key ([prefix/]name, name at most 63 characters)'))
  key!: string;

  @IsDefined(required)
  @IsIn(SELECTOR_OPERATORS as unknown as string[], {
    message: (a) => `${show(a.value)} is not supported; use one of ${SELECTOR_OPERATORS.join(', ')}`,
  })
  operator!: LabelSelectorRequirement['operator'];

  // No @IsOptional: "In with no values" must be reported, so the checker sees undefined too.
  @Check((v, owner) => {
    const op = owner['operator'];
    if (v === undefined || v === null) {
      return op === 'In' || op === 'NotIn' ? `must be a non-empty list when operator is ${op}` : undefined;
    }
    const shape = list({
      max: LIMITS.matchExpressionValues,
      item: stringMatching(LABEL_VALUE, LIMITS.labelValue, 'a label value'),
    })(v, owner);
    if (shape !== undefined && (typeof shape === 'string' || shape.length > 0)) return shape;
    const values = v as unknown[];
    if ((op === 'In' || op === 'NotIn') && values.length === 0) return `must be a non-empty list when operator is ${op}`;
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) return `must be empty when operator is ${op}`;
    return undefined;
  })
  values?: string[];
}

export class LabelSelectorDto {
  @IsOptional()
  @Check((v) => {
    const bad = mustBeObject('a map of label keys to label values')(v, {});
    if (bad !== undefined) return bad;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > LIMITS.matchLabels) return `must have at most ${LIMITS.matchLabels} entries (got ${entries.length})`;
    const issues: Issue[] = [];
    for (const [k, val] of entries) {
      const at = `[${k}]`;
      if (k.length > LIMITS.labelKey || !LABEL_KEY.test(k))
        issues.push({ at, message: `${show(k)} is not a label key ([prefix/]name, name at most 63 characters)` });
      if (typeof val !== 'string') issues.push({ at, message: mustBeString(val) });
      else if (val.length > LIMITS.labelValue || !LABEL_VALUE.test(val))
        issues.push({ at, message: `${show(val)} is not a label value (at most 63 letters, digits, "-", "_", ".")` });
    }
    return issues;
  })
  matchLabels?: Record<string, string>;

  @IsOptional()
  @Check(listOfObjects(LIMITS.matchExpressions))
  @EachNested('an object with key, operator and values')
  @Type(() => LabelSelectorRequirementDto)
  matchExpressions?: LabelSelectorRequirementDto[];
}

export class GitLabApiSpecDto {
  @IsDefined(required)
  @Check(mustBeObject('an object with namespace, name and key'))
  @ValidateNested()
  @Type(() => SecretKeyRefDto)
  tokenSecretRef!: SecretKeyRefDto;

  @IsOptional()
  @Check(mustBeObject('an object with namespace, name and key'))
  @ValidateNested()
  @Type(() => SecretKeyRefDto)
  caSecretRef?: SecretKeyRefDto;

  @IsOptional()
  @IsInt({ message: (a) => `must be a whole number of requests a minute, got ${show(a.value)}` })
  @Min(1, { message: (a) => `must be at least 1, got ${show(a.value)}` })
  @Max(MAX_REQUESTS_PER_MINUTE, {
    message: (a) => `must be at most ${MAX_REQUESTS_PER_MINUTE} (GitLab.com allows 2,000 a minute per user), got ${show(a.value)}`,
  })
  requestsPerMinute?: number;

  @IsOptional()
  @Check((v) => {
    if (typeof v !== 'string') return mustBeString(v);
    const ms = v.length > LIMITS.interval ? undefined : durationMs(v);
    if (ms === undefined) return `${show(v)} is not a duration such as 30s, 5m or 1h30m (units ms, s, m, h)`;
    if (ms < MIN_SWEEP_INTERVAL_MS) return `must be at least 1m (each sweep costs GitLab requests), got ${show(v)}`;
    if (ms > MAX_SWEEP_INTERVAL_MS) return `must be at most 24h, got ${show(v)}`;
    return undefined;
  })
  sweepInterval?: string;

  @IsOptional()
  @Check(
    list({
      max: MAX_GROUP_HOOKS,
      unique: true,
      item: stringMatching(GROUP_PATH, LIMITS.project, 'a GitLab group path such as "platform" or "platform/apps" (no wildcards)'),
    }),
  )
  groupHooks?: string[];
}

export class GitLabSpecDto {
  @IsDefined(required)
  @Check(gitlabURL)
  url!: string;

  @IsOptional()
  @Check(
    list({
      max: LIMITS.sshHosts,
      unique: true,
      item: stringMatching(SSH_HOST, LIMITS.sshHost, 'a host name (DNS name without user, port or path, e.g. ssh.gitlab.example.com)'),
    }),
  )
  sshHosts?: string[];

  @IsOptional()
  @Check(mustBeObject('an object with tokenSecretRef (and optionally caSecretRef, requestsPerMinute, sweepInterval, groupHooks)'))
  @ValidateNested()
  @Type(() => GitLabApiSpecDto)
  api?: GitLabApiSpecDto;
}

export class ReceiverSpecDto {
  @IsOptional()
  @Check(receiverEndpoint)
  endpoint?: string;

  @IsOptional()
  @IsIn(RECEIVER_TYPES as unknown as string[], {
    message: (a) => `${show(a.value)} is not supported; use one of ${RECEIVER_TYPES.join(', ')}`,
  })
  type?: ReceiverType;

  @IsOptional()
  @Check((v) => {
    if (typeof v !== 'string') return mustBeString(v);
    if (v.length > LIMITS.interval || !INTERVAL.test(v)) return `${show(v)} is not a duration such as 30s, 5m or 1h30m (units ms, s, m, h)`;
    return undefined;
  })
  interval?: string;
}

/** A list of GitLab project path patterns (spec.trust.projects and each namespaceProjects rule's projects). */
const projectPatterns = list({
  min: 1,
  max: LIMITS.projects,
  item: (v) => {
    if (typeof v !== 'string') return mustBeString(v);
    if (v.length > LIMITS.project) return `must be at most ${LIMITS.project} characters (got ${v.length})`;
    const err = validatePattern(v);
    return err === undefined ? undefined : `${err} (use "group/*" for one level, "group/**" for any depth)`;
  },
});

export class NamespaceProjectsRuleDto {
  @IsDefined(required)
  @Check(mustBeObject('a label selector (matchLabels, matchExpressions; {} selects every namespace)'))
  @ValidateNested()
  @Type(() => LabelSelectorDto)
  namespaceSelector!: LabelSelectorDto;

  @IsDefined(required)
  @Check(projectPatterns)
  projects!: string[];
}

export class TrustSpecDto {
  @IsOptional()
  @Check(mustBeObject('a label selector (matchLabels, matchExpressions)'))
  @ValidateNested()
  @Type(() => LabelSelectorDto)
  namespaceSelector?: LabelSelectorDto;

  @IsOptional()
  @Check(projectPatterns)
  projects?: string[];

  @IsOptional()
  @Check(listOfObjects(LIMITS.serviceProxies, ['namespace', 'name']))
  @EachNested('an object with namespace and name')
  @Type(() => ServiceRefDto)
  serviceProxies?: ServiceRefDto[];

  @IsOptional()
  @Check(listOfObjects(LIMITS.namespaceProjects, undefined, 1))
  @EachNested('an object with namespaceSelector and projects')
  @Type(() => NamespaceProjectsRuleDto)
  namespaceProjects?: NamespaceProjectsRuleDto[];
}

export class WebhookSpecDto {
  @IsDefined(required)
  @Check(mustBeObject('an object with namespace, name and key'))
  @ValidateNested()
  @Type(() => SecretKeyRefDto)
  secretRef!: SecretKeyRefDto;

  @IsOptional()
  @Check(mustBeObject('an object with namespace, name and key'))
  @ValidateNested()
  @Type(() => SecretKeyRefDto)
  signingSecretRef?: SecretKeyRefDto;

  @IsOptional()
  @Check(webhookURL)
  url?: string;
}

/** The trust check done twice: a service-proxy endpoint must be allow-listed in spec.trust.serviceProxies. */
function serviceProxyAllowed(receiver: unknown, spec: Record<string, unknown>): Issue[] {
  if (receiver === null || typeof receiver !== 'object') return [];
  const endpoint = (receiver as Record<string, unknown>)['endpoint'];
  if (typeof endpoint !== 'string') return [];
  const target = parseServiceProxyPath(endpoint);
  if (target === undefined) return [];
  const trust = spec['trust'];
  const proxies = trust !== null && typeof trust === 'object' ? (trust as Record<string, unknown>)['serviceProxies'] : undefined;
  const allowed =
    Array.isArray(proxies) &&
    proxies.some((p) => {
      const ref = (p ?? {}) as Record<string, unknown>;
      return ref['namespace'] === target.namespace && ref['name'] === target.service;
    });
  if (allowed) return [];
  return [
    {
      at: '.endpoint',
      message: `service proxy ${target.namespace}/${target.service} is not allowed by spec.trust.serviceProxies; add {namespace: ${target.namespace}, name: ${target.service}} there or use a direct URL`,
    },
  ];
}

/**
 * The cross-field rules of spec.webhook.url, done twice (here and as CEL in the CRD): registering hooks needs API
 * access, and the URL must reach this link's webhook route. Silent when the URL itself is already reported.
 */
function webhookURLAllowed(spec: Record<string, unknown>, linkName: string | undefined, errors: FieldError[]): string | undefined {
  const webhook = spec['webhook'] as Record<string, unknown> | undefined;
  const url = webhook !== null && typeof webhook === 'object' ? webhook['url'] : undefined;
  if (typeof url !== 'string' || errors.some((e) => e.field === 'spec.webhook.url')) return undefined;
  const gitlab = spec['gitlab'] as Record<string, unknown> | undefined;
  const api = gitlab !== null && typeof gitlab === 'object' ? gitlab['api'] : undefined;
  if (api === undefined)
    return "is allowed only with spec.gitlab.api (the operator registers the URL through GitLab's API); remove it or add spec.gitlab.api";
  if (linkName !== undefined && !url.endsWith(webhookURLSuffix(linkName))) {
    return `must end in ${webhookURLSuffix(linkName)}, this link's webhook route (e.g. https://hooks.example.com${webhookURLSuffix(linkName)})`;
  }
  return undefined;
}

export class GitLabFluxLinkSpecDto {
  @IsDefined(required)
  @Check(mustBeObject('an object with url (and optionally sshHosts, api)'))
  @ValidateNested()
  @Type(() => GitLabSpecDto)
  gitlab!: GitLabSpecDto;

  @IsOptional()
  @Check(mustBeObject('an object (endpoint, type, interval)'))
  @ValidateNested()
  @Type(() => ReceiverSpecDto)
  receiver?: ReceiverSpecDto;

  @IsOptional()
  @Check(mustBeObject('an object (namespaceSelector, projects, serviceProxies, namespaceProjects)'))
  @ValidateNested()
  @Type(() => TrustSpecDto)
  trust?: TrustSpecDto;

  @IsDefined(required)
  @Check(mustBeObject('an object with secretRef (and optionally signingSecretRef, url)'))
  @ValidateNested()
  @Type(() => WebhookSpecDto)
  webhook!: WebhookSpecDto;

  @IsOptional()
  @IsBoolean({ message: (a) => `must be true or false, got ${show(a.value)}` })
  suspend?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Validates a raw `spec` (as read from the API server or a YAML file) and returns it with the CRD's
 * defaults applied, or every problem found. Unknown fields are ignored and dropped (the API server
 * prunes them too); `null` counts as absent, as it does for the API server. With the link's name, webhook.url is
 * also checked to end in /hooks/<name> (the CRD does it with a rule on the whole object).
 */
export function validateLinkSpec(raw: unknown, linkName?: string): LinkSpecValidation {
  if (raw === null || raw === undefined) return { errors: [{ field: 'spec', message: 'is required' }] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { errors: [{ field: 'spec', message: `must be an object, got ${typeName(raw)}` }] };
  }
  const unsafeKeys: FieldError[] = [];
  const dto = plainToInstance(GitLabFluxLinkSpecDto, stripNulls(raw, 'spec', unsafeKeys) as object);
  const errors = [...unsafeKeys, ...toFieldErrors(validateSync(dto, { stopAtFirstError: true, forbidUnknownValues: true }), 'spec')];
  // The cross-field rule runs on its own so that it is reported next to any other receiver problem
  // (stopAtFirstError would hide one behind the other). Silent unless the endpoint is a well-formed proxy path.
  const spec = dto as unknown as Record<string, unknown>;
  for (const issue of serviceProxyAllowed(spec['receiver'], spec)) {
    const field = `spec.receiver${issue.at ?? ''}`;
    const after = errors.map((e) => e.field.startsWith('spec.receiver')).lastIndexOf(true);
    const at = after >= 0 ? after + 1 : errors.filter((e) => e.field.startsWith('spec.gitlab')).length;
    errors.splice(at, 0, { field, message: issue.message });
  }
  const webhookURLIssue = webhookURLAllowed(spec, linkName, errors);
  if (webhookURLIssue !== undefined) errors.push({ field: 'spec.webhook.url', message: webhookURLIssue });
  if (errors.length > 0) return { errors };
  return { spec: withDefaults(dto) };
}

/**
 * The raw spec as the DTOs read it. Object properties whose value is null are treated as absent (the API
 * server prunes them). A key named `__proto__` (JSON.parse makes it an own property, and the API server keeps
 * it in a map such as matchLabels) is reported at `field[__proto__]` and not copied: assigning it would set
 * the copy's prototype instead (class-transformer drops it the same way), so `matchLabels: {"__proto__": "x"}`
 * would silently become `{}`, a selector of every namespace.
 */
function stripNulls(v: unknown, field: string, unsafeKeys: FieldError[]): unknown {
  if (Array.isArray(v)) return v.map((item, i) => stripNulls(item, `${field}[${i}]`, unsafeKeys));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === '__proto__') unsafeKeys.push({ field: `${field}[__proto__]`, message: 'a key named "__proto__" is not accepted' });
    else if (val !== null) out[k] = stripNulls(val, `${field}.${k}`, unsafeKeys);
  }
  return out;
}

function toFieldErrors(errors: ValidationError[], base: string): FieldError[] {
  const out: FieldError[] = [];
  const walk = (errs: ValidationError[], parentPath: string, parentIsList: boolean) => {
    for (const e of errs) {
      const path = parentIsList ? `${parentPath}[${e.property}]` : `${parentPath}.${e.property}`;
      for (const [name, message] of Object.entries(e.constraints ?? {})) {
        if (name.startsWith(CHECK_PREFIX)) {
          for (const issue of JSON.parse(message) as Issue[]) out.push({ field: path + (issue.at ?? ''), message: issue.message });
        } else {
          out.push({ field: path, message });
        }
      }
      if (e.children && e.children.length > 0) walk(e.children, path, Array.isArray(e.value));
    }
  };
  walk(errors, base, false);
  return out;
}

function secretRef(r: SecretKeyRefDto, defaultKey = DEFAULT_SECRET_KEY): Required<SecretKeyRef> {
  return { namespace: r.namespace, name: r.name, key: r.key ?? defaultKey };
}

function labelSelector(sel: LabelSelectorDto): LabelSelector {
  const selector: LabelSelector = {};
  if (sel.matchLabels !== undefined) selector.matchLabels = { ...sel.matchLabels };
  if (sel.matchExpressions !== undefined) {
    selector.matchExpressions = sel.matchExpressions.map((r) => {
      const req: LabelSelectorRequirement = { key: r.key, operator: r.operator };
      if (r.values !== undefined) req.values = [...r.values];
      return req;
    });
  }
  return selector;
}

function withDefaults(d: GitLabFluxLinkSpecDto): ValidatedLinkSpec {
  const gitlab: ValidatedLinkSpec['gitlab'] = { url: d.gitlab.url };
  if (d.gitlab.sshHosts !== undefined) gitlab.sshHosts = [...d.gitlab.sshHosts];
  if (d.gitlab.api !== undefined) {
    const api: ValidatedApiSpec = {
      tokenSecretRef: secretRef(d.gitlab.api.tokenSecretRef),
      requestsPerMinute: d.gitlab.api.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE,
      sweepInterval: d.gitlab.api.sweepInterval ?? DEFAULT_SWEEP_INTERVAL,
    };
    if (d.gitlab.api.caSecretRef !== undefined) api.caSecretRef = secretRef(d.gitlab.api.caSecretRef, DEFAULT_CA_KEY);
    if (d.gitlab.api.groupHooks !== undefined) api.groupHooks = [...d.gitlab.api.groupHooks];
    gitlab.api = api;
  }

  const receiver: ValidatedLinkSpec['receiver'] = {
    endpoint: d.receiver?.endpoint ?? DEFAULT_RECEIVER_ENDPOINT,
    type: d.receiver?.type ?? 'generic-hmac',
  };
  if (d.receiver?.interval !== undefined) receiver.interval = d.receiver.interval;

  const trust: ValidatedLinkSpec['trust'] = {
    projects: [...(d.trust?.projects ?? DEFAULT_PROJECT_PATTERNS)],
    serviceProxies: (d.trust?.serviceProxies ?? []).map((p) => ({ namespace: p.namespace, name: p.name })),
  };
  if (d.trust?.namespaceSelector !== undefined) trust.namespaceSelector = labelSelector(d.trust.namespaceSelector);
  if (d.trust?.namespaceProjects !== undefined) {
    trust.namespaceProjects = d.trust.namespaceProjects.map((r) => ({
      namespaceSelector: labelSelector(r.namespaceSelector),
      projects: [...r.projects],
    }));
  }

  const webhook: ValidatedLinkSpec['webhook'] = { secretRef: secretRef(d.webhook.secretRef) };
  if (d.webhook.signingSecretRef !== undefined) webhook.signingSecretRef = secretRef(d.webhook.signingSecretRef);
  if (d.webhook.url !== undefined) webhook.url = d.webhook.url;

  return { gitlab, receiver, trust, webhook, suspend: d.suspend ?? false };
}
