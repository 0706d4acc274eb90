/**
 * jest globalSetup: the suite's one provisioning step (test/setup/provision.sh), once per `npm test`,
 * before any test file runs. A missing package stops the whole run here with the command to run, rather
 * than as dozens of failures in the tiers that need it (each tier still has its own message).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

export default function globalSetup(): void {
  const script = path.join(__dirname, 'provision.sh');
  const r = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 1_800_000 });
  if (r.status !== 0) {
    throw new Error(`the test suite's provisioning step failed (${r.error?.message ?? `exit ${r.status}`}): see the lines above, or run bash ${path.relative(process.cwd(), script)}`);
  }
}
