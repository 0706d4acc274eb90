/**
 * `fabric plan` through the built CLI (dist/, made by `npx tsc -p tsconfig.json`, as `npm test` does):
 * JSON of every switch, ofctl text of one switch accepted by real OVS as is, --at, and bad input.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mgmt, PrivateOvs, startPrivateOvs } from '../support/ovs';
import { createBridge, loadState, SCENARIO_DIR } from './support';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'fabric.js');

function fabric(...args: string[]) {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'plan.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  const r = spawnSync('node', [BIN, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fabric plan', () => {
  const file = path.join(SCENARIO_DIR, 'pod-move.yaml');

  it('prints every switch as JSON, bigints as hex strings', () => {
    const r = fabric('plan', file, '--format', 'json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json.switches).sort()).toEqual([...loadState(file).switches.keys()].sort());
    const flow = json.switches.node1.flows[0];
    expect(flow.cookie).toMatch(/^0xfab1/);
    expect(typeof flow.ofctl).toBe('string');
  });

  it('--at applies the events up to that time (the moved pod has its /32 on the fabric)', () => {
    const state = loadState(file);
    const moved = state.pods.get('db-1')!;
    const before = fabric('plan', file, '--switch', 'spine1', '--format', 'ofctl').stdout;
    const after = fabric('plan', file, '--switch', 'spine1', '--format', 'ofctl', '--at', '3s').stdout;
    expect(before).not.toContain(`nw_dst=${moved.ip} `);
    expect(after).toContain(`nw_dst=${moved.ip} `);
  });

  it('refuses bad input with exit 2 and a one-line message', () => {
    for (const args of [
      ['plan', file, '--format', 'ofctl'],
      ['plan', file, '--format', 'yaml'],
      ['plan', file, '--switch', 'nope', '--format', 'ofctl'],
      ['plan', file, '--at', 'soon'],
      ['plan', path.join(SCENARIO_DIR, 'missing.yaml')],
    ]) {
      const r = fabric(...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  describe('ofctl output into real OVS', () => {
    let ovs: PrivateOvs;
    beforeAll(async () => {
      ovs = await startPrivateOvs({ vswitchd: 'dummy' });
    });
    afterAll(async () => {
      await ovs?.stop();
    });

    it('groups, meters and flows of a node switch load as printed', () => {
      const egress = path.join(SCENARIO_DIR, 'egress-heavy.yaml');
      const state = loadState(egress);
      const node = [...state.nodes.keys()][0];
      createBridge(ovs, state.switches.get(node)!, 'br0');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-cli-'));
      const target = mgmt(ovs, 'br0');
      const groups = fabric('plan', egress, '--switch', node, '--format', 'ofctl', '--kind', 'groups');
      fs.writeFileSync(path.join(dir, 'groups'), groups.stdout);
      const meters = fabric('plan', egress, '--switch', node, '--format', 'ofctl', '--kind', 'meters');
      for (const line of meters.stdout.split('\n').filter(Boolean)) ovs.ofctl('-O', 'OpenFlow13', 'add-meter', target, line);
      if (groups.stdout) ovs.ofctl('-O', 'OpenFlow13', 'add-groups', target, path.join(dir, 'groups'));
      const flows = fabric('plan', egress, '--switch', node, '--format', 'ofctl');
      fs.writeFileSync(path.join(dir, 'flows'), flows.stdout);
      ovs.ofctl('-O', 'OpenFlow13', 'add-flows', target, path.join(dir, 'flows'));
      expect(ovs.ofctl('-O', 'OpenFlow13', 'diff-flows', target, path.join(dir, 'flows'))).toBe('');
      expect(flows.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(20);
    });
  });
});
