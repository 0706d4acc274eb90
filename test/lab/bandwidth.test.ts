/**
 * `limited` measured on real OVS: iperf3 from a pod through the meter the controller installed
 * (scaled by BANDWIDTH_SCALE, restored afterwards). The check must discriminate: a claimed limit below
 * the meter fails, a pod without a meter fails. Root only; never skipped.
 */
import * as path from 'path';
import { checkNetnsPermitted, scenarioLabTest, teardownLab } from '../../fabric/lab';
import { BANDWIDTH_SCALE } from '../../fabric/lab/bandwidth';

const FIXTURE = path.join(__dirname, 'fixtures', 'limited.yaml');
const ID = 'tlabd';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});

afterAll(async () => {
  await teardownLab(ID);
});

test('limited: the pod meter holds iperf3 to egressGbps (scaled) within 10%', async () => {
  const report = await scenarioLabTest(FIXTURE, { id: ID });
  const [holds, tooLow, noMeter] = report.expectations;
  process.stdout.write(`limited: ${holds.detail}\n`);
  expect(holds).toMatchObject({ kind: 'limited', ok: true });
  expect(holds.skipped).toBeUndefined();
  expect(holds.value).toBeGreaterThan(0.5);
  expect(holds.value).toBeLessThanOrEqual(1.1);
  expect(holds.detail).toContain(`x${BANDWIDTH_SCALE}`);
  expect(tooLow).toMatchObject({ kind: 'limited', ok: false });
  // measured again at the meter's real rate: the first measurement restored the meter it scaled
  expect(tooLow.value).toBeGreaterThan(0.5);
  expect(tooLow.value).toBeLessThanOrEqual(1.1);
  expect(noMeter).toMatchObject({ kind: 'limited', ok: false, detail: expect.stringMatching(/no meter/) });
}, 60_000);
