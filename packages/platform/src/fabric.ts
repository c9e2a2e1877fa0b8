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
  /** Memory bandwidth of this node in GB/s (a CXL expander's); default `node_mem_bw`. */
  readonly memBw?: number;
  /** Load-to-use latency of this node's memory in ns (a CXL expander's); default: not scaled (see copy_ref_latency). */
  readonly memLatency?: number;
}

/** Deepest nesting of CPU copies waiting at once (tasks copying while another one waits). */
const FABRIC_MAX_WAIT_DEPTH = 64;

export interface FabricOptions {
  /** Every node that memory traffic can come from or go to. */
  readonly nodes: readonly FabricNode[];
  /**
   * One CPU thread's copy bandwidth in GB/s (the CPU cost model's cpu_copy_bw: one parameter for the
   * vanilla copy, mtcopy's workers and any other CPU copy). Without it, CPU copies are refused.
   */
  readonly cpuCopyBw?: number;
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
  /** Per-thread CPU copy cap by node pair (latency scaled), [src * nNodes + dst]. */
  private readonly copyCap: Float64Array;
  private readonly nNodes: number;

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
      if (n.memBw !== undefined && !(n.memBw > 0 && Number.isFinite(n.memBw))) throw new RangeError(`fabric: node ${n.id} memBw must be a finite number of GB/s > 0, got ${n.memBw}`);
      if (n.memLatency !== undefined && !(n.memLatency > 0 && Number.isFinite(n.memLatency))) throw new RangeError(`fabric: node ${n.id} memLatency must be a finite number of ns > 0, got ${n.memLatency}`);
      this.memServer[n.id] = this.addServer(`mem${n.id}`, n.memBw ?? this.params.node_mem_bw);
      this.socketOf[n.id] = n.socket;
      if (n.socket > maxSocket) maxSocket = n.socket;
    }
    this.nSockets = maxSocket + 1;
    for (let a = 0; a < this.nSockets; a++) {
      for (let b = 0; b < this.nSockets; b++) {
        this.links[a * this.nSockets + b] = a === b ? -1 : this.addServer(`xgmi${a}->${b}`, this.params.xsocket_link_bw);
      }
    }
    const bw = opts.cpuCopyBw;
    if (bw !== undefined && !(bw > 0 && Number.isFinite(bw))) throw new RangeError(`fabric: cpuCopyBw must be a finite number of GB/s > 0, got ${bw}`);
    this.nNodes = this.memServer.length;
    this.copyCap = new Float64Array(this.nNodes * this.nNodes);
    const lat = (id: number) => opts.nodes.find((n) => n.id === id)?.memLatency ?? 0;
    for (let a = 0; a < this.nNodes; a++) {
      for (let b = 0; b < this.nNodes; b++) {
        // Little's law: a thread's misses in flight are fixed, so its rate falls with the latency.
        const worst = Math.max(lat(a), lat(b));
        this.copyCap[a * this.nNodes + b] = bw === undefined ? 0 : worst > this.params.copy_ref_latency ? bw * this.params.copy_ref_latency / worst : bw;
      }
    }
  }

  /** One CPU thread's copy rate cap from `srcNode` to `dstNode` in GB/s (before any sharing). */
  cpuCopyRate(srcNode: number, dstNode: number): number {
    this.memServerOf(srcNode);
    this.memServerOf(dstNode);
    const r = this.copyCap[srcNode * this.nNodes + dstNode]!;
    if (!(r > 0)) throw new RangeError("fabric: CPU copies need the CPU copy bandwidth (FabricOptions.cpuCopyBw, the profile's cpu.cpu_copy_bw)");
    return r;
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
   * A CPU copy started while no flow is running: its rate cap in GB/s (it runs at that rate unless a
   * flow starts before it ends, which the caller accepts by charging it as a block), with its bytes
   * counted on the servers it crosses; -1 when flows are running (use {@link cpuCopyWait}).
   */
  idleCpuCopyRate(srcNode: number, dstNode: number, bytes: number): number {
    if (this.activeFlows > 0) return -1;
    const rate = this.cpuCopyRate(srcNode, dstNode);
    this.serverBytes(this.memServer[srcNode]!, bytes);
    const sa = this.socketOf[srcNode]!;
    const sb = this.socketOf[dstNode]!;
    if (sa !== sb) this.serverBytes(this.links[sa * this.nSockets + sb]!, bytes);
    this.serverBytes(this.memServer[dstNode]!, bytes);
    return rate;
  }

  /**
   * A CPU thread copying `bytes` between nodes consumes memory and link bandwidth like a DMA transfer,
   * limited to {@link cpuCopyRate}. `done(arg)` runs as an event at the end. Returns a token.
   */
  cpuCopy(srcNode: number, dstNode: number, bytes: number, done: EventFn, arg?: unknown): number {
    return this.startTransfer(bytes, srcNode, dstNode, -1, -1, done, arg, this.cpuCopyRate(srcNode, dstNode));
  }

  /**
   * Task context: copy `bytes` with the CPU and run the machine until the fabric says it is done.
   * Returns the virtual ns it took (other flows slow it down, and it slows them). Allocation-free: the
   * migration path calls it per folio.
   */
  cpuCopyWait(srcNode: number, dstNode: number, bytes: number): number {
    const start = this.core.sim.now;
    // Waits nest when another task copies while this one waits: each level has its own flag.
    if (this.waitDepth >= FABRIC_MAX_WAIT_DEPTH) throw new RangeError(`fabric: more than ${FABRIC_MAX_WAIT_DEPTH} nested CPU copy waits`);
    const depth = ++this.waitDepth;
    this.waitPending[depth] = 1;
    try {
      this.cpuCopy(srcNode, dstNode, bytes, this.onWaitDone, depth);
      this.core.sim.runUntil(this.waitOver, undefined, "fabric cpu copy");
    } finally {
      this.waitDepth--;
    }
    return this.core.sim.now - start;
  }

  /** Nesting depth of cpuCopyWait calls, and whether each level's copy is still running. */
  private waitDepth = 0;
  private readonly waitPending = new Uint8Array(FABRIC_MAX_WAIT_DEPTH + 1);
  private readonly onWaitDone = (depth: number): void => {
    this.waitPending[depth] = 0;
  };
  private readonly waitOver = (): boolean => this.waitPending[this.waitDepth] === 0;
}
