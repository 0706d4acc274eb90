/**
 * Every shipped scenario on real OVS, compared with the simulator expectation by expectation (the
 * issue's CI rule: the lab and `fabric sim` must agree wherever the lab can measure). Overlay
 * scenarios run with one OVS per node and vxlan/geneve tunnels (programmed with ovs-ofctl).
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkNetnsPermitted, compareWithSim, formatComparison, loadScenario, scenarioLabTest, teardownLab } from '../../fabric/lab';
import { runScenario } from '../../sim/runner';

const DIR = path.join(__dirname, '..', '..', 'scenarios');
const ID = 'tship';
const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort() : [];

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});

afterAll(async () => {
  await teardownLab(ID);
});

test('there are shipped scenarios to play', () => {
  expect(files.length).toBeGreaterThan(0);
});

describe.each(files)('scenarios/%s', (file) => {
  const full = path.join(DIR, file);
  test('lab on real OVS agrees with fabric sim', async () => {
    const { scenario } = loadScenario(full);
    const lab = await scenarioLabTest(full, { id: ID });
    const comparison = compareWithSim(lab, runScenario(scenario));
    if (!comparison.agree) process.stdout.write(formatComparison(comparison));
    expect(comparison.rows.filter((r) => !r.agree).map((r) => `#${r.index} ${r.kind}: lab ${r.lab} (${r.labDetail}) / sim ${r.sim} (${r.simDetail})`)).toEqual([]);
    expect(lab.events.filter((e) => !e.ok)).toEqual([]);
  }, 180_000);
});
