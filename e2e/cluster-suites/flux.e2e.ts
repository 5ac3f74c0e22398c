import { expect } from 'chai';
import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';

import { FLUX_CONTROLLERS, FLUX_NAMESPACE, installFlux, type InstalledFlux } from '../cluster/flux.js';
import { podLogs, writeFailureReport } from '../cluster/failure-report.js';
import { type GitServerForPods, startGitServerForPods } from '../cluster/git-for-pods.js';
import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';
import { OPERATOR_DEPLOYMENT, OPERATOR_NAMESPACE, operatorKustomization, pushOperatorImage } from '../cluster/operator.js';
import { pushCommit } from '../gitlab/git-server.js';
import { eventually } from '../support/kube.js';
import { repoRoot } from '../testenv/paths.js';

/** Every file under a folder of this repository, by its path from the repository's root. */
function treeFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(path.join(repoRoot, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files[path.relative(repoRoot, file)] = fs.readFileSync(file, 'utf8');
  }
  return files;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/**
 * Flux as users install it, on the cluster tier's real node: the three controllers this project needs run as Pods
 * from Flux's own manifests (images built here from the fast tier's binaries), source-controller clones from the
 * git server through the link into the node, and kustomize-controller installs the operator from Git.
 */
describe('cluster tier: Flux installed from its own manifests', function () {
  let hostBefore: HostState;
  let cluster: StartedCluster | undefined;
  let flux: InstalledFlux | undefined;
  let server: GitServerForPods | undefined;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node set and the images first
    hostBefore = await hostState();
    cluster = await clusterProvider().start();
    flux = await installFlux(cluster);
    server = await startGitServerForPods(cluster);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && cluster) {
      await writeFailureReport(cluster, 40, [
        podLogs(FLUX_NAMESPACE, 'app in (source-controller,notification-controller,kustomize-controller)'),
      ]);
    }
  });

  after(async function () {
    this.timeout(180_000);
    await server?.stop();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster.kubectl(args, input);
  };
  const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;

  it('runs source-, notification- and kustomize-controller as Pods from Flux manifests, images from the node registry', async function () {
    this.timeout(120_000);
    expect(flux, 'Flux was not installed').to.not.equal(undefined);
    for (const c of FLUX_CONTROLLERS) {
      const d = await getJson<{
        status: { availableReplicas?: number; conditions?: Condition[] };
        spec: {
          template: {
            spec: { containers: { image: string; securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean } }[] };
          };
        };
      }>(['-n', FLUX_NAMESPACE, 'deployment', c]);
      expect(d.status.availableReplicas, c).to.equal(1);
      expect(d.status.conditions?.find((x) => x.type === 'Available')?.status, c).to.equal('True');
      const container = d.spec.template.spec.containers[0];
      expect(container.image, c).to.equal(flux!.images[c]);
      // Flux's own hardening is kept: the images run as a non-root user on a read-only root.
      expect(container.securityContext, c).to.include({ runAsNonRoot: true, readOnlyRootFilesystem: true });

      const pods = await getJson<{ items: { status: { phase: string; containerStatuses: { ready: boolean; imageID: string }[] } }[] }>([
        '-n',
        FLUX_NAMESPACE,
        'pods',
        '-l',
        `app=${c}`,
      ]);
      expect(pods.items, c).to.have.length(1);
      expect(pods.items[0].status.containerStatuses[0].ready, c).to.equal(true);
      expect(pods.items[0].status.containerStatuses[0].imageID, c).to.match(
        new RegExp(`^${cluster!.registry.pull.replace(/\./g, '\\.')}/gfl/${c}@sha256:[0-9a-f]{64}$`),
      );
    }
    // The Service every GitLabFluxLink's default endpoint names, with notification-controller behind it.
    const endpoints = await getJson<{ subsets?: { addresses?: { ip: string }[]; ports: { port: number }[] }[] }>([
      '-n',
      FLUX_NAMESPACE,
      'endpoints',
      'webhook-receiver',
    ]);
    expect(endpoints.subsets?.[0]?.addresses?.[0]?.ip).to.match(/^10\.231\.64\.\d+$/);
    expect(endpoints.subsets?.[0]?.ports[0].port).to.equal(9292);
    const mb = (c: (typeof FLUX_CONTROLLERS)[number]) => `${c} ${(flux!.imageSizes[c] / 1e6).toFixed(0)} MB`;
    console.log(`      images: ${FLUX_CONTROLLERS.map(mb).join(', ')}; install to Available: ${flux!.installSeconds.toFixed(1)} s`);
  });

  it('source-controller clones from the git server through the link into the node: the artifact is the pushed commit', async function () {
    this.timeout(180_000);
    const git = server!.git;
    const project = 'flux/smoke/app';
    await git.createProject(project);
    const { sha } = await pushCommit(git, project, { files: { 'app.txt': 'one' } });
    expect(git.baseURL.startsWith(`http://${server!.link.hostAddress}:`), git.baseURL).to.equal(true);
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'smoke', namespace: FLUX_NAMESPACE },
        spec: { url: `${git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
      }),
    );
    const revision = await eventually(
      'GitRepository smoke Ready with an artifact',
      async () => {
        const r = await getJson<{ status?: { conditions?: Condition[]; artifact?: { revision: string; url: string } } }>([
          '-n',
          FLUX_NAMESPACE,
          'gitrepository',
          'smoke',
        ]);
        const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready?.status === 'False' && ready.reason !== 'Progressing') throw new Error(`${ready.reason}: ${ready.message}`);
        return ready?.status === 'True' ? r.status?.artifact : undefined;
      },
      120_000,
      500,
    );
    expect(revision.revision).to.equal(`main@sha1:${sha}`);
    // Advertised at the Service's name, the way kustomize-controller fetches it.
    expect(revision.url).to.match(/^http:\/\/source-controller\.flux-system\.svc\.cluster\.local\.\//);
  });

  it('kustomize-controller installs the operator from Git as config/flux does (wait: true): the Kustomization Ready, the Deployment Available', async function () {
    this.timeout(420_000);
    const git = server!.git;
    // The repository a user points Flux at: this project's crds/ and config/ as they are, and an overlay of the
    // user's own that names the image they run (op's operatorKustomization, with config/default as its resource),
    // under config/ because the shipped GitRepository's `ignore` keeps only crds/ and config/.
    const project = 'platform/gitlab-flux-link';
    await git.createProject(project);
    const image = await pushOperatorImage(cluster!, `flux-e2e-${process.pid}`);
    const files = { ...treeFiles('crds'), ...treeFiles('config') };
    files['config/e2e-cluster/kustomization.yaml'] = operatorKustomization({ base: '../default', image });
    const { sha } = await pushCommit(git, project, { files, tag: 'v0.1.0', message: 'gitlab-flux-link for the cluster tier' });

    // config/flux/gitlab-flux-link.yaml as shipped, with the two fields its comment tells users to set: the
    // repository's URL and, since the image is the user's own, the overlay's path.
    const shipped = yaml.loadAll(fs.readFileSync(path.join(repoRoot, 'config/flux/gitlab-flux-link.yaml'), 'utf8')) as {
      kind: string;
      spec: Record<string, unknown>;
    }[];
    for (const doc of shipped) {
      if (doc.kind === 'GitRepository') doc.spec.url = `${git.baseURL}/${project}.git`;
      if (doc.kind === 'Kustomization') {
        expect(doc.spec.wait, 'config/flux waits for what it applies').to.equal(true);
        doc.spec.path = './config/e2e-cluster';
      }
    }
    const t0 = Date.now();
    await kubectl(['apply', '-f', '-'], shipped.map((d) => JSON.stringify(d)).join('\n'));
    const status = await eventually(
      'Kustomization gitlab-flux-link Ready',
      async () => {
        const k = await getJson<{ status?: { conditions?: Condition[]; lastAppliedRevision?: string } }>([
          '-n',
          FLUX_NAMESPACE,
          'kustomization',
          'gitlab-flux-link',
        ]);
        const ready = k.status?.conditions?.find((c) => c.type === 'Ready');
        // Not Ready yet: the condition is what a timeout reports.
        if (ready?.status !== 'True') throw new Error(`Ready ${ready?.status}: ${ready?.reason} ${ready?.message}`);
        return ready?.status === 'True' ? k.status : undefined;
      },
      360_000,
      500,
    );
    const seconds = (Date.now() - t0) / 1000;
    expect(status.lastAppliedRevision).to.equal(`v0.1.0@sha1:${sha}`);
    // wait: true: Ready only once the Deployment it applied is Available, with the image the overlay names.
    const d = await getJson<{
      status: { availableReplicas?: number; conditions?: Condition[] };
      spec: { template: { spec: { containers: { name: string; image: string }[] } } };
    }>(['-n', OPERATOR_NAMESPACE, 'deployment', OPERATOR_DEPLOYMENT]);
    expect(d.status.conditions?.find((c) => c.type === 'Available')?.status).to.equal('True');
    expect(d.spec.template.spec.containers.find((c) => c.name === 'manager')?.image).to.equal(image);
    const inventory = await kubectl([
      '-n',
      FLUX_NAMESPACE,
      'get',
      'kustomization',
      'gitlab-flux-link',
      '-o',
      'jsonpath={.status.inventory.entries[*].id}',
    ]);
    expect(inventory).to.include(`${OPERATOR_NAMESPACE}_${OPERATOR_DEPLOYMENT}_apps_Deployment`);
    console.log(`      operator installed from Git by kustomize-controller: apply to Ready in ${seconds.toFixed(1)} s`);
  });

  it('leaves the host as it found it once stopped (containers, pushed tags, links, firewall, namespaces, temporary files)', async function () {
    this.timeout(180_000);
    expect(cluster, 'the cluster did not start').to.not.equal(undefined);
    await server?.stop();
    await cluster!.stop();
    const diff = hostStateDiff(hostBefore, await hostState());
    expect(diff, diff.join('\n')).to.deep.equal([]);
  });
});
