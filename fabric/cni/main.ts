/**
 * The plugin's own entry point (`node dist/fabric/cni/main.js`): the same as `fabric cni` without
 * loading the rest of the command line, for a launcher that wants the shortest start.
 */
import { cniMain } from './plugin';

if (require.main === module) {
  cniMain().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 5, msg: err instanceof Error ? err.message : String(err) }) + '\n');
      process.exitCode = 1;
    },
  );
}
