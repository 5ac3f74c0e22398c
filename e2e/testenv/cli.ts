import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestEnv } from './index.js';
import { sleep } from './probe.js';
import { reapPidFile } from './processes.js';
import { alive, readState, stateDir, stateFile, type TestEnvState } from './state.js';

/**
 * Long-running test ground for people (`make testenv-up` / `make testenv-down`) and for `make run`:
 *   up      starts a background daemon, returns once everything is ready, writes .testenv/state.json
 *   down    stops the daemon and everything it started
 *   daemon  (internal) the background process itself
 */
const daemonLog = path.join(stateDir, 'daemon.log');

async function up(): Promise<void> {
  const existing = readState();
  if (existing && alive(existing.pid)) {
    console.log(`test ground already running (pid ${existing.pid}); state in ${stateFile}`);
    return;
  }
  fs.mkdirSync(stateDir, { recursive: true });
  fs.rmSync(stateFile, { force: true });
  const out = fs.openSync(daemonLog, 'w');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'daemon'], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const state = readState();
    if (state) {
      console.log(
        `test ground ready: kubeconfig ${state.kubeconfig}\n  git ${state.gitURL}\n  receiver ${state.receiverURL}\n  logs ${state.logDir}\n  state ${stateFile}`,
      );
      return;
    }
    if (child.exitCode !== null || !alive(child.pid!)) {
      throw new Error(`test ground daemon exited; see ${daemonLog}:\n${fs.readFileSync(daemonLog, 'utf8').slice(-3000)}`);
    }
    await sleep(500);
  }
  throw new Error(`test ground not ready after 300 s; see ${daemonLog}`);
}

async function down(): Promise<void> {
  const state = readState();
  if (state && alive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    for (let i = 0; i < 60 && alive(state.pid); i++) await sleep(500);
    if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  }
  // Whatever a killed daemon left behind.
  const reaped = state ? reapPidFile(path.join(state.logDir, 'pids')) : 0;
  fs.rmSync(stateFile, { force: true });
  console.log(state ? `test ground stopped${reaped ? ` (reaped ${reaped} leftover processes)` : ''}` : 'no test ground running');
}

async function daemon(): Promise<void> {
  const env = await startTestEnv({ logDir: path.join(stateDir, 'logs'), kustomizeController: process.env.TESTENV_KUSTOMIZE === '1' });
  const kubeconfig = path.join(stateDir, 'kubeconfig');
  fs.copyFileSync(env.cluster.kubeconfig, kubeconfig);
  fs.chmodSync(kubeconfig, 0o600);
  const state: TestEnvState = {
    pid: process.pid,
    kubeconfig,
    caCert: env.cluster.caCert,
    server: env.cluster.server,
    gitURL: env.git.baseURL,
    receiverURL: env.cluster.receiverURL,
    logDir: env.logDir,
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(stateFile + '.tmp', JSON.stringify(state, null, 2));
  fs.renameSync(stateFile + '.tmp', stateFile);
  const stop = async () => {
    await env.stop();
    fs.rmSync(kubeconfig, { force: true });
    process.exit(0);
  };
  // The handlers in processes.ts would exit at once; a daemon stops its components in order instead.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

const command = process.argv[2];
const commands: Record<string, () => Promise<void>> = { up, down, daemon };
if (!commands[command]) {
  console.error('usage: cli.js up|down');
  process.exit(2);
}
commands[command]().catch((err) => {
  console.error(String(err instanceof Error ? err.message : err));
  process.exit(1);
});
