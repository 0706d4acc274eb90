/** The OVN peer of the benchmarks: a private OVN control plane and the topology equivalent to a fabric cluster. */
export * from './ovn';
export * from './topology';
export { OvsdbRpc, OvsdbRpcError } from './rpc';
