import { startTestEnv, type TestEnv } from './testenv/index.js';
import { containerPrefix } from './support/operator.js';
import { containersLeft, operatorImage } from './support/operator-container.js';
import { runningProcesses, tail } from './testenv/processes.js';

/**
 * Mocha root hooks for the e2e suites: one test ground for the whole run (starting a control plane takes
 * tens of seconds on 2 cores), stopped at the end whatever happened, and the tail of every component's log
 * printed when a test fails.
 */
let env: TestEnv | undefined;
let starting: Promise<TestEnv> | undefined;

export function testEnv(): Promise<TestEnv> {
  starting ??= startTestEnv().then((e) => (env = e));
  return starting;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(300_000);
    await testEnv();
  },
  afterEach(this: Mocha.Context) {
    if (this.currentTest?.state !== 'failed' || !env) return;
    const lines = Number(process.env.E2E_LOG_TAIL ?? 30);
    for (const proc of runningProcesses()) {
      process.stderr.write(`\n----- last ${lines} lines of ${proc.logFile} -----\n${tail(proc.logFile, lines)}\n`);
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await env?.stop();
    const left = runningProcesses();
    if (left.length) throw new Error(`processes outlived the test ground: ${left.map((p) => `${p.name}(${p.pid})`).join(', ')}`);
    const containers = operatorImage() ? containersLeft(containerPrefix()) : [];
    if (containers.length) throw new Error(`operator containers outlived the run: ${containers.join(', ')}`);
  },
};
