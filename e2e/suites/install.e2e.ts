import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, getJson } from '../support/kube.js';
import type { TestEnv } from '../testenv/index.js';
import { repoRoot } from '../testenv/paths.js';

/** Installing the operator: config/default with kubectl, and by Flux itself from Git (config/flux's pattern). */
describe('install: kustomize manifests and Flux managing the operator', function () {
  this.timeout(180_000);
  let env: TestEnv;
  before(async () => {
    env = await testEnv();
  });

  it('kubectl apply --server-side -k config/default is accepted by the real API server', async () => {
    const out = await env.cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', path.join(repoRoot, 'config/default')]);
    for (const kind of [
      'namespace/gitlab-flux-link-system',
      'customresourcedefinition.apiextensions.k8s.io/gitlabfluxlinks.fluxlink.dev',
      'clusterrole.rbac.authorization.k8s.io/gitlab-flux-link-manager',
      'deployment.apps/gitlab-flux-link',
      'service/gitlab-flux-link-webhook',
      'service/gitlab-flux-link-metrics',
    ]) {
      expect(out).to.include(kind);
    }
    const deployment = await getJson(env.cluster, 'deployment', 'gitlab-flux-link', '-n', 'gitlab-flux-link-system');
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).to.equal(true);
    expect(pod.containers[0].securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(pod.containers[0].readinessProbe.httpGet.path).to.equal('/readyz');
    // Two listeners: webhooks on `http` (WEBHOOK_PORT), /metrics and the probes on `metrics` (METRICS_PORT); each
    // Service leads to its own (docs/adr/0015-webhooks-on-their-own-port.md).
    const vars = Object.fromEntries(pod.containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    const ports = Object.fromEntries(pod.containers[0].ports.map((p: any) => [p.name, p.containerPort]));
    expect(ports).to.deep.equal({ http: Number(vars.WEBHOOK_PORT), metrics: Number(vars.METRICS_PORT) });
    expect(ports.http).to.not.equal(ports.metrics);
    expect([pod.containers[0].livenessProbe.httpGet.port, pod.containers[0].readinessProbe.httpGet.port]).to.deep.equal([
      'metrics',
      'metrics',
    ]);
    const targetPort = async (service: string) =>
      (await getJson(env.cluster, 'service', service, '-n', 'gitlab-flux-link-system')).spec.ports.map(
        (p: any) => `${p.name}->${p.targetPort}`,
      );
    expect(await targetPort('gitlab-flux-link-webhook')).to.deep.equal(['http->http']);
    expect(await targetPort('gitlab-flux-link-metrics')).to.deep.equal(['metrics->metrics']);
  });

  it('Flux kustomize-controller applies config/default from the git server and reports Ready', async function () {
    if (env.cluster.provider !== 'local') throw new Error('this case starts kustomize-controller: it needs the local provider');
    await env.cluster.startComponent('kustomize-controller');
    const project = 'platform/gitlab-flux-link';
    await env.git.createProject(project);
    const files: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else files[rel] = fs.readFileSync(path.join(repoRoot, rel), 'utf8');
      }
    };
    walk('crds');
    walk('config');
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files });
    await apply(env.cluster, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } }]);
    await apply(env.cluster, [
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'gitlab-flux-link', namespace: 'flux-system' },
        spec: { url: `${env.git.baseURL}/${project}.git`, interval: '10m', ref: { branch: 'main' } },
      },
      // wait: false here only because no kubelet runs the Deployment's pod; config/flux waits for health.
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'gitlab-flux-link', namespace: 'flux-system' },
        spec: {
          interval: '10m',
          sourceRef: { kind: 'GitRepository', name: 'gitlab-flux-link' },
          path: './config/default',
          prune: true,
          wait: false,
          timeout: '2m',
        },
      },
    ]);
    // Ready and the applied revision are read together: kustomize-controller may show Ready=True a moment
    // before status.lastAppliedRevision is in (seen once in a clean-clone run).
    const k = await eventually(
      `Kustomization Ready with main@sha1:${sha} applied`,
      async () => {
        const x = await getJson(env.cluster, 'kustomization', 'gitlab-flux-link', '-n', 'flux-system');
        return condition(x, 'Ready')?.status === 'True' && x.status.lastAppliedRevision === `main@sha1:${sha}` ? x : undefined;
      },
      120_000,
      500,
    );
    expect(k.status.lastAppliedRevision).to.equal(`main@sha1:${sha}`);
    const inventory = (k.status.inventory?.entries ?? []).map((e: { id: string }) => e.id);
    expect(inventory).to.include('gitlab-flux-link-system_gitlab-flux-link_apps_Deployment');
    expect(inventory).to.include('_gitlabfluxlinks.fluxlink.dev_apiextensions.k8s.io_CustomResourceDefinition');
    // Suspended, not deleted: deleting a pruning Kustomization would remove the CRD the other suites use.
    await env.cluster.kubectl([
      'patch',
      'kustomization',
      'gitlab-flux-link',
      '-n',
      'flux-system',
      '--type=merge',
      '-p',
      '{"spec":{"suspend":true}}',
    ]);
  });
});
