import { checkParams, paramDefaults, type EventFn, type KernelCore } from "@mmemu/kernel";
import { FABRIC_PARAMS, type FabricParams } from "./fabric-params.js";
import { BandwidthServers } from "./fair-share.js";

/**
 * The machine's memory and interconnect topology on top of the fair-share servers: one memory
 * controller per NUMA node, one cross-socket (xGMI) link per ordered socket pair, and the I/O-die
 * quadrants PTDMA engines sit behind. A copy from node A to node B crosses A's memory controller, the
 * link if the sockets differ, and B's memory controller, plus whatever engine servers the caller adds.
 */
/** One NUMA node's placement. */
export interface FabricNode {
  readonly id: number;
  /** Socket (package) of the node; copies between sockets cross the link. */
  readonly socket: number;
}

export interface FabricOptions {
  /** Every node that memory traffic can come from or go to. */
  readonly nodes: readonly FabricNode[];
  /** Overrides of {@link FABRIC_PARAMS}; checked, unknown names are an error. */
  readonly params?: Readonly<Partial<Record<keyof typeof FABRIC_PARAMS, number>>>;
}


export class Fabric extends BandwidthServers {
  readonly params: FabricParams;
  private readonly memServer: number[] = [];
  private readonly socketOf: number[] = [];
  /** link[srcSocket * nSockets + dstSocket] → server id. */
  private readonly links: number[] = [];
  private readonly nSockets: number;
  private readonly quadrants = new Map<string, number>();

  constructor(core: KernelCore, opts: FabricOptions) {
    super(core);
    const over = opts.params ?? {};
    const problems = checkParams(FABRIC_PARAMS, over, "fabric");
    if (problems.length > 0) throw new RangeError(`invalid fabric parameters:\n  ${problems.join("\n  ")}`);
    this.params = { ...paramDefaults(FABRIC_PARAMS), ...over } as FabricParams;
    if (opts.nodes.length === 0) throw new RangeError("fabric: at least one node is required");
    let maxSocket = 0;
    for (const n of opts.nodes) {
      if (!Number.isInteger(n.id) || n.id < 0) throw new RangeError(`fabric: node id ${n.id} must be a non-negative integer`);
      if (!Number.isInteger(n.socket) || n.socket < 0) throw new RangeError(`fabric: node ${n.id} socket ${n.socket} must be a non-negative integer`);
      if (this.memServer[n.id] !== undefined) throw new RangeError(`fabric: node ${n.id} is declared twice`);
      this.memServer[n.id] = this.addServer(`mem${n.id}`, this.params.node_mem_bw);
      this.socketOf[n.id] = n.socket;
      if (n.socket > maxSocket) maxSocket = n.socket;
    }
    this.nSockets = maxSocket + 1;
    for (let a = 0; a < this.nSockets; a++) {
      for (let b = 0; b < this.nSockets; b++) {
        this.links[a * this.nSockets + b] = a === b ? -1 : this.addServer(`xgmi${a}->${b}`, this.params.xsocket_link_bw);
      }
    }
  }

  /** The memory-controller server of a node. */
  memServerOf(node: number): number {
    const id = this.memServer[node];
    if (id === undefined) throw new RangeError(`fabric: node ${node} was not declared`);
    return id;
  }

  /** Socket of a node. */
  socketOfNode(node: number): number {
    this.memServerOf(node);
    return this.socketOf[node]!;
  }

  /**
   * The shared server of an I/O-die quadrant (one per socket and quadrant, created on first use), or
   * -1 when `iod_quadrant_bw` is 0 (not modelled).
   */
  quadrantServer(node: number, quadrant: number): number {
    if (this.params.iod_quadrant_bw === 0) return -1;
    const key = `${this.socketOfNode(node)}:${quadrant}`;
    let id = this.quadrants.get(key);
    if (id === undefined) {
      id = this.addServer(`iod${key}`, this.params.iod_quadrant_bw);
      this.quadrants.set(key, id);
    }
    return id;
  }

  /**
   * Start moving `bytes` from node `srcNode` to node `dstNode` through up to two extra servers (pass -1
   * for none) and the memory path between the nodes; `done(arg)` runs as an event when the last byte
   * has moved. `maxRate` (GB/s) caps the flow on its own. Returns a token for {@link cancel}.
   */
  startTransfer(bytes: number, srcNode: number, dstNode: number, extra0: number, extra1: number, done: EventFn, arg?: unknown, maxRate = Infinity): number {
    const f = this.alloc();
    let n = 0;
    if (extra0 >= 0) f.path[n++] = this.checkServer(extra0);
    if (extra1 >= 0) f.path[n++] = this.checkServer(extra1);
    f.path[n++] = this.memServerOf(srcNode);
    const sa = this.socketOf[srcNode]!;
    const sb = this.socketOfNode(dstNode);
    if (sa !== sb) f.path[n++] = this.links[sa * this.nSockets + sb]!;
    f.path[n++] = this.memServer[dstNode]!;
    f.n = n;
    return this.launch(f, bytes, done, arg, maxRate);
  }

  /**
   * A CPU thread copying `bytes` between nodes consumes memory and link bandwidth like a DMA transfer,
   * limited to `cpu_copy_bw`. `done(arg)` runs as an event at the end. Returns a token.
   */
  cpuCopy(srcNode: number, dstNode: number, bytes: number, done: EventFn, arg?: unknown): number {
    return this.startTransfer(bytes, srcNode, dstNode, -1, -1, done, arg, this.params.cpu_copy_bw);
  }

  /**
   * Task context: copy `bytes` with the CPU and sleep until the fabric says it is done. Returns the
   * virtual ns it took (other flows slow it down, and it slows them).
   */
  cpuCopyWait(srcNode: number, dstNode: number, bytes: number): number {
    const start = this.core.sim.now;
    const box = { done: false };
    this.cpuCopy(srcNode, dstNode, bytes, (b: { done: boolean }) => { b.done = true; }, box);
    this.core.sim.runUntil(() => box.done, undefined, "fabric cpu copy");
    return this.core.sim.now - start;
  }
}
