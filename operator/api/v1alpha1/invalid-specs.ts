// Specs that must be rejected, by the operator (validateLinkSpec, unit test) and by the API server with
// the CRD's OpenAPI schema + CEL rules (e2e). `field` is the path the rejection must name: the reported
// field equals it or starts with it (the API server may be more precise, e.g. `matchLabels.team`).
//
// Every spec is plain JSON (no undefined), differs from a valid spec in one way, and is safe to create
// on a real cluster (nothing here is a secret). Unknown fields are not part of the corpus: the API server
// prunes or rejects them depending on the client's field validation, and the operator ignores them.

export interface InvalidSpec {
  story: string;
  spec: unknown;
  field: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** A valid spec with only the required fields. */
export function validMinimalSpec(): Obj {
  return {
    gitlab: { url: 'https://gitlab.example.com' },
    webhook: { secretRef: { namespace: 'gitlab-flux-link-system', name: 'gitlab-webhook-token' } },
  };
}

const PROXY = '/api/v1/namespaces/flux-system/services/webhook-receiver';

function withGitlab(gitlab: Json): Obj {
  return { ...validMinimalSpec(), gitlab };
}
function withURL(url: Json): Obj {
  return withGitlab({ url });
}
function withSSHHosts(sshHosts: Json): Obj {
  return withGitlab({ url: 'https://gitlab.example.com', sshHosts });
}
function withReceiver(receiver: Json, trust?: Json): Obj {
  const spec: Obj = { ...validMinimalSpec(), receiver };
  if (trust !== undefined) spec['trust'] = trust;
  return spec;
}
function withEndpoint(endpoint: Json, trust?: Json): Obj {
  return withReceiver({ endpoint }, trust);
}
function withTrust(trust: Json): Obj {
  return { ...validMinimalSpec(), trust };
}
function withExpressions(matchExpressions: Json): Obj {
  return withTrust({ namespaceSelector: { matchExpressions } });
}
function withSecretRef(secretRef: Json): Obj {
  return { ...validMinimalSpec(), webhook: { secretRef } };
}

const TOKEN_REF: Obj = { namespace: 'gitlab-flux-link-system', name: 'gitlab-api-token' };
/** spec.gitlab.api (and optionally spec.webhook.url); the link name in the e2e suite is `invalid-<index>`. */
function withApi(api: Json, url?: string): Obj {
  const spec: Obj = { ...validMinimalSpec(), gitlab: { url: 'https://gitlab.example.com', api } };
  if (url !== undefined) spec['webhook'] = { ...(validMinimalSpec()['webhook'] as Obj), url };
  return spec;
}
function withWebhookURL(url: Json): Obj {
  return withApi({ tokenSecretRef: TOKEN_REF }, url as string);
}

function withRules(namespaceProjects: Json): Obj {
  return withTrust({ namespaceProjects });
}
const TEAM_A_RULE: Obj = { namespaceSelector: { matchLabels: { tenant: 'a' } }, projects: ['team-a/**'] };

const allowFluxReceiver: Json = { serviceProxies: [{ namespace: 'flux-system', name: 'webhook-receiver' }] };

export const INVALID_SPECS: InvalidSpec[] = [
  // --- spec and spec.gitlab ---------------------------------------------------------------------
  { story: 'spec is a list', spec: [], field: 'spec' },
  { story: 'gitlab missing', spec: { webhook: validMinimalSpec()['webhook']! }, field: 'spec.gitlab' },
  { story: 'gitlab is a string', spec: withGitlab('https://gitlab.example.com'), field: 'spec.gitlab' },
  { story: 'gitlab.url missing', spec: withGitlab({ sshHosts: ['ssh.example.com'] }), field: 'spec.gitlab.url' },
  { story: 'gitlab.url is a number', spec: withURL(443), field: 'spec.gitlab.url' },
  { story: 'gitlab.url empty', spec: withURL(''), field: 'spec.gitlab.url' },
  { story: 'gitlab.url uses ftp', spec: withURL('ftp://gitlab.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url is a bare host name', spec: withURL('gitlab.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url is scp-like', spec: withURL('git@gitlab.example.com:group/project.git'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url scheme in upper case', spec: withURL('HTTPS://gitlab.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with user-info', spec: withURL('https://oauth2:secret@gitlab.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a user only', spec: withURL('https://git@gitlab.example.com/'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a query', spec: withURL('https://gitlab.example.com/?private_token=x'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with an empty query', spec: withURL('https://gitlab.example.com/?'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a fragment', spec: withURL('https://gitlab.example.com/#top'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url without a host', spec: withURL('https:///gitlab'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a space in the host', spec: withURL('https://gitlab example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a space in the path', spec: withURL('https://example.com/git lab'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a non-ASCII host', spec: withURL('https://gitläb.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with an invalid character in the host', spec: withURL('https://gitlab!.example.com'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a bracketed host that is not IPv6', spec: withURL('https://[gitlab]/'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a bracketed IPv4 address', spec: withURL('https://[10.0.0.1]/'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url port out of range', spec: withURL('https://gitlab.example.com:99999'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url port not a number', spec: withURL('https://gitlab.example.com:https'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with an invalid percent-escape', spec: withURL('https://example.com/%zz'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url path with an encoded slash', spec: withURL('https://example.com/group/%2Fproject'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with an empty path segment', spec: withURL('https://example.com//gitlab'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url with a dot-dot segment', spec: withURL('https://example.com/gitlab/..'), field: 'spec.gitlab.url' },
  { story: 'gitlab.url longer than 2048 characters', spec: withURL(`https://example.com/${'a'.repeat(2040)}`), field: 'spec.gitlab.url' },
  { story: 'sshHosts is a string', spec: withSSHHosts('ssh.gitlab.example.com'), field: 'spec.gitlab.sshHosts' },
  { story: 'sshHosts entry with a user', spec: withSSHHosts(['git@ssh.gitlab.example.com']), field: 'spec.gitlab.sshHosts[0]' },
  {
    story: 'sshHosts entry with a port',
    spec: withSSHHosts(['ssh.gitlab.example.com', 'ssh.gitlab.example.com:2222']),
    field: 'spec.gitlab.sshHosts[1]',
  },
  { story: 'sshHosts entry is a URL', spec: withSSHHosts(['ssh://ssh.gitlab.example.com']), field: 'spec.gitlab.sshHosts[0]' },
  { story: 'sshHosts entry starts with a dash', spec: withSSHHosts(['-ssh.example.com']), field: 'spec.gitlab.sshHosts[0]' },
  { story: 'sshHosts entry empty', spec: withSSHHosts(['']), field: 'spec.gitlab.sshHosts[0]' },
  {
    story: 'sshHosts entry with a 64-character label',
    spec: withSSHHosts([`${'a'.repeat(64)}.example.com`]),
    field: 'spec.gitlab.sshHosts[0]',
  },
  { story: 'sshHosts duplicate entry', spec: withSSHHosts(['ssh.example.com', 'ssh.example.com']), field: 'spec.gitlab.sshHosts[1]' },
  {
    story: 'sshHosts with 17 entries',
    spec: withSSHHosts(Array.from({ length: 17 }, (_, i) => `ssh${i}.example.com`)),
    field: 'spec.gitlab.sshHosts',
  },

  // --- spec.receiver ------------------------------------------------------------------------------
  { story: 'receiver is a string', spec: withReceiver('http://webhook-receiver.flux-system'), field: 'spec.receiver' },
  { story: 'endpoint empty', spec: withEndpoint(''), field: 'spec.receiver.endpoint' },
  { story: 'endpoint uses ftp', spec: withEndpoint('ftp://webhook-receiver.flux-system'), field: 'spec.receiver.endpoint' },
  { story: 'endpoint is a bare host name', spec: withEndpoint('webhook-receiver.flux-system.svc'), field: 'spec.receiver.endpoint' },
  { story: 'endpoint with a query', spec: withEndpoint('http://webhook-receiver.flux-system/?x=1'), field: 'spec.receiver.endpoint' },
  { story: 'endpoint with a fragment', spec: withEndpoint('http://webhook-receiver.flux-system/#x'), field: 'spec.receiver.endpoint' },
  {
    story: 'endpoint with user-info',
    spec: withEndpoint('http://admin:admin@webhook-receiver.flux-system'),
    field: 'spec.receiver.endpoint',
  },
  { story: 'endpoint without a host', spec: withEndpoint('http://'), field: 'spec.receiver.endpoint' },
  { story: 'endpoint port out of range', spec: withEndpoint('http://webhook-receiver.flux-system:70000'), field: 'spec.receiver.endpoint' },
  { story: 'endpoint with a space', spec: withEndpoint('http://webhook-receiver.flux-system/a b'), field: 'spec.receiver.endpoint' },
  { story: 'service proxy not allow-listed (no trust)', spec: withEndpoint(`${PROXY}/proxy`), field: 'spec.receiver.endpoint' },
  {
    story: 'service proxy with port not allow-listed (another service is)',
    spec: withEndpoint('/api/v1/namespaces/flux-system/services/other:80/proxy/', allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  {
    story: 'service proxy allow-listed in another namespace only',
    spec: withEndpoint('/api/v1/namespaces/apps/services/webhook-receiver/proxy', allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  {
    story: 'service proxy path with extra segments',
    spec: withEndpoint(`${PROXY}/proxy/hook/abc`, allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  {
    story: 'service proxy path not anchored at the start',
    spec: withEndpoint(`/prefix${PROXY}/proxy`, allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  { story: 'service proxy path without /proxy', spec: withEndpoint(PROXY, allowFluxReceiver), field: 'spec.receiver.endpoint' },
  {
    story: 'service proxy path with scheme:name:port form',
    spec: withEndpoint('/api/v1/namespaces/flux-system/services/https:webhook-receiver:443/proxy', allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  {
    story: 'service proxy path with upper-case namespace',
    spec: withEndpoint('/api/v1/namespaces/Flux-System/services/webhook-receiver/proxy', allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  {
    story: 'service proxy path with a query',
    spec: withEndpoint(`${PROXY}/proxy?x=1`, allowFluxReceiver),
    field: 'spec.receiver.endpoint',
  },
  { story: 'relative path that is not a service proxy', spec: withEndpoint('/hook'), field: 'spec.receiver.endpoint' },
  { story: 'receiver type generic (unauthenticated)', spec: withReceiver({ type: 'generic' }), field: 'spec.receiver.type' },
  { story: 'receiver type in the wrong case', spec: withReceiver({ type: 'GitLab' }), field: 'spec.receiver.type' },
  { story: 'receiver type is a number', spec: withReceiver({ type: 1 }), field: 'spec.receiver.type' },
  { story: 'interval without a unit', spec: withReceiver({ interval: '10' }), field: 'spec.receiver.interval' },
  { story: 'interval in days', spec: withReceiver({ interval: '1d' }), field: 'spec.receiver.interval' },
  { story: 'interval negative', spec: withReceiver({ interval: '-5m' }), field: 'spec.receiver.interval' },
  { story: 'interval is a number', spec: withReceiver({ interval: 600 }), field: 'spec.receiver.interval' },

  // --- spec.trust ---------------------------------------------------------------------------------
  { story: 'trust is a list', spec: withTrust([]), field: 'spec.trust' },
  { story: 'projects empty list', spec: withTrust({ projects: [] }), field: 'spec.trust.projects' },
  { story: 'projects is a string', spec: withTrust({ projects: '**' }), field: 'spec.trust.projects' },
  { story: 'project pattern starts with /', spec: withTrust({ projects: ['/group/*'] }), field: 'spec.trust.projects[0]' },
  { story: 'project pattern ***', spec: withTrust({ projects: ['group/*', '***'] }), field: 'spec.trust.projects[1]' },
  { story: 'project pattern with empty segment', spec: withTrust({ projects: ['group//project'] }), field: 'spec.trust.projects[0]' },
  { story: 'project pattern mixes ** with text', spec: withTrust({ projects: ['group/**x'] }), field: 'spec.trust.projects[0]' },
  { story: 'project pattern with a space', spec: withTrust({ projects: ['my group/*'] }), field: 'spec.trust.projects[0]' },
  { story: 'project pattern empty', spec: withTrust({ projects: ['platform/**', 'apps/*', ''] }), field: 'spec.trust.projects[2]' },
  { story: 'project pattern ends with /', spec: withTrust({ projects: ['group/'] }), field: 'spec.trust.projects[0]' },
  { story: 'project pattern is a number', spec: withTrust({ projects: [42] }), field: 'spec.trust.projects[0]' },
  {
    story: 'projects with 101 entries',
    spec: withTrust({ projects: Array.from({ length: 101 }, (_, i) => `group${i}/*`) }),
    field: 'spec.trust.projects',
  },
  { story: 'namespaceSelector is a string', spec: withTrust({ namespaceSelector: 'team=a' }), field: 'spec.trust.namespaceSelector' },
  {
    story: 'matchLabels value is a number',
    spec: withTrust({ namespaceSelector: { matchLabels: { team: 1 } } }),
    field: 'spec.trust.namespaceSelector.matchLabels',
  },
  {
    story: 'matchLabels value is not a label value',
    spec: withTrust({ namespaceSelector: { matchLabels: { team: 'a b' } } }),
    field: 'spec.trust.namespaceSelector.matchLabels',
  },
  {
    story: 'selector operator not supported',
    spec: withExpressions([{ key: 'team', operator: 'Equals', values: ['a'] }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].operator',
  },
  {
    story: 'selector operator missing',
    spec: withExpressions([{ key: 'team', values: ['a'] }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].operator',
  },
  {
    story: 'selector key missing',
    spec: withExpressions([{ operator: 'Exists' }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].key',
  },
  {
    story: 'selector key not a label key',
    spec: withExpressions([{ key: 'team name', operator: 'Exists' }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].key',
  },
  {
    story: 'In with no values',
    spec: withExpressions([{ key: 'team', operator: 'In' }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].values',
  },
  {
    story: 'NotIn with an empty values list',
    spec: withExpressions([
      { key: 'team', operator: 'Exists' },
      { key: 'tier', operator: 'NotIn', values: [] },
    ]),
    field: 'spec.trust.namespaceSelector.matchExpressions[1].values',
  },
  {
    story: 'Exists with values',
    spec: withExpressions([{ key: 'team', operator: 'Exists', values: ['a'] }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].values',
  },
  {
    story: 'DoesNotExist with values',
    spec: withExpressions([{ key: 'team', operator: 'DoesNotExist', values: ['a'] }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].values',
  },
  {
    story: 'selector value not a label value',
    spec: withExpressions([{ key: 'team', operator: 'In', values: ['a/b'] }]),
    field: 'spec.trust.namespaceSelector.matchExpressions[0].values',
  },
  {
    story: 'serviceProxies is an object',
    spec: withTrust({ serviceProxies: { namespace: 'flux-system', name: 'x' } }),
    field: 'spec.trust.serviceProxies',
  },
  {
    story: 'serviceProxies entry is a string',
    spec: withTrust({ serviceProxies: ['flux-system/webhook-receiver'] }),
    field: 'spec.trust.serviceProxies',
  },
  {
    story: 'serviceProxies entry without name',
    spec: withTrust({ serviceProxies: [{ namespace: 'flux-system' }] }),
    field: 'spec.trust.serviceProxies[0]',
  },
  {
    story: 'serviceProxies entry with an invalid namespace',
    spec: withTrust({ serviceProxies: [{ namespace: 'Flux_System', name: 'webhook-receiver' }] }),
    field: 'spec.trust.serviceProxies[0].namespace',
  },
  {
    story: 'serviceProxies entry with a dotted service name',
    spec: withTrust({ serviceProxies: [{ namespace: 'flux-system', name: 'webhook.receiver' }] }),
    field: 'spec.trust.serviceProxies[0].name',
  },
  {
    story: 'serviceProxies duplicate entry',
    spec: withTrust({
      serviceProxies: [
        { namespace: 'flux-system', name: 'a' },
        { namespace: 'flux-system', name: 'a' },
      ],
    }),
    field: 'spec.trust.serviceProxies[1]',
  },
  {
    story: 'serviceProxies with 33 entries',
    spec: withTrust({ serviceProxies: Array.from({ length: 33 }, (_, i) => ({ namespace: 'flux-system', name: `svc-${i}` })) }),
    field: 'spec.trust.serviceProxies',
  },

  // --- spec.trust.namespaceProjects ---------------------------------------------------------------
  {
    story: 'namespaceProjects is an object',
    spec: withRules({ namespaceSelector: {}, projects: ['team-a/**'] }),
    field: 'spec.trust.namespaceProjects',
  },
  { story: 'namespaceProjects empty list', spec: withRules([]), field: 'spec.trust.namespaceProjects' },
  { story: 'namespaceProjects rule is a string', spec: withRules(['team-a=team-a/**']), field: 'spec.trust.namespaceProjects' },
  {
    story: 'namespaceProjects rule without namespaceSelector',
    spec: withRules([{ projects: ['team-a/**'] }]),
    field: 'spec.trust.namespaceProjects[0].namespaceSelector',
  },
  {
    story: 'namespaceProjects rule without projects',
    spec: withRules([TEAM_A_RULE, { namespaceSelector: {} }]),
    field: 'spec.trust.namespaceProjects[1].projects',
  },
  {
    story: 'namespaceProjects rule with an empty projects list',
    spec: withRules([{ ...TEAM_A_RULE, projects: [] }]),
    field: 'spec.trust.namespaceProjects[0].projects',
  },
  {
    story: 'namespaceProjects rule with an invalid pattern',
    spec: withRules([TEAM_A_RULE, { namespaceSelector: {}, projects: ['shared/*', 'team-b//app'] }]),
    field: 'spec.trust.namespaceProjects[1].projects[1]',
  },
  {
    story: 'namespaceProjects rule with 101 patterns',
    spec: withRules([{ ...TEAM_A_RULE, projects: Array.from({ length: 101 }, (_, i) => `team-${i}/*`) }]),
    field: 'spec.trust.namespaceProjects[0].projects',
  },
  {
    story: 'namespaceProjects rule selector is a string',
    spec: withRules([{ ...TEAM_A_RULE, namespaceSelector: 'tenant=a' }]),
    field: 'spec.trust.namespaceProjects[0].namespaceSelector',
  },
  {
    story: 'namespaceProjects rule selector with a bad label value',
    spec: withRules([{ ...TEAM_A_RULE, namespaceSelector: { matchLabels: { tenant: 'team a' } } }]),
    field: 'spec.trust.namespaceProjects[0].namespaceSelector.matchLabels',
  },
  {
    story: 'namespaceProjects rule selector In with no values',
    spec: withRules([{ ...TEAM_A_RULE, namespaceSelector: { matchExpressions: [{ key: 'tenant', operator: 'In' }] } }]),
    field: 'spec.trust.namespaceProjects[0].namespaceSelector.matchExpressions[0].values',
  },
  {
    story: 'namespaceProjects rule selector operator not supported',
    spec: withRules([{ ...TEAM_A_RULE, namespaceSelector: { matchExpressions: [{ key: 'tenant', operator: 'Equals', values: ['a'] }] } }]),
    field: 'spec.trust.namespaceProjects[0].namespaceSelector.matchExpressions[0].operator',
  },
  {
    story: 'namespaceProjects with 33 rules',
    spec: withRules(Array.from({ length: 33 }, () => TEAM_A_RULE)),
    field: 'spec.trust.namespaceProjects',
  },

  // --- spec.webhook -------------------------------------------------------------------------------
  { story: 'webhook missing', spec: { gitlab: validMinimalSpec()['gitlab']! }, field: 'spec.webhook' },
  { story: 'webhook is a string', spec: { ...validMinimalSpec(), webhook: 'gitlab-webhook-token' }, field: 'spec.webhook' },
  { story: 'webhook.secretRef missing', spec: { ...validMinimalSpec(), webhook: {} }, field: 'spec.webhook.secretRef' },
  { story: 'secretRef name missing', spec: withSecretRef({ namespace: 'gitlab-flux-link-system' }), field: 'spec.webhook.secretRef.name' },
  {
    story: 'secretRef namespace missing',
    spec: withSecretRef({ name: 'gitlab-webhook-token' }),
    field: 'spec.webhook.secretRef.namespace',
  },
  {
    story: 'secretRef name with upper case and underscore',
    spec: withSecretRef({ namespace: 'gitlab-flux-link-system', name: 'Gitlab_Token' }),
    field: 'spec.webhook.secretRef.name',
  },
  {
    story: 'secretRef name longer than 253 characters',
    spec: withSecretRef({ namespace: 'gitlab-flux-link-system', name: 'a'.repeat(254) }),
    field: 'spec.webhook.secretRef.name',
  },
  {
    story: 'secretRef namespace with a dot',
    spec: withSecretRef({ namespace: 'gitlab.system', name: 'token' }),
    field: 'spec.webhook.secretRef.namespace',
  },
  {
    story: 'secretRef namespace longer than 63 characters',
    spec: withSecretRef({ namespace: 'a'.repeat(64), name: 'token' }),
    field: 'spec.webhook.secretRef.namespace',
  },
  {
    story: 'secretRef key with a slash',
    spec: withSecretRef({ namespace: 'gitlab-flux-link-system', name: 'gitlab-webhook-token', key: 'to/ken' }),
    field: 'spec.webhook.secretRef.key',
  },
  {
    story: 'secretRef key empty',
    spec: withSecretRef({ namespace: 'gitlab-flux-link-system', name: 'gitlab-webhook-token', key: '' }),
    field: 'spec.webhook.secretRef.key',
  },
  {
    story: 'signingSecretRef with an invalid name',
    spec: {
      ...validMinimalSpec(),
      webhook: {
        secretRef: { namespace: 'gitlab-flux-link-system', name: 'gitlab-webhook-token' },
        signingSecretRef: { namespace: 'gitlab-flux-link-system', name: 'Signing Key' },
      },
    },
    field: 'spec.webhook.signingSecretRef.name',
  },
  {
    story: 'signingSecretRef without namespace',
    spec: {
      ...validMinimalSpec(),
      webhook: {
        secretRef: { namespace: 'gitlab-flux-link-system', name: 'gitlab-webhook-token' },
        signingSecretRef: { name: 'gitlab-signing-key' },
      },
    },
    field: 'spec.webhook.signingSecretRef.namespace',
  },

  // --- spec.gitlab.api and spec.webhook.url --------------------------------------------------------
  { story: 'gitlab.api is a string', spec: withApi('gitlab-api-token'), field: 'spec.gitlab.api' },
  { story: 'gitlab.api without tokenSecretRef', spec: withApi({ requestsPerMinute: 100 }), field: 'spec.gitlab.api.tokenSecretRef' },
  {
    story: 'gitlab.api.tokenSecretRef with an invalid name',
    spec: withApi({ tokenSecretRef: { namespace: 'gitlab-flux-link-system', name: 'GitLab Token' } }),
    field: 'spec.gitlab.api.tokenSecretRef.name',
  },
  {
    story: 'gitlab.api.caSecretRef without namespace',
    spec: withApi({ tokenSecretRef: TOKEN_REF, caSecretRef: { name: 'gitlab-ca' } }),
    field: 'spec.gitlab.api.caSecretRef.namespace',
  },
  {
    story: 'gitlab.api.requestsPerMinute is 0',
    spec: withApi({ tokenSecretRef: TOKEN_REF, requestsPerMinute: 0 }),
    field: 'spec.gitlab.api.requestsPerMinute',
  },
  {
    story: "gitlab.api.requestsPerMinute above GitLab.com's 2,000",
    spec: withApi({ tokenSecretRef: TOKEN_REF, requestsPerMinute: 2001 }),
    field: 'spec.gitlab.api.requestsPerMinute',
  },
  {
    story: 'gitlab.api.requestsPerMinute is a string',
    spec: withApi({ tokenSecretRef: TOKEN_REF, requestsPerMinute: '300' }),
    field: 'spec.gitlab.api.requestsPerMinute',
  },
  {
    story: 'gitlab.api.sweepInterval under a minute',
    spec: withApi({ tokenSecretRef: TOKEN_REF, sweepInterval: '30s' }),
    field: 'spec.gitlab.api.sweepInterval',
  },
  {
    story: 'gitlab.api.groupHooks names a pattern, not a group',
    spec: withApi({ tokenSecretRef: TOKEN_REF, groupHooks: ['platform/*'] }),
    field: 'spec.gitlab.api.groupHooks[0]',
  },
  {
    story: 'gitlab.api.groupHooks names a group twice',
    spec: withApi({ tokenSecretRef: TOKEN_REF, groupHooks: ['platform', 'platform'] }),
    field: 'spec.gitlab.api.groupHooks[1]',
  },
  {
    story: 'gitlab.api.groupHooks is a string',
    spec: withApi({ tokenSecretRef: TOKEN_REF, groupHooks: 'platform' }),
    field: 'spec.gitlab.api.groupHooks',
  },
  {
    story: 'gitlab.api.sweepInterval over a day',
    spec: withApi({ tokenSecretRef: TOKEN_REF, sweepInterval: '25h' }),
    field: 'spec.gitlab.api.sweepInterval',
  },
  {
    story: 'gitlab.api.sweepInterval is not a duration',
    spec: withApi({ tokenSecretRef: TOKEN_REF, sweepInterval: '5 minutes' }),
    field: 'spec.gitlab.api.sweepInterval',
  },
  {
    story: 'gitlab.api.sweepInterval is a number',
    spec: withApi({ tokenSecretRef: TOKEN_REF, sweepInterval: 300 }),
    field: 'spec.gitlab.api.sweepInterval',
  },
  {
    story: 'webhook.url without gitlab.api',
    spec: { ...validMinimalSpec(), webhook: { ...(validMinimalSpec()['webhook'] as Obj), url: 'https://hooks.example.com/hooks/x' } },
    field: 'spec.webhook.url',
  },
  { story: 'webhook.url with a query', spec: withWebhookURL('https://hooks.example.com/hooks/x?a=b'), field: 'spec.webhook.url' },
  { story: 'webhook.url with a fragment', spec: withWebhookURL('https://hooks.example.com/hooks/x#a'), field: 'spec.webhook.url' },
  { story: 'webhook.url uses ftp', spec: withWebhookURL('ftp://hooks.example.com/hooks/x'), field: 'spec.webhook.url' },
  { story: 'webhook.url with user-info', spec: withWebhookURL('https://u:p@hooks.example.com/hooks/x'), field: 'spec.webhook.url' },
  {
    story: "webhook.url not ending in /hooks/<the link's name>",
    spec: withWebhookURL('https://hooks.example.com/hooks/another-link'),
    field: 'spec.webhook.url',
  },

  // --- spec.suspend -------------------------------------------------------------------------------
  { story: 'suspend is a string', spec: { ...validMinimalSpec(), suspend: 'true' }, field: 'spec.suspend' },
  { story: 'suspend is a number', spec: { ...validMinimalSpec(), suspend: 1 }, field: 'spec.suspend' },
];
