import { expect } from 'chai';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_PATTERN_REGEX } from '../../gitlab/project-patterns.js';
import { parseInstance } from '../../gitlab/project-url.js';
import { INVALID_SPECS, validMinimalSpec } from './invalid-specs.js';
import {
  API_VERSION,
  DEFAULT_CA_KEY,
  DEFAULT_PROJECT_PATTERNS,
  DEFAULT_REQUESTS_PER_MINUTE,
  DEFAULT_RECEIVER_ENDPOINT,
  GROUP,
  GROUP_PATH_REGEX,
  KIND,
  MAX_GROUP_HOOKS,
  PLURAL,
  RECEIVER_TYPES,
  VERSION,
} from './types.js';
import {
  DNS_LABEL_REGEX,
  DNS_SUBDOMAIN_REGEX,
  ENDPOINT_PATTERN_REGEX,
  type FieldError,
  formatFieldErrors,
  INTERVAL_REGEX,
  LABEL_KEY_REGEX,
  LABEL_VALUE_REGEX,
  LIMITS,
  parseServiceProxyPath,
  SECRET_KEY_REGEX,
  SELECTOR_OPERATORS,
  SERVICE_PROXY_PATH_REGEX,
  SSH_HOST_REGEX,
  URL_HOST_REGEX,
  URL_PATTERN_REGEX,
  URL_ROOT_PATH_REGEX,
  type ValidatedLinkSpec,
  validateLinkSpec,
  WEBHOOK_URL_PATTERN_REGEX,
} from './validation.js';

/** The whole-path check the trigger client relies on: parseable as an anchored service-proxy path. */
const isServiceProxyPath = (endpoint: string) => parseServiceProxyPath(endpoint) !== undefined;

/** The CRD's root CEL rule, as the operator would state it: the link's name is a label value, so at most 63 characters. */
function validateLinkName(name: string): FieldError[] {
  if (name.length <= LIMITS.linkName) return [];
  return [{ field: 'metadata.name', message: `must be at most ${LIMITS.linkName} characters (got ${name.length})` }];
}

// Tests run from the repository root with compiled files in dist/.
const ROOT = process.cwd();
const CRD_FILE = path.resolve(ROOT, 'crds/fluxlink.dev_gitlabfluxlinks.yaml');
const SAMPLES_DIR = path.resolve(ROOT, 'config/samples');

// ---------------------------------------------------------------------------------------------
// Reading the CRD

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}
interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  'x-kubernetes-validations'?: Rule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  [k: string]: unknown;
}

const crd = yaml.load(readFileSync(CRD_FILE, 'utf8')) as any;
const version = crd.spec.versions[0];
const rootSchema = version.schema.openAPIV3Schema as Schema;
const specSchema = rootSchema.properties!['spec']!;

/** Schema at a dotted path below spec; `[]` steps into list items, `{}` into map values. */
function at(p: string): Schema {
  let s = specSchema;
  for (const step of p.split('.')) {
    if (step === '[]') s = s.items!;
    else if (step === '{}') s = s.additionalProperties as Schema;
    else s = s.properties![step]!;
    if (s === undefined) throw new Error(`no schema at ${p} (${step})`);
  }
  return s;
}

/** The string literals passed to matches() in the rules of a schema node. */
function regexLiteralsIn(s: Schema): string[] {
  const out: string[] = [];
  for (const r of s['x-kubernetes-validations'] ?? []) {
    for (const m of r.rule.matchAll(/matches\('([^']*)'\)/g)) out.push(m[1]!);
  }
  return out;
}

/** Kubernetes structural defaulting: missing properties with a default get it, recursively. */
function applyDefaults(schema: Schema, value: unknown): unknown {
  if (schema.type === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const [k, prop] of Object.entries(schema.properties ?? {})) {
      if (obj[k] === undefined && prop.default !== undefined) obj[k] = structuredClone(prop.default);
      if (obj[k] !== undefined) applyDefaults(prop, obj[k]);
    }
    if (typeof schema.additionalProperties === 'object') for (const v of Object.values(obj)) applyDefaults(schema.additionalProperties, v);
  } else if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    for (const v of value) applyDefaults(schema.items, v);
  }
  return value;
}

/**
 * The OpenAPI half of the API server's validation (types, required, enum, pattern, sizes, list types,
 * unknown fields). CEL rules are not evaluated here; the e2e suite checks them against a real API server.
 */
function schemaErrors(schema: Schema, value: unknown, p: string, out: string[] = []): string[] {
  const t = schema.type;
  if (t === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [...out, `${p}: not an object`];
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (obj[r] === undefined) out.push(`${p}.${r}: required`);
    if (schema.maxProperties !== undefined && Object.keys(obj).length > schema.maxProperties) out.push(`${p}: too many properties`);
    if (schema.properties === undefined && schema.additionalProperties === undefined) return out; // metadata: the API server's
    for (const [k, v] of Object.entries(obj)) {
      const prop = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (prop === undefined) out.push(`${p}.${k}: unknown field`);
      else schemaErrors(prop, v, `${p}.${k}`, out);
    }
  } else if (t === 'array') {
    if (!Array.isArray(value)) return [...out, `${p}: not a list`];
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${p}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push(`${p}: too many items`);
    const keys = schema['x-kubernetes-list-map-keys'];
    const ident = (v: unknown) =>
      schema['x-kubernetes-list-type'] === 'map' && keys
        ? JSON.stringify(keys.map((k) => (v as Record<string, unknown>)[k]))
        : JSON.stringify(v);
    if (schema['x-kubernetes-list-type'] === 'set' || schema['x-kubernetes-list-type'] === 'map') {
      const seen = new Set<string>();
      value.forEach((v, i) => {
        if (seen.has(ident(v))) out.push(`${p}[${i}]: duplicate`);
        seen.add(ident(v));
      });
    }
    value.forEach((v, i) => schemaErrors(schema.items!, v, `${p}[${i}]`, out));
  } else if (t === 'string') {
    if (typeof value !== 'string') return [...out, `${p}: not a string`];
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push(`${p}: too long`);
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push(`${p}: too short`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) out.push(`${p}: does not match ${schema.pattern}`);
    if (schema.enum !== undefined && !schema.enum.includes(value)) out.push(`${p}: not in enum`);
  } else if (t === 'boolean') {
    if (typeof value !== 'boolean') out.push(`${p}: not a boolean`);
  } else if (t === 'integer') {
    if (!Number.isInteger(value)) out.push(`${p}: not an integer`);
  }
  return out;
}

function walk(s: Schema, p: string, visit: (s: Schema, p: string) => void): void {
  visit(s, p);
  for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${p}.${k}`, visit);
  if (s.items) walk(s.items, `${p}[]`, visit);
  if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${p}{}`, visit);
}

// ---------------------------------------------------------------------------------------------

function expectValid(raw: unknown): ValidatedLinkSpec {
  const r = validateLinkSpec(raw);
  if ('errors' in r) expect.fail(`expected valid, got: ${formatFieldErrors(r.errors)}`);
  return r.spec;
}

function expectErrors(raw: unknown, linkName?: string): FieldError[] {
  const r = validateLinkSpec(raw, linkName);
  if ('spec' in r) expect.fail(`expected errors for ${JSON.stringify(raw).slice(0, 200)}`);
  return r.errors;
}

const fieldMatches = (actual: string, expected: string) =>
  actual === expected || actual.startsWith(`${expected}.`) || actual.startsWith(`${expected}[`);

const spec = (patch: Record<string, unknown>) => ({ ...validMinimalSpec(), ...patch });

interface SampleDoc {
  file: string;
  doc: { apiVersion: string; kind: string; metadata: { name: string }; spec: unknown };
}

function loadSamples(): SampleDoc[] {
  const files = readdirSync(SAMPLES_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  return files.flatMap((file) =>
    yaml.loadAll(readFileSync(path.join(SAMPLES_DIR, file), 'utf8')).map((doc) => ({ file, doc: doc as SampleDoc['doc'] })),
  );
}

describe('api/v1alpha1 validation', () => {
  describe('config/samples', () => {
    const samples = loadSamples();

    it('has the full, minimal and service-proxy samples, all listed in kustomization.yaml', () => {
      const files = [...new Set(samples.map((s) => s.file))].sort();
      expect(files).to.deep.equal([
        'fluxlink_v1alpha1_gitlabfluxlink.yaml',
        'fluxlink_v1alpha1_gitlabfluxlink_minimal.yaml',
        'fluxlink_v1alpha1_gitlabfluxlink_service_proxy.yaml',
      ]);
      const kustomization = yaml.load(readFileSync(path.join(SAMPLES_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
      expect([...kustomization.resources].sort()).to.deep.equal(files);
    });

    it('contains only GitLabFluxLinks, never a Secret or a token', () => {
      for (const { file, doc } of samples) {
        expect(doc.apiVersion, file).to.equal(API_VERSION);
        expect(doc.kind, file).to.equal(KIND);
      }
    });

    for (const { file, doc } of loadSamples()) {
      it(`${file} (${doc.metadata.name}) passes validateLinkSpec and the CRD's OpenAPI schema, with the same defaults`, () => {
        const validated = expectValid(doc.spec);
        expect(validateLinkName(doc.metadata.name)).to.deep.equal([]);
        expect(schemaErrors(rootSchema, structuredClone(doc), '')).to.deep.equal([]);
        // What the API server would store (CRD defaults applied) equals what the operator works with.
        expect(applyDefaults(specSchema, structuredClone(doc.spec))).to.deep.equal(validated);
      });
    }

    it('the full sample uses every spec field', () => {
      const full = samples.find((s) => s.file === 'fluxlink_v1alpha1_gitlabfluxlink.yaml')!.doc.spec as Record<
        string,
        Record<string, unknown>
      >;
      expect(Object.keys(full)).to.have.members(Object.keys(specSchema.properties!));
      expect(full['gitlab']).to.have.keys('url', 'sshHosts', 'api');
      expect(full['gitlab']['api']).to.have.keys('tokenSecretRef', 'caSecretRef', 'requestsPerMinute', 'sweepInterval', 'groupHooks');
      expect(full['webhook']).to.have.keys('secretRef', 'url');
      expect(full['receiver']).to.have.keys('endpoint', 'type', 'interval');
      expect(full['trust']).to.include.keys('namespaceSelector', 'projects', 'namespaceProjects');
    });
  });

  describe('the CRD', () => {
    it('names, scope, version and status subresource', () => {
      expect(crd.apiVersion).to.equal('apiextensions.k8s.io/v1');
      expect(crd.metadata.name).to.equal(`${PLURAL}.${GROUP}`);
      expect(crd.spec.group).to.equal(GROUP);
      expect(crd.spec.scope).to.equal('Cluster');
      expect(crd.spec.names).to.deep.equal({
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'gitlabfluxlink',
        shortNames: ['gfl'],
        categories: ['gitlab-flux-link'],
      });
      expect(crd.spec.versions).to.have.length(1);
      expect(version).to.include({ name: VERSION, served: true, storage: true });
      expect(version.subresources).to.deep.equal({ status: {} });
    });

    it('printer columns, with Receiver, Conflicts and Suspended only in -o wide', () => {
      const cols = (version.additionalPrinterColumns as { name: string; type: string; jsonPath: string; priority?: number }[]).map((c) => [
        c.name,
        c.type,
        c.jsonPath,
        c.priority ?? 0,
      ]);
      expect(cols).to.deep.equal([
        ['URL', 'string', '.spec.gitlab.url', 0],
        ['Repositories', 'integer', '.status.repositories', 0],
        ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status', 0],
        ['Status', 'string', '.status.conditions[?(@.type=="Ready")].message', 0],
        ['Age', 'date', '.metadata.creationTimestamp', 0],
        ['Receiver', 'string', '.spec.receiver.endpoint', 1],
        ['Conflicts', 'integer', '.status.conflicts', 1],
        ['Suspended', 'boolean', '.spec.suspend', 1],
      ]);
    });

    it('limits metadata.name to 63 characters with a root CEL rule, as validateLinkName does', () => {
      const rules = rootSchema['x-kubernetes-validations']!;
      expect(rules[0]!.rule).to.equal(`self.metadata.name.size() <= ${LIMITS.linkName}`);
      expect(rules[0]!.message).to.match(/label value/);
      expect(validateLinkName('a'.repeat(63))).to.deep.equal([]);
      expect(validateLinkName('a'.repeat(64))).to.have.length(1);
      expect(validateLinkName('a'.repeat(64))[0]!.field).to.equal('metadata.name');
    });

    it('gitlab.api and webhook.url: the same pattern, limits, defaults and cross-field rules as validation.ts', () => {
      expect(at('webhook.url').pattern).to.equal(WEBHOOK_URL_PATTERN_REGEX);
      expect(at('webhook.url').maxLength).to.equal(LIMITS.webhookURL);
      expect(at('gitlab.api').required).to.deep.equal(['tokenSecretRef']);
      expect(at('gitlab.api.tokenSecretRef.key').default).to.equal('token');
      expect(at('gitlab.api.caSecretRef.key').default).to.equal(DEFAULT_CA_KEY);
      expect(at('gitlab.api.requestsPerMinute')).to.deep.include({ default: DEFAULT_REQUESTS_PER_MINUTE, minimum: 1, maximum: 2000 });
      expect(at('gitlab.api.sweepInterval')).to.deep.include({ default: '5m', pattern: INTERVAL_REGEX, maxLength: 32 });
      expect(at('gitlab.api.sweepInterval')['x-kubernetes-validations']!.map((r) => r.rule)).to.deep.equal([
        "duration(self) >= duration('1m')",
        "duration(self) <= duration('24h')",
      ]);
      expect(at('gitlab.api.groupHooks')).to.deep.include({ maxItems: MAX_GROUP_HOOKS, 'x-kubernetes-list-type': 'set' });
      expect(at('gitlab.api.groupHooks.[]')).to.deep.include({ pattern: GROUP_PATH_REGEX, maxLength: LIMITS.project });
      expect(at('gitlab.api.tokenSecretRef.name').pattern).to.equal(DNS_SUBDOMAIN_REGEX);
      expect(at('gitlab.api.caSecretRef.namespace').pattern).to.equal(DNS_LABEL_REGEX);
      // The suffix rule needs metadata.name: it sits on the root, beside the name-length rule.
      expect(rootSchema['x-kubernetes-validations']!.map((r) => r.rule)).to.include(
        "!has(self.spec) || !has(self.spec.webhook) || !has(self.spec.webhook.url) || self.spec.webhook.url.endsWith('/hooks/' + self.metadata.name)",
      );
      expect(specSchema['x-kubernetes-validations']!.map((r) => r.rule)).to.include('!has(self.webhook.url) || has(self.gitlab.api)');
      const api = { tokenSecretRef: { namespace: 'ns', name: 'gitlab-api' } };
      const input = spec({
        gitlab: { url: 'https://gitlab.example.com', api },
        webhook: { secretRef: { namespace: 'ns', name: 'a' }, url: 'https://hooks.example.com/hooks/one' },
      });
      const validated = validateLinkSpec(structuredClone(input), 'one');
      expect(validated).to.have.property('spec');
      expect(applyDefaults(specSchema, structuredClone(input))).to.deep.equal((validated as { spec: unknown }).spec);
      expect((validated as { spec: ValidatedLinkSpec }).spec.gitlab.api).to.deep.equal({
        tokenSecretRef: { namespace: 'ns', name: 'gitlab-api', key: 'token' },
        requestsPerMinute: DEFAULT_REQUESTS_PER_MINUTE,
        sweepInterval: '5m',
      });
      const other = validateLinkSpec(structuredClone(input), 'two');
      expect(other).to.have.property('errors');
      expect((other as { errors: FieldError[] }).errors).to.deep.equal([
        {
          field: 'spec.webhook.url',
          message: "must end in /hooks/two, this link's webhook route (e.g. https://hooks.example.com/hooks/two)",
        },
      ]);
    });

    it('describes every field (kubectl explain)', () => {
      const missing: string[] = [];
      for (const [name, s] of Object.entries(rootSchema.properties!)) {
        if (name === 'metadata') continue;
        walk(s, name, (node, p) => {
          if (!p.endsWith('[]') && !p.endsWith('{}') && !node.description) missing.push(p);
        });
      }
      expect(missing).to.deep.equal([]);
    });

    it('bounds every string, list and map under spec (CEL cost estimation) and every rule has a message', () => {
      const unbounded: string[] = [];
      walk(specSchema, 'spec', (node, p) => {
        if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined) unbounded.push(p);
        if (node.type === 'array' && node.maxItems === undefined) unbounded.push(p);
        if (node.type === 'object' && typeof node.additionalProperties === 'object' && node.maxProperties === undefined) unbounded.push(p);
        for (const r of node['x-kubernetes-validations'] ?? []) {
          expect(r.message ?? r.messageExpression, `${p}: ${r.rule}`)
            .to.be.a('string')
            .and.not.equal('');
          expect(r.rule, p).not.to.include('\n');
        }
      });
      expect(unbounded).to.deep.equal([]);
    });

    it('is structural: every node has a type', () => {
      const untyped: string[] = [];
      walk(rootSchema, '', (node, p) => {
        if (node.type === undefined) untyped.push(p);
      });
      expect(untyped).to.deep.equal([]);
    });

    it('never sets x-kubernetes-preserve-unknown-fields (unknown fields are pruned)', () => {
      expect(readFileSync(CRD_FILE, 'utf8')).not.to.match(/^\s*x-kubernetes-preserve-unknown-fields:/m);
    });

    it('uses the project-pattern regex of operator/push/project-patterns.ts', () => {
      expect(at('trust.projects.[]').pattern).to.equal(PROJECT_PATTERN_REGEX);
      expect(at('trust.namespaceProjects.[].projects.[]').pattern).to.equal(PROJECT_PATTERN_REGEX);
    });

    it('uses the service-proxy regex of validation.ts, in the endpoint rules and the trust rule', () => {
      expect(at('receiver.endpoint').pattern).to.equal(ENDPOINT_PATTERN_REGEX);
      // The trust rule relies on the pattern: it only checks the allow-list, with no regex of its own.
      expect(regexLiteralsIn(specSchema)).to.deep.equal([]);
      expect(ENDPOINT_PATTERN_REGEX).to.include(SERVICE_PROXY_PATH_REGEX.slice(1, -1));
    });

    it('uses the same regexes as validation.ts everywhere else', () => {
      const patterns: [string, string][] = [
        ['gitlab.sshHosts.[]', SSH_HOST_REGEX],
        ['receiver.interval', INTERVAL_REGEX],
        ['trust.namespaceSelector.matchLabels.{}', LABEL_VALUE_REGEX],
        ['trust.namespaceSelector.matchExpressions.[].key', LABEL_KEY_REGEX],
        ['trust.namespaceSelector.matchExpressions.[].values.[]', LABEL_VALUE_REGEX],
        ['trust.serviceProxies.[].namespace', DNS_LABEL_REGEX],
        ['trust.serviceProxies.[].name', DNS_LABEL_REGEX],
        ['trust.namespaceProjects.[].namespaceSelector.matchLabels.{}', LABEL_VALUE_REGEX],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].key', LABEL_KEY_REGEX],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].values.[]', LABEL_VALUE_REGEX],
        ['webhook.secretRef.namespace', DNS_LABEL_REGEX],
        ['webhook.secretRef.name', DNS_SUBDOMAIN_REGEX],
        ['webhook.secretRef.key', SECRET_KEY_REGEX],
        ['webhook.signingSecretRef.namespace', DNS_LABEL_REGEX],
        ['webhook.signingSecretRef.name', DNS_SUBDOMAIN_REGEX],
        ['webhook.signingSecretRef.key', SECRET_KEY_REGEX],
      ];
      for (const [p, re] of patterns) expect(at(p).pattern, p).to.equal(re);
      expect(at('gitlab.url').pattern).to.equal(URL_PATTERN_REGEX);
      expect(URL_PATTERN_REGEX).to.include(URL_HOST_REGEX.slice(1, -1)).and.include(URL_ROOT_PATH_REGEX.slice(1, -3));
    });

    it('has the same size limits as validation.ts', () => {
      const limits: [string, keyof Schema, number][] = [
        ['gitlab.url', 'maxLength', LIMITS.url],
        ['gitlab.sshHosts', 'maxItems', LIMITS.sshHosts],
        ['gitlab.sshHosts.[]', 'maxLength', LIMITS.sshHost],
        ['receiver.endpoint', 'maxLength', LIMITS.endpoint],
        ['receiver.interval', 'maxLength', LIMITS.interval],
        ['trust.projects', 'minItems', 1],
        ['trust.projects', 'maxItems', LIMITS.projects],
        ['trust.projects.[]', 'maxLength', LIMITS.project],
        ['trust.serviceProxies', 'maxItems', LIMITS.serviceProxies],
        ['trust.serviceProxies.[].namespace', 'maxLength', LIMITS.dnsLabel],
        ['trust.serviceProxies.[].name', 'maxLength', LIMITS.dnsLabel],
        ['trust.namespaceSelector.matchLabels', 'maxProperties', LIMITS.matchLabels],
        ['trust.namespaceSelector.matchLabels.{}', 'maxLength', LIMITS.labelValue],
        ['trust.namespaceSelector.matchExpressions', 'maxItems', LIMITS.matchExpressions],
        ['trust.namespaceSelector.matchExpressions.[].key', 'maxLength', LIMITS.labelKey],
        ['trust.namespaceSelector.matchExpressions.[].values', 'maxItems', LIMITS.matchExpressionValues],
        ['trust.namespaceSelector.matchExpressions.[].values.[]', 'maxLength', LIMITS.labelValue],
        ['trust.namespaceProjects', 'minItems', 1],
        ['trust.namespaceProjects', 'maxItems', LIMITS.namespaceProjects],
        ['trust.namespaceProjects.[].projects', 'minItems', 1],
        ['trust.namespaceProjects.[].projects', 'maxItems', LIMITS.projects],
        ['trust.namespaceProjects.[].projects.[]', 'maxLength', LIMITS.project],
        ['trust.namespaceProjects.[].namespaceSelector.matchLabels', 'maxProperties', LIMITS.matchLabels],
        ['trust.namespaceProjects.[].namespaceSelector.matchLabels.{}', 'maxLength', LIMITS.labelValue],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions', 'maxItems', LIMITS.matchExpressions],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].key', 'maxLength', LIMITS.labelKey],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].values', 'maxItems', LIMITS.matchExpressionValues],
        ['trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].values.[]', 'maxLength', LIMITS.labelValue],
        ['webhook.secretRef.namespace', 'maxLength', LIMITS.dnsLabel],
        ['webhook.secretRef.name', 'maxLength', LIMITS.dnsSubdomain],
        ['webhook.secretRef.key', 'maxLength', LIMITS.secretKey],
        ['webhook.signingSecretRef.name', 'maxLength', LIMITS.dnsSubdomain],
      ];
      for (const [p, k, n] of limits) expect(at(p)[k], `${p} ${k}`).to.equal(n);
    });

    it('has the same enums and required fields as validation.ts', () => {
      expect(at('receiver.type').enum).to.deep.equal([...RECEIVER_TYPES]);
      expect(at('trust.namespaceSelector.matchExpressions.[].operator').enum).to.deep.equal([...SELECTOR_OPERATORS]);
      expect(specSchema.required).to.deep.equal(['gitlab', 'webhook']);
      expect(at('gitlab').required).to.deep.equal(['url']);
      expect(at('webhook').required).to.deep.equal(['secretRef']);
      expect(at('webhook.secretRef').required).to.deep.equal(['namespace', 'name']);
      expect(at('trust.serviceProxies')['x-kubernetes-list-map-keys']).to.deep.equal(['namespace', 'name']);
      expect(at('trust.namespaceProjects.[]').required).to.deep.equal(['namespaceSelector', 'projects']);
      expect(at('trust.namespaceProjects.[].namespaceSelector.matchExpressions.[].operator').enum).to.deep.equal([...SELECTOR_OPERATORS]);
      // The rule's selector is the same schema as trust.namespaceSelector (CEL rules included), bar its description.
      const { description: _a, ...ruleSelector } = at('trust.namespaceProjects.[].namespaceSelector');
      const { description: _b, ...linkSelector } = at('trust.namespaceSelector');
      expect(ruleSelector).to.deep.equal(linkSelector);
      expect(at('trust.namespaceProjects').default).to.equal(undefined);
      expect(at('gitlab.sshHosts')['x-kubernetes-list-type']).to.equal('set');
    });

    it('has the defaults validateLinkSpec applies', () => {
      expect(at('receiver').default).to.deep.equal({});
      expect(at('receiver.endpoint').default).to.equal(DEFAULT_RECEIVER_ENDPOINT);
      expect(at('receiver.type').default).to.equal('generic-hmac');
      expect(at('trust').default).to.deep.equal({});
      expect(at('trust.projects').default).to.deep.equal(DEFAULT_PROJECT_PATTERNS);
      expect(at('trust.serviceProxies').default).to.deep.equal([]);
      expect(at('webhook.secretRef.key').default).to.equal('token');
      expect(at('webhook.signingSecretRef.key').default).to.equal('token');
      expect(at('suspend').default).to.equal(false);
      const inputs = [
        validMinimalSpec(),
        spec({ receiver: {}, trust: {} }),
        spec({ receiver: { type: 'gitlab' }, trust: { projects: ['a/*'] } }),
        spec({
          trust: {
            namespaceProjects: [
              { namespaceSelector: {}, projects: ['a/**'] },
              { namespaceSelector: { matchLabels: { t: 'b' } }, projects: ['b/*', 'c'] },
            ],
          },
        }),
        spec({
          webhook: {
            secretRef: { namespace: 'ns', name: 'a', key: 'k' },
            signingSecretRef: { namespace: 'ns', name: 'b' },
          },
        }),
      ];
      for (const input of inputs) {
        expect(expectValid(structuredClone(input))).to.deep.equal(applyDefaults(specSchema, structuredClone(input)));
      }
    });

    it('status: conditions keyed by type, bounded entries', () => {
      const status = rootSchema.properties!['status']!;
      expect(Object.keys(status.properties!)).to.have.members([
        'observedGeneration',
        'conditions',
        'repositories',
        'readyReceivers',
        'conflicts',
        'entries',
        'lastPush',
        'lastTrigger',
        'lastCatchUp',
        'hooks',
      ]);
      const conditions = status.properties!['conditions']!;
      expect(conditions['x-kubernetes-list-type']).to.equal('map');
      expect(conditions['x-kubernetes-list-map-keys']).to.deep.equal(['type']);
      expect(conditions.items!.required).to.have.members(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
      expect(status.properties!['entries']!.maxItems).to.equal(50);
      expect(status.properties!['entries']!.items!.properties).to.have.keys('gitRepository', 'project', 'receiver', 'ready', 'message');
    });
  });

  describe('invalid specs (shared with the e2e suite)', () => {
    it('has at least 40 stories with unique names', () => {
      expect(INVALID_SPECS.length).to.be.at.least(40);
      expect(new Set(INVALID_SPECS.map((s) => s.story)).size).to.equal(INVALID_SPECS.length);
    });

    for (const { story, spec: raw, field } of INVALID_SPECS) {
      it(`rejects: ${story} (${field})`, () => {
        // Named as the e2e suite names them (invalid-<index>): webhook.url must end in /hooks/<name>.
        const errors = expectErrors(structuredClone(raw), `invalid-${INVALID_SPECS.findIndex((s) => s.story === story)}`);
        const fields = errors.map((e) => e.field);
        expect(
          fields.some((f) => fieldMatches(f, field)),
          `fields ${JSON.stringify(fields)}`,
        ).to.equal(true);
        for (const e of errors) expect(e.message).to.be.a('string').and.have.length.greaterThan(5);
      });
    }

    it('each story differs from a valid spec that the OpenAPI schema accepts, and is JSON', () => {
      expect(schemaErrors(specSchema, applyDefaults(specSchema, validMinimalSpec()), 'spec')).to.deep.equal([]);
      for (const { spec: raw } of INVALID_SPECS) expect(JSON.parse(JSON.stringify(raw))).to.deep.equal(raw);
    });

    it('stories that break an OpenAPI rule are rejected by the schema half at the same field', () => {
      // CEL-only stories are left to the e2e suite; for the rest this checks the expected field.
      let checked = 0;
      for (const { story, spec: raw, field } of INVALID_SPECS) {
        const errs = schemaErrors(
          { type: 'object', properties: { spec: specSchema } },
          { spec: applyDefaults(specSchema, structuredClone(raw)) },
          '',
        );
        if (errs.length === 0) continue;
        checked++;
        const fields = errs.map((e) => e.slice(1, e.indexOf(':')));
        expect(
          fields.some((f) => fieldMatches(f, field)),
          `${story}: ${JSON.stringify(errs)}`,
        ).to.equal(true);
      }
      expect(checked).to.be.greaterThan(40);
    });
  });

  describe('valid edge cases', () => {
    const urls = [
      'https://gitlab.example.com',
      'https://gitlab.example.com/',
      'http://gitlab.example.com',
      'https://example.com/gitlab',
      'https://example.com/gitlab/',
      'https://example.com/tools/gitlab',
      'https://example.com/~dev/gitlab',
      'https://gitlab.example.com:8443',
      'https://gitlab.example.com:8443/gitlab/',
      'http://10.0.0.1',
      'http://[::1]:8080/gitlab',
      'https://[2001:db8::1]/',
      'https://GitLab.Example.com',
      'https://git_lab.internal',
    ];
    for (const url of urls) {
      it(`gitlab.url ${url} (and the flux matcher accepts it too)`, () => {
        expect(expectValid(spec({ gitlab: { url } })).gitlab.url).to.equal(url);
        expect(() => parseInstance(url, [])).not.to.throw();
        expect(schemaErrors(at('gitlab.url'), url, 'url')).to.deep.equal([]);
      });
    }

    it('sshHosts: DNS names in either case, accepted by the flux matcher', () => {
      const sshHosts = ['ssh.gitlab.example.com', 'GITLAB-SSH.example.com', 'gitlab', '10.0.0.2'];
      expect(expectValid(spec({ gitlab: { url: 'https://gitlab.example.com', sshHosts } })).gitlab.sshHosts).to.deep.equal(sshHosts);
      expect(() => parseInstance('https://gitlab.example.com', sshHosts)).not.to.throw();
    });

    const endpoints: [string, Record<string, unknown> | undefined][] = [
      ['http://webhook-receiver.flux-system.svc.cluster.local', undefined],
      ['http://webhook-receiver.flux-system.svc.cluster.local/', undefined],
      ['https://flux-webhook.example.com:8443/prefix', undefined],
      ['http://[fd00::10]:9292', undefined],
      [
        '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy',
        { serviceProxies: [{ namespace: 'flux-system', name: 'webhook-receiver' }] },
      ],
      [
        '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/',
        { serviceProxies: [{ namespace: 'flux-system', name: 'webhook-receiver' }] },
      ],
      [
        '/api/v1/namespaces/flux-system/services/webhook-receiver:http/proxy',
        {
          serviceProxies: [
            { namespace: 'apps', name: 'x' },
            { namespace: 'flux-system', name: 'webhook-receiver' },
          ],
        },
      ],
    ];
    for (const [endpoint, trust] of endpoints) {
      it(`receiver.endpoint ${endpoint}${trust ? ' (allow-listed)' : ''}`, () => {
        const v = expectValid(spec(trust ? { receiver: { endpoint }, trust } : { receiver: { endpoint } }));
        expect(v.receiver.endpoint).to.equal(endpoint);
      });
    }

    it('label selectors with every operator', () => {
      const namespaceSelector = {
        matchLabels: { 'fluxlink.dev/gitlab': 'enabled', team: '' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'example.com/env', operator: 'NotIn', values: ['prod'] },
          { key: 'managed', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist', values: [] },
        ],
      };
      expect(expectValid(spec({ trust: { namespaceSelector } })).trust.namespaceSelector).to.deep.equal(namespaceSelector);
      expect(expectValid(spec({ trust: { namespaceSelector: {} } })).trust.namespaceSelector).to.deep.equal({});
    });

    it('project patterns', () => {
      const projects = ['**', 'group/*', 'group/**', 'a/**/b', '*-infra/*', 'G.r_o-u.p/pro*ject*'];
      expect(expectValid(spec({ trust: { projects } })).trust.projects).to.deep.equal(projects);
    });

    it('intervals', () => {
      for (const interval of ['30s', '5m', '1h30m', '1.5h', '500ms'])
        expect(expectValid(spec({ receiver: { interval } })).receiver.interval).to.equal(interval);
    });

    it('drops unknown fields and treats null as absent, like the API server', () => {
      const v = expectValid({
        ...validMinimalSpec(),
        extra: 1,
        gitlab: { url: 'https://gitlab.example.com', token: 'nope' },
        receiver: null,
        trust: { projects: null, serviceProxies: null },
      });
      expect(v).to.deep.equal(applyDefaults(specSchema, validMinimalSpec()));
      expect(v).not.to.have.property('extra');
      expect(v.gitlab).not.to.have.property('token');
    });

    it('returns copies: changing the result does not change the input', () => {
      const input = spec({ trust: { projects: ['a/*'] } });
      const v = expectValid(input);
      v.trust.projects.push('b/*');
      expect((input['trust'] as { projects: string[] }).projects).to.deep.equal(['a/*']);
    });
  });

  describe('errors', () => {
    it('a missing spec or a spec of the wrong type is reported on spec', () => {
      expect(expectErrors(undefined)).to.deep.equal([{ field: 'spec', message: 'is required' }]);
      expect(expectErrors('x')[0]!.field).to.equal('spec');
    });

    it('reports every broken field at once, in spec order, naming list items', () => {
      const errors = expectErrors({
        gitlab: { url: 'ftp://x', sshHosts: ['ok.example.com', 'bad host'] },
        receiver: { endpoint: '/api/v1/namespaces/a/services/b/proxy', type: 'generic' },
        trust: { projects: ['ok/*', '***'] },
        webhook: { secretRef: { namespace: 'ns' } },
        suspend: 'yes',
      });
      expect(errors.map((e) => e.field)).to.deep.equal([
        'spec.gitlab.url',
        'spec.gitlab.sshHosts[1]',
        'spec.receiver.type',
        'spec.receiver.endpoint',
        'spec.trust.projects[1]',
        'spec.webhook.secretRef.name',
        'spec.suspend',
      ]);
    });

    it('the service-proxy message names the namespace/service and the allow-list', () => {
      const [e] = expectErrors(spec({ receiver: { endpoint: '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy' } }));
      expect(e!.field).to.equal('spec.receiver.endpoint');
      expect(e!.message).to.include('service proxy flux-system/webhook-receiver is not allowed by spec.trust.serviceProxies');
    });

    it('matchLabels keys are checked by the operator only (the CRD cannot afford a CEL rule over map keys)', () => {
      const [e] = expectErrors(spec({ trust: { namespaceSelector: { matchLabels: { 'bad key': 'x' } } } }));
      expect(e!.field).to.equal('spec.trust.namespaceSelector.matchLabels[bad key]');
      expect(schemaErrors(at('trust.namespaceSelector'), { matchLabels: { 'bad key': 'x' } }, 'sel')).to.deep.equal([]);
    });

    it('a key named __proto__ is refused where it is, never copied as a prototype (matchLabels would select every namespace)', () => {
      // JSON.parse keeps "__proto__" as an own key, as the API server's JSON does; an object literal would not.
      const parsed = (json: string) => spec(JSON.parse(json) as Record<string, unknown>);
      expect(expectErrors(parsed('{"trust": {"namespaceSelector": {"matchLabels": {"__proto__": "x"}}}}'))).to.deep.equal([
        { field: 'spec.trust.namespaceSelector.matchLabels[__proto__]', message: 'a key named "__proto__" is not accepted' },
      ]);
      const nested =
        '{"trust": {"namespaceProjects": [{"namespaceSelector": {"matchLabels": {"team": "a", "__proto__": {"team": "b"}}}, "projects": ["a/**"]}]}}';
      expect(expectErrors(parsed(nested)).map((e) => e.field)).to.deep.equal([
        'spec.trust.namespaceProjects[0].namespaceSelector.matchLabels[__proto__]',
      ]);
      expect(expectErrors({ ...validMinimalSpec(), ...(JSON.parse('{"__proto__": {"suspend": true}}') as object) })).to.deep.equal([
        { field: 'spec[__proto__]', message: 'a key named "__proto__" is not accepted' },
      ]);
    });

    it('messages say what to do', () => {
      const msg = (raw: unknown) => expectErrors(raw)[0]!.message;
      expect(msg(spec({ gitlab: { url: 'https://u:p@gitlab.example.com' } }))).to.match(/user-info/);
      expect(msg(spec({ gitlab: { url: 'https://gitlab.example.com/?a' } }))).to.match(/query/);
      expect(msg(spec({ receiver: { type: 'generic' } }))).to.match(/generic-hmac, gitlab/);
      expect(msg(spec({ receiver: { interval: '1d' } }))).to.match(/30s, 5m or 1h30m/);
      expect(msg(spec({ trust: { projects: ['a/***'] } }))).to.match(/\*\*\*/);
      expect(msg(spec({ receiver: { endpoint: '/api/v1/namespaces/a/services/b/proxy/x' } }))).to.match(
        /<namespace>\/services\/<name>\[:<port>\]\/proxy/,
      );
      expect(msg(spec({ trust: { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } }))).to.match(
        /non-empty list when operator is In/,
      );
    });
  });

  describe('formatFieldErrors', () => {
    const errs = (n: number): FieldError[] =>
      Array.from({ length: n }, (_, i) => ({ field: `spec.f${i}`, message: `problem number ${i}` }));

    it('joins field: message, first errors first', () => {
      expect(formatFieldErrors(errs(2))).to.equal('spec.f0: problem number 0; spec.f1: problem number 1');
      expect(formatFieldErrors([])).to.equal('');
    });

    it('stays within the bound and says how many were left out', () => {
      const s = formatFieldErrors(errs(200), 200);
      expect(s.length).to.be.at.most(200);
      expect(s.startsWith('spec.f0: problem number 0; ')).to.equal(true);
      const shown = s.split('; ').length;
      expect(s).to.match(new RegExp(`\\(and ${200 - shown} more\\)$`));
      expect(formatFieldErrors(errs(200)).length).to.be.at.most(1024);
    });

    it('cuts a single overlong message', () => {
      const s = formatFieldErrors([{ field: 'spec.x', message: 'y'.repeat(5000) }, ...errs(3)], 100);
      expect(s.length).to.be.at.most(100);
      expect(s).to.match(/^spec\.x: y+… \(and 3 more\)$/);
    });

    it('never exceeds the bound (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ field: fc.string(), message: fc.string({ maxLength: 300 }) }), { maxLength: 30 }),
          fc.integer({ min: 40, max: 1024 }),
          (list, max) => formatFieldErrors(list, max).length <= max,
        ),
      );
    });
  });

  describe('service-proxy helpers', () => {
    it('parses the supported forms', () => {
      expect(parseServiceProxyPath('/api/v1/namespaces/flux-system/services/webhook-receiver/proxy')).to.deep.equal({
        namespace: 'flux-system',
        service: 'webhook-receiver',
      });
      expect(parseServiceProxyPath('/api/v1/namespaces/ns/services/svc:80/proxy/')).to.deep.equal({
        namespace: 'ns',
        service: 'svc',
        port: '80',
      });
      expect(parseServiceProxyPath('/api/v1/namespaces/ns/services/svc:http-web/proxy')).to.deep.equal({
        namespace: 'ns',
        service: 'svc',
        port: 'http-web',
      });
    });

    it('rejects anything else (anchored)', () => {
      for (const p of [
        'http://webhook-receiver.flux-system',
        '/api/v1/namespaces/ns/services/svc/proxy/extra',
        'x/api/v1/namespaces/ns/services/svc/proxy',
        '/api/v1/namespaces/ns/services/https:svc:443/proxy',
        '/api/v1/namespaces/NS/services/svc/proxy',
        '/api/v1/namespaces/ns/services/svc/proxy?x',
        '/api/v1/namespaces//services/svc/proxy',
        '/api/v1/namespaces/ns/pods/p/proxy',
      ]) {
        expect(parseServiceProxyPath(p), p).to.equal(undefined);
        expect(isServiceProxyPath(p), p).to.equal(false);
      }
      expect(isServiceProxyPath('/api/v1/namespaces/ns/services/svc/proxy')).to.equal(true);
    });
  });

  describe('robustness', () => {
    it('never throws and always returns spec or non-empty errors (property)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          const r = validateLinkSpec(v);
          return 'spec' in r || r.errors.length > 0;
        }),
        { numRuns: 300 },
      );
    });

    it('never throws on mutated namespaceProjects rules, and names a field inside them (property)', () => {
      const leaf = fc.oneof(
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 3 }),
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
      );
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 }), fc.constantFrom('namespaceSelector', 'projects'), leaf, (at, key, value) => {
          const rules = [0, 1, 2].map(
            () => ({ namespaceSelector: { matchLabels: { tenant: 'a' } }, projects: ['team-a/**'] }) as Record<string, unknown>,
          );
          rules[at]![key] = value;
          const r = validateLinkSpec(spec({ trust: { namespaceProjects: rules } }));
          return 'spec' in r || r.errors.every((e) => e.field.startsWith(`spec.trust.namespaceProjects[${at}]`));
        }),
        { numRuns: 300 },
      );
    });

    it('never throws on mutated valid specs (property)', () => {
      const leaf = fc.oneof(
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 3 }),
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
      );
      const keys = ['gitlab', 'receiver', 'trust', 'webhook', 'suspend'] as const;
      fc.assert(
        fc.property(
          fc.constantFrom(...keys),
          fc.constantFrom(
            'url',
            'sshHosts',
            'endpoint',
            'type',
            'interval',
            'projects',
            'serviceProxies',
            'namespaceSelector',
            'namespaceProjects',
            'secretRef',
          ),
          leaf,
          (k, sub, value) => {
            const s: Record<string, unknown> = validMinimalSpec();
            s[k] = { ...((s[k] as object) ?? {}), [sub]: value };
            const r = validateLinkSpec(s);
            return 'spec' in r || r.errors.every((e) => e.field.startsWith('spec'));
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
