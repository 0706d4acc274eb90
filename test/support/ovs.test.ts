import { startPrivateOvs, mgmt } from './ovs';

describe('private OVS for tests', () => {
  it('starts ovsdb-server and a dummy vswitchd, takes a flow, and stops', async () => {
    const ovs = await startPrivateOvs({ vswitchd: 'dummy' });
    try {
      ovs.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'protocols=OpenFlow13');
      ovs.ofctl('-O', 'OpenFlow13', 'add-flow', mgmt(ovs, 'br0'), 'table=0,priority=10,ip,nw_dst=10.1.0.0/24,actions=drop');
      const flows = ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', mgmt(ovs, 'br0'));
      expect(flows).toContain('nw_dst=10.1.0.0/24');
    } finally {
      await ovs.stop();
    }
  });
});
