/**
 * topology/dns.ts: cluster DNS names, the search path, resolution as a pod's resolver does it, and
 * Kubernetes-style service environment variables (docs/discovery.md).
 */
import fc from 'fast-check';
import * as path from 'path';
import {
  applyEvent,
  buildClusterState,
  candidateNames,
  DnsError,
  dnsDomain,
  lookupName,
  parseScenarioFile,
  podFqdn,
  resolveName,
  searchPath,
  serviceEnv,
  serviceFqdn,
  type ClusterState,
  type PodState,
  type ServiceState,
} from '../../topology';
import { checkProperty } from './fc-seed';

const FIXTURE = path.join(__dirname, '..', 'fabric', 'fixtures', 'dns-cluster.yaml');

function fixtureState(): ClusterState {
  const r = parseScenarioFile(FIXTURE);
  if (!r.scenario) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return buildClusterState(r.scenario);
}

/** A hand-built state with only what discovery reads. */
function handState(services: Partial<ServiceState>[], pods: Partial<PodState>[] = [], domain?: string): ClusterState {
  const state = {
    scenario: 't',
    cluster: { mode: 'routed', encap: 'vxlan', podCidr: '10.244.0.0/16', nodeMaskLen: 24, serviceCidr: '10.96.0.0/16', isolation: false, allow: [], rebalance: [], ...(domain !== undefined ? { dns: { domain } } : {}) },
    switches: new Map(),
    nodes: new Map(),
    pods: new Map(),
    services: new Map(),
    externals: new Map(),
    links: new Map(),
  } as ClusterState;
  for (const s of services) state.services.set(s.name!, { port: 80, targetPort: 80, protocol: 'tcp', selector: {}, endpoints: [], vip: '10.96.0.2', ...s } as ServiceState);
  for (const p of pods) state.pods.set(p.name!, { node: 'node1', homeNode: 'node1', mac: '0a:58:00:00:00:00', labels: {}, hostPorts: [], ip: '10.244.0.2', ...p } as PodState);
  return state;
}

describe('names and the search path', () => {
  test('the domain: cluster.dns.domain, cluster.local by default, lower case without a trailing dot', () => {
    expect(dnsDomain(handState([]))).toBe('cluster.local');
    expect(dnsDomain(handState([], [], 'Corp.Example.'))).toBe('corp.example');
    expect(dnsDomain(fixtureState())).toBe('cluster.local');
  });

  test("searchPath is Kubernetes' resolv.conf search list", () => {
    expect(searchPath('default', 'cluster.local')).toEqual(['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
    expect(searchPath('data', 'k8s.internal')).toEqual(['data.svc.k8s.internal', 'svc.k8s.internal', 'k8s.internal']);
    expect(searchPath()).toEqual(['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  });

  test('candidate names follow ndots:5: short names searched first, absolute names only themselves', () => {
    expect(candidateNames('web', 'default', 'cluster.local')).toEqual(['web.default.svc.cluster.local', 'web.svc.cluster.local', 'web.cluster.local', 'web']);
    expect(candidateNames('web.default.svc.cluster.local.', 'default', 'cluster.local')).toEqual(['web.default.svc.cluster.local']);
    expect(candidateNames('a.b.c.d.e.f', 'default', 'cluster.local')[0]).toBe('a.b.c.d.e.f');
    expect(candidateNames('', 'default', 'cluster.local')).toEqual([]);
  });

  test('serviceFqdn and podFqdn', () => {
    const state = fixtureState();
    expect(serviceFqdn(state, 'web')).toBe('web.default.svc.cluster.local');
    expect(serviceFqdn(state, 'db')).toBe('db.data.svc.cluster.local');
    expect(serviceFqdn(state, 'nope')).toBeUndefined();
    const ip = state.pods.get('web-1')!.ip;
    expect(podFqdn(state, 'web-1')).toBe(`${ip.replace(/\./g, '-')}.default.pod.cluster.local`);
  });
});

describe('resolveName', () => {
  const state = fixtureState();
  const web = state.services.get('web')!;
  const db = state.services.get('db')!;

  test('the full name of a service is its VIP, whatever the case, with or without the trailing dot', () => {
    for (const name of ['web.default.svc.cluster.local', 'web.default.svc.cluster.local.', 'WEB.Default.SVC.Cluster.Local']) {
      expect(resolveName(state, name)).toEqual({ kind: 'service', service: 'web', ip: web.vip });
    }
    expect(resolveName(state, 'dns.default.svc.cluster.local')).toEqual({ kind: 'service', service: 'dns', ip: '10.96.0.10' });
  });

  test('short names through the search path, in the namespace of the asker', () => {
    for (const name of ['web', 'web.default', 'web.default.svc']) expect(resolveName(state, name)?.ip).toBe(web.vip);
    expect(resolveName(state, 'db')).toBeUndefined(); // db is in namespace data
    expect(resolveName(state, 'db', { namespace: 'data' })).toEqual({ kind: 'service', service: 'db', ip: db.vip });
    expect(resolveName(state, 'db.data')?.ip).toBe(db.vip);
    expect(resolveName(state, 'web', { namespace: 'data' })).toBeUndefined();
    expect(resolveName(state, 'web.default', { namespace: 'data' })?.ip).toBe(web.vip);
  });

  test('NXDOMAIN: unknown names, the wrong namespace, names outside the domain, malformed names', () => {
    for (const name of ['nope', 'nope.default.svc.cluster.local', 'db.default.svc.cluster.local', 'x.web.default.svc.cluster.local', 'example.com', 'web.default.svc.other.local', 'web..default', '', '.', 'svc.cluster.local', 'default.svc.cluster.local', 'cluster.local']) {
      expect([name, resolveName(state, name)]).toEqual([name, undefined]);
    }
  });

  test('pod A records: a-b-c-d.<namespace>.pod.<domain> when a pod has that IP', () => {
    const pod = state.pods.get('db-1')!;
    const dashed = pod.ip.replace(/\./g, '-');
    expect(resolveName(state, `${dashed}.default.pod.cluster.local`)).toEqual({ kind: 'pod', pod: 'db-1', ip: pod.ip });
    expect(resolveName(state, `${dashed}.default.pod`)).toEqual({ kind: 'pod', pod: 'db-1', ip: pod.ip });
    expect(resolveName(state, `${dashed}.data.pod.cluster.local`)).toBeUndefined();
    expect(resolveName(state, '10-244-99-99.default.pod.cluster.local')).toBeUndefined();
    expect(resolveName(state, '010-244-0-2.default.pod.cluster.local')).toBeUndefined();
    expect(resolveName(state, '10-244-0.default.pod.cluster.local')).toBeUndefined();
  });

  test('lookupName tells NXDOMAIN, NODATA (names that exist without an address) and outside apart', () => {
    expect(lookupName(state, 'cluster.local').status).toBe('nodata');
    expect(lookupName(state, 'svc.cluster.local').status).toBe('nodata');
    expect(lookupName(state, 'pod.cluster.local').status).toBe('nodata');
    expect(lookupName(state, 'default.svc.cluster.local').status).toBe('nodata');
    expect(lookupName(state, 'data.svc.cluster.local').status).toBe('nodata');
    expect(lookupName(state, 'nons.svc.cluster.local').status).toBe('nxdomain');
    expect(lookupName(state, 'web.default.svc.cluster.local').status).toBe('answer');
    expect(lookupName(state, 'foo.cluster.local').status).toBe('nxdomain');
    expect(lookupName(state, 'example.com').status).toBe('outside');
    expect(lookupName(state, 'notcluster.local').status).toBe('outside');
  });

  test('follows events: a service added at 2s resolves, one deleted at 4s no longer does', () => {
    const r = parseScenarioFile(FIXTURE);
    const s = buildClusterState(r.scenario!);
    expect(resolveName(s, 'cache')).toBeUndefined();
    expect(resolveName(s, 'web-api')).toBeDefined();
    for (const ev of r.scenario!.events) applyEvent(s, ev);
    expect(resolveName(s, 'cache')?.ip).toBe(s.services.get('cache')!.vip);
    expect(resolveName(s, 'web-api')).toBeUndefined();
  });

  test('another domain', () => {
    const s = handState([{ name: 'api', vip: '10.96.0.7', namespace: 'prod' }], [], 'corp.internal');
    expect(resolveName(s, 'api.prod.svc.corp.internal')?.ip).toBe('10.96.0.7');
    expect(resolveName(s, 'api', { namespace: 'prod' })?.ip).toBe('10.96.0.7');
    expect(resolveName(s, 'api.prod.svc.cluster.local')).toBeUndefined();
  });
});

describe('serviceEnv', () => {
  test('Kubernetes-style variables for the services of the pod\'s namespace, sorted', () => {
    const state = fixtureState();
    const env = serviceEnv(state, 'web-1');
    const web = state.services.get('web')!.vip;
    const api = state.services.get('web-api')!.vip;
    expect(env).toEqual({
      DNS_PORT: 'udp://10.96.0.10:53',
      DNS_PORT_53_UDP: 'udp://10.96.0.10:53',
      DNS_PORT_53_UDP_ADDR: '10.96.0.10',
      DNS_PORT_53_UDP_PORT: '53',
      DNS_PORT_53_UDP_PROTO: 'udp',
      DNS_SERVICE_HOST: '10.96.0.10',
      DNS_SERVICE_PORT: '53',
      WEB_API_PORT: `tcp://${api}:8443`,
      WEB_API_PORT_8443_TCP: `tcp://${api}:8443`,
      WEB_API_PORT_8443_TCP_ADDR: api,
      WEB_API_PORT_8443_TCP_PORT: '8443',
      WEB_API_PORT_8443_TCP_PROTO: 'tcp',
      WEB_API_SERVICE_HOST: api,
      WEB_API_SERVICE_PORT: '8443',
      WEB_PORT: `tcp://${web}:80`,
      WEB_PORT_80_TCP: `tcp://${web}:80`,
      WEB_PORT_80_TCP_ADDR: web,
      WEB_PORT_80_TCP_PORT: '80',
      WEB_PORT_80_TCP_PROTO: 'tcp',
      WEB_SERVICE_HOST: web,
      WEB_SERVICE_PORT: '80',
    });
    expect(Object.keys(env)).toEqual(Object.keys(env).sort());
    expect(Object.keys(env).some((k) => k.startsWith('DB_'))).toBe(false); // namespace data
  });

  test('an unknown pod is an error', () => {
    expect(() => serviceEnv(fixtureState(), 'nope')).toThrow(DnsError);
  });

  test('a colliding key: X_SERVICE_PORT of service x wins over X_SERVICE_PORT (link style) of service x-service', () => {
    const s = handState([{ name: 'x', vip: '10.96.0.2', port: 80 }, { name: 'x-service', vip: '10.96.0.3', port: 81 }], [{ name: 'p' }]);
    const env = serviceEnv(s, 'p');
    expect(env.X_SERVICE_PORT).toBe('80');
    expect(env.X_SERVICE_HOST).toBe('10.96.0.2');
    expect(env.X_SERVICE_SERVICE_HOST).toBe('10.96.0.3');
  });
});

describe('properties', () => {
  const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
  const world = fc
    .record({
      domain: fc.constantFrom('cluster.local', 'k8s.internal', 'a.b.c'),
      namespaces: fc.uniqueArray(label, { minLength: 1, maxLength: 3 }),
      services: fc.uniqueArray(fc.record({ name: label, ns: fc.nat(2), port: fc.integer({ min: 1, max: 65535 }), udp: fc.boolean() }), { selector: (s) => s.name, maxLength: 8 }),
      pods: fc.uniqueArray(fc.integer({ min: 2, max: 250 }), { maxLength: 6 }),
    })
    .map(({ domain, namespaces, services, pods }) => {
      const state = handState(
        services.map((s, i) => ({ name: s.name, namespace: namespaces[s.ns % namespaces.length], vip: `10.96.${i}.${i + 2}`, port: s.port, protocol: s.udp ? 'udp' : 'tcp' })),
        pods.map((n) => ({ name: `pod-${n}`, ip: `10.244.1.${n}` })),
        domain,
      );
      return { state, domain, namespaces };
    });
  /** random upper/lower case */
  const recase = (s: string, bits: number) => [...s].map((c, i) => ((bits >> i % 30) & 1 ? c.toUpperCase() : c)).join('');

  test('every service resolves by its full name (any case, trailing dot or not), by short names from its namespace, and by <name>.<ns> from any; unknown names do not', () => {
    checkProperty(
      'resolveName',
      fc.property(world, fc.integer(), label, ({ state, domain, namespaces }, bits, stranger) => {
        for (const svc of state.services.values()) {
          const ns = svc.namespace!;
          const fq = `${svc.name}.${ns}.svc.${domain}`;
          const want = { kind: 'service', service: svc.name, ip: svc.vip };
          expect(resolveName(state, recase(fq, bits))).toEqual(want);
          expect(resolveName(state, fq + '.')).toEqual(want);
          expect(resolveName(state, svc.name, { namespace: ns })).toEqual(want);
          expect(resolveName(state, `${svc.name}.${ns}.svc`, { namespace: ns })).toEqual(want);
          for (const other of namespaces) expect(resolveName(state, `${svc.name}.${ns}`, { namespace: other })).toEqual(want);
          // in another namespace the short name is someone else's, or nobody's
          for (const other of namespaces) {
            if (other === ns) continue;
            const r = resolveName(state, svc.name, { namespace: other });
            const there = state.services.get(svc.name);
            expect(r).toEqual(there && there.namespace === other ? { kind: 'service', service: there.name, ip: there.vip } : undefined);
          }
          expect(resolveName(state, `${svc.name}.${ns}.svc.not-${domain}`)).toBeUndefined();
        }
        if (!state.services.has(stranger)) {
          for (const ns of namespaces) {
            expect(resolveName(state, stranger, { namespace: ns })).toBeUndefined();
            expect(resolveName(state, `${stranger}.${ns}.svc.${domain}`)).toBeUndefined();
            expect(lookupName(state, `${stranger}.${ns}.svc.${domain}`).status).toBe('nxdomain');
          }
        }
        for (const pod of state.pods.values()) {
          expect(resolveName(state, podFqdn(state, pod.name)!)).toEqual({ kind: 'pod', pod: pod.name, ip: pod.ip });
        }
        // resolution is a function of the state: same question, same answer
        for (const svc of state.services.values()) expect(resolveName(state, svc.name, { namespace: svc.namespace })).toEqual(resolveName(state, svc.name, { namespace: svc.namespace }));
      }),
    );
  });

  test('serviceEnv: sorted keys; host, port and link variables of exactly the services of the namespace', () => {
    checkProperty(
      'serviceEnv',
      fc.property(world, ({ state }) => {
        state.pods.set('asker', { name: 'asker', node: 'node1', homeNode: 'node1', ip: '10.244.2.2', mac: '0a:58:0a:f4:02:02', labels: {}, hostPorts: [] });
        const env = serviceEnv(state, 'asker');
        expect(Object.keys(env)).toEqual(Object.keys(env).sort());
        const visible = [...state.services.values()].filter((s) => s.namespace === 'default');
        for (const s of visible) {
          const x = s.name.toUpperCase().replace(/-/g, '_');
          expect(env[`${x}_SERVICE_HOST`]).toBe(s.vip);
          expect(env[`${x}_SERVICE_PORT`]).toBe(String(s.port));
          expect(env[`${x}_PORT_${s.port}_${s.protocol.toUpperCase()}_ADDR`]).toBe(s.vip);
        }
        for (const k of Object.keys(env)) expect(k).toMatch(/^[A-Z][A-Z0-9_]*$/);
        // every value is some visible service's
        const vips = new Set(visible.map((s) => s.vip));
        for (const v of Object.values(env)) {
          const ip = /^(tcp|udp):\/\/([\d.]+):\d+$/.exec(v)?.[2] ?? (/^[\d.]+$/.test(v) && v.split('.').length === 4 ? v : undefined);
          if (ip !== undefined) expect(vips.has(ip)).toBe(true);
        }
        if (visible.length === 0) expect(env).toEqual({});
      }),
    );
  });
});
