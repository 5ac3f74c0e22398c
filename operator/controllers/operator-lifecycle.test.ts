import { expect } from 'chai';
import { spawn } from 'node:child_process';

/**
 * Why the operator neither uses the framework's watch nor calls its stop(): with a watch open, @dot-i/k8s-operator's
 * stop() aborts the request, its own done-callback receives the abort as an error, logs "watch ... failed"
 * and calls process.exit(1) — a SIGTERM then ended the operator with 1 before the drain (seen in
 * e2e/suites/operate.e2e.ts). Run in a child process against a loopback server that holds a watch open;
 * if a framework upgrade changes this, this test says so and ADR 0006 can be revisited.
 */
const CHILD = `
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import framework from '@dot-i/k8s-operator';
const server = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.write(''); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-framework-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
process.env.KUBECONFIG = path.join(dir, 'kubeconfig');
fs.writeFileSync(process.env.KUBECONFIG, [
  'apiVersion: v1', 'kind: Config',
  'clusters: [{name: c, cluster: {server: "http://127.0.0.1:' + server.address().port + '"}}]',
  'users: [{name: u, user: {token: x}}]',
  'contexts: [{name: c, context: {cluster: c, user: u}}]', 'current-context: c', ''].join('\\n'));
class Watcher extends framework.default {
  async init() { await this.watchResource('fluxlink.dev', 'v1alpha1', 'gitlabfluxlinks', async () => {}); }
}
const quiet = () => {};
const w = new Watcher({ debug: quiet, info: quiet, warn: quiet, error: (m) => console.log(m.split(':')[0]) });
await w.start();
await new Promise((r) => setTimeout(r, 500)); // an established watch, as in a running operator
w.stop();
setTimeout(() => { console.log('still running'); process.exit(0); }, 2000);
`;

describe('operator-lifecycle: the framework watch and shutdown', () => {
  it("@dot-i/k8s-operator's stop() on an open watch exits the process with 1 (so stop() must not call it)", async function () {
    this.timeout(15_000);
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, out: out.trim() }).to.deep.equal({ code: 1, out: 'watch on resource gitlabfluxlinks.fluxlink.dev/v1alpha1 failed' });
  });
});
