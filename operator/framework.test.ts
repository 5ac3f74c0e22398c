import framework from '@dot-i/k8s-operator';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/**
 * @dot-i/k8s-operator 1.3.9 asks for @kubernetes/client-node ^0.20 (which drags `request`, tough-cookie 2,
 * form-data 2 and jsonpath-plus 7 into the image); package.json's `overrides` hand it the project's own 1.x
 * instead. The operator uses only the framework's lifecycle (constructor, start() → init(), stop(); see
 * LinkWatcher in main.ts), and this is what that path touches of client-node: KubeConfig.loadFromDefault()
 * and makeApiClient(CoreV1Api) in the constructor, nothing in start()/stop() without a watch. No cluster is
 * needed for any of it; the e2e suites run the same path against a real API server.
 */
describe('framework: @dot-i/k8s-operator on the project’s own @kubernetes/client-node', () => {
  const require = createRequire(import.meta.url);
  const frameworkRequire = createRequire(require.resolve('@dot-i/k8s-operator'));
  let dir: string;
  let savedKubeconfig: string | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-framework-'));
    savedKubeconfig = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      process.env.KUBECONFIG,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: not-a-real-token}}]',
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'current-context: c',
        '',
      ].join('\n'),
    );
  });
  after(() => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The LinkWatcher's shape: init() and stop() overridden, the rest the framework's. */
  class Probe extends framework.default {
    inits = 0;
    protected async init(): Promise<void> {
      this.inits++;
    }
    get config(): KubeConfig {
      return this.kubeConfig;
    }
    get coreApi(): CoreV1Api {
      return this.k8sApi;
    }
  }

  it('resolves to the one @kubernetes/client-node 1.x the project uses (no nested 0.x copy)', () => {
    expect(frameworkRequire.resolve('@kubernetes/client-node')).to.equal(require.resolve('@kubernetes/client-node'));
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('@kubernetes/client-node')), '../package.json'), 'utf8'));
    expect(pkg).to.include({ name: '@kubernetes/client-node' });
    expect(pkg.version).to.match(/^1\./);
  });

  it('constructs: the framework loads $KUBECONFIG with client-node 1.x classes, the same ones the project imports', () => {
    const probe = new Probe();
    expect(probe.config).to.be.instanceOf(KubeConfig);
    expect(probe.config.getCurrentCluster()?.server).to.equal('https://127.0.0.1:6443');
    expect(probe.config.getCurrentUser()?.name).to.equal('u');
    expect(probe.coreApi).to.be.instanceOf(CoreV1Api);
  });

  it('start() runs init() once; stop() with no framework watch returns and leaves the process running', async () => {
    const messages: string[] = [];
    const log = (m: string) => messages.push(m);
    const probe = new Probe({ debug: log, info: log, warn: log, error: log });
    await probe.start();
    expect(probe.inits).to.equal(1);
    const exit = process.exit;
    let exited: unknown;
    process.exit = ((code?: number) => {
      exited = code ?? 0;
    }) as typeof process.exit;
    try {
      probe.stop();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.exit = exit;
    }
    expect(exited, 'process.exit called by the framework').to.equal(undefined);
    expect(messages).to.deep.equal([]);
  });
});
