import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { testEnv } from '../hooks.js';
import { OPERATOR_NAMESPACE, OPERATOR_SA } from '../support/operator.js';
import {
  type AuditedRequest,
  compareGrants,
  describeGrant,
  describeRequest,
  type Exception,
  forbiddenRequests,
  grantsTo,
  kustomizeDocs,
  manifestDocs,
  parseAuditLog,
  requestsOf,
  serviceAccountUser,
  serviceProxyNames,
  serviceProxyProblems,
  usedAccess,
  usesGrant,
} from '../support/rbac-audit.js';
import { apiServerRestartWindows } from '../support/restarts.js';
import { repoRoot } from '../testenv/paths.js';

/**
 * Granted verbs the suites may leave unused, each with the reason. Keep this list short: a grant nobody
 * uses is a privilege to remove from config/rbac, not an entry to add here.
 */
const EXCEPTIONS: Exception[] = [
  // LinkController.applyOne reads a Receiver back only when its create answers AlreadyExists, to tell an
  // object of someone else (reported on the link, never overwritten) from its own cache being behind. The
  // Secret of the same GitRepository is created first and already stops the pair when its name is taken, so
  // only a Receiver taken while its Secret is free (or a create racing the watch) reaches this read.
  { access: 'get notification.toolkit.fluxcd.io/receivers', why: 'read back only after a Receiver create answers AlreadyExists' },
];

const rbacDir = path.join(repoRoot, 'config/rbac');
const reader = { readFile: (f: string) => fs.readFileSync(f, 'utf8'), isDirectory: (f: string) => fs.statSync(f).isDirectory() };

/**
 * Runs after the other suites (file order), on the same test ground: kube-apiserver has audited every request
 * the operator's ServiceAccount made during the run (every suite starts its operators as that identity,
 * with config/rbac). From that log: nothing the operator tried was refused, and config/rbac grants nothing
 * the operator did not use.
 */
describe("least privilege: the operator's requests (kube-apiserver audit log) against config/rbac", () => {
  const user = serviceAccountUser(OPERATOR_NAMESPACE, OPERATOR_SA);
  let audited: AuditedRequest[] | undefined;

  async function requests(): Promise<AuditedRequest[]> {
    if (audited) return audited;
    const env = await testEnv();
    const file = env.cluster.auditLog;
    if (!file)
      throw new Error(
        `the ${env.cluster.provider} cluster provider gives no kube-apiserver audit log; this suite needs the local test ground (unset E2E_KUBECONFIG)`,
      );
    if (!fs.existsSync(file)) throw new Error(`no audit log at ${file}: kube-apiserver was started without it`);
    // One file: the API server is started with a size bound no run reaches. Rotated files, should there
    // ever be any, are read too, so no request is missed.
    const dir = path.dirname(file);
    const rotated = fs
      .readdirSync(dir)
      .filter((f) => f.startsWith(path.basename(file, '.log') + '-') && f.endsWith('.log'))
      .map((f) => path.join(dir, f));
    const events = [...rotated, file].flatMap((f) => parseAuditLog(fs.readFileSync(f, 'utf8')));
    const mine = requestsOf(events, user);
    if (mine.length === 0)
      throw new Error(
        `the audit log has no request by ${user}: this suite checks what the other suites made the operator do, so run the whole e2e tier, not this file alone`,
      );
    audited = mine;
    return mine;
  }

  it('every request the operator made was allowed (no 403)', async () => {
    const rs = await requests();
    const excused = apiServerRestartWindows();
    const refused = forbiddenRequests(rs, excused).map(describeRequest);
    const duringRestarts = forbiddenRequests(rs).length - refused.length;
    if (duringRestarts)
      console.log(
        `      ${duringRestarts} requests refused while a restarted kube-apiserver had not loaded RBAC yet (outage suite), not counted`,
      );
    expect(refused, `requests of ${user} refused by the API server:\n  ${refused.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('config/rbac grants the operator nothing it did not use (each granted verb used at least once)', async () => {
    const rs = await requests();
    const { grants, problems } = grantsTo(kustomizeDocs(rbacDir, reader), { namespace: OPERATOR_NAMESPACE, name: OPERATOR_SA });
    expect(problems, 'config/rbac cannot be checked').to.deep.equal([]);
    expect(grants.length, 'grants to the operator found in config/rbac').to.be.greaterThan(0);
    const c = compareGrants(grants, rs, EXCEPTIONS);

    console.log(`      ${rs.length} requests by the operator; used: ${usedAccess(rs).join(', ')}`);
    console.log(`      granted and used: ${c.used.length}/${grants.length}`);
    for (const e of c.excepted) console.log(`      granted, unused, excepted: ${describeGrant(e.grant)}: ${e.why}`);
    for (const e of c.staleExceptions) console.log(`      exception that excused nothing this run (used after all?): ${e.access}`);
    const elsewhere = rs.filter((r) => !grants.some((g) => usesGrant(r, g)));
    if (elsewhere.length) console.log(`      allowed by RBAC the suites added themselves: ${usedAccess(elsewhere).join(', ')}`);

    const unused = c.unused.map(describeGrant);
    expect(
      unused,
      `granted by config/rbac but never used in this run; remove the grant, or add a case that uses it, or list it in EXCEPTIONS with the reason:\n  ${unused.join('\n  ')}\n`,
    ).to.deep.equal([]);
  });

  it('config/rbac/optional/service-proxy.yaml grants the service proxy for named Services only, in the name forms the operator uses', async () => {
    const file = path.join(rbacDir, 'optional/service-proxy.yaml');
    const docs = manifestDocs(fs.readFileSync(file, 'utf8'), file);
    const { problems, rules } = serviceProxyProblems(docs);
    expect(rules, `${file}: rules granting services/proxy`).to.be.greaterThan(0);
    expect(problems, file).to.deep.equal([]);
    // The push suite's service-proxy case grants this pattern in a namespace of its own, for a Service of
    // the same name: the name the operator's requests carried there (service[:port]) must be one the
    // shipped pattern lists, or the pattern would not let the operator through.
    const proxied = (await requests()).filter((r) => r.resource === 'services/proxy');
    expect(proxied.length, 'requests through the service proxy in this run (push suite)').to.be.greaterThan(0);
    const names = serviceProxyNames(docs);
    for (const r of proxied) {
      expect(r.verb, describeRequest(r)).to.equal('create');
      expect(names, `${describeRequest(r)}: not among the resourceNames of ${file}`).to.include(r.name);
    }
  });
});
