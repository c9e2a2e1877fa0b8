import type { EventFn, KernelCore } from "@mmemu/kernel";

/**
 * Shared bandwidth as fluid fair-share servers (processor sharing, max-min fairness). Every resource
 * that copies contend for — a DMA engine, a PTDMA quadrant pair, a node's memory controller, the
 * cross-socket link — is a server with a capacity in GB/s (numerically bytes per ns). A transfer
 * ("flow") crosses a set of servers; its rate is its max-min fair share, found by progressive filling.
 * Rates change only when a flow starts or ends, so the fabric keeps one timer for the earliest
 * finishing flow and moves it (lazily: stale timers are ignored by token) whenever rates change.
 *
 * Fast path: each flow has a cap (its tightest server on its own, or its own rate limit). While no
 * server's summed caps exceed its capacity every flow runs at its cap and a start or finish touches
 * only that flow. Only an oversubscribed server triggers a full progressive-filling pass.
 *
 * This file knows servers and flows only; which servers a copy between two NUMA nodes crosses is the
 * topology's business ({@link Fabric} in fabric.ts).
 */

/** Largest number of servers one flow may cross (engine, quadrant, src memory, link, dst memory, spare). */
export const FABRIC_MAX_PATH = 8;

/** What a server reports. */
export interface FabricServerStats {
  readonly name: string;
  /** Capacity in GB/s (bytes per ns). */
  readonly capacity: number;
  /** Bytes of finished flows that crossed it (counted once per crossing). */
  readonly bytes: number;
  /** Flows crossing it now. */
  readonly active: number;
}

class Server {
  nFlows = 0;
  demand = 0;
  bytes = 0;
  over = false;
  // Progressive-filling scratch.
  rem = 0;
  unfrozen = 0;
  stamp = 0;
  saturated = false;
  constructor(
    readonly id: number,
    readonly name: string,
    public capacity: number,
  ) {}
}

/** One transfer in flight (slots are reused; a token names slot and generation). */
export class Flow {
  slot: number;
  gen = 0;
  index = -1;
  readonly path = new Int32Array(FABRIC_MAX_PATH);
  n = 0;
  /** Full-recompute scratch: the shared servers this flow crosses (with repeats). */
  readonly sh: Server[] = [];
  nsh = 0;
  bytes = 0;
  remaining = 0;
  rate = 0;
  cap = 0;
  maxRate = Infinity;
  last = 0;
  finishAt = 0;
  done: EventFn | null = null;
  arg: unknown = undefined;
  frozen = false;
  /** Level mode: the virtual byte count of the level at which this flow finishes. */
  vFinish = 0;
  constructor(slot: number) {
    this.slot = slot;
  }
}

const SLOT_BITS = 2 ** 20;
/** Tokens carry the low 10 bits of the slot's generation, so they stay small integers (no boxing). */
const GEN_MASK = 0x3ff;
const EPS = 1e-9;

export class BandwidthServers {
  protected readonly core: KernelCore;
  private readonly servers: Server[] = [];
  private readonly byName = new Map<string, number>();

  private readonly flows: Flow[] = [];
  private readonly free: Flow[] = [];
  private readonly active: Flow[] = [];
  private nOver = 0;
  /** True when some flow runs below its cap (the last pass was a full one). */
  private shaped = false;
  private timerAt = Infinity;
  private timerToken = 0;
  private stampNow = 0;
  private readonly doneFns: Array<EventFn | null> = [];
  private readonly doneArgs: unknown[] = [];
  private readonly onTimerBound: EventFn;

  /** Flows finished since creation. */
  flowsCompleted = 0;
  /** Full progressive-filling passes (the slow path). */
  fullRecomputes = 0;

  constructor(core: KernelCore) {
    this.core = core;
    this.onTimerBound = (token: number) => this.onTimer(token);
  }

  /** Add a server (a DMA engine, say) with a capacity in GB/s; returns its id. Names are unique. */
  addServer(name: string, capacityGBps: number): number {
    if (!(capacityGBps > 0) || !Number.isFinite(capacityGBps)) throw new RangeError(`fabric server "${name}": capacity must be a finite number of GB/s > 0, got ${capacityGBps}`);
    if (this.byName.has(name)) throw new RangeError(`fabric server "${name}" already exists`);
    const id = this.servers.length;
    this.servers.push(new Server(id, name, capacityGBps));
    this.byName.set(name, id);
    return id;
  }

  /** Server id by name; unknown names are an error listing the known ones. */
  serverId(name: string): number {
    const id = this.byName.get(name);
    if (id === undefined) throw new RangeError(`fabric: unknown server "${name}"; known: ${[...this.byName.keys()].join(", ")}`);
    return id;
  }

  /** Change a server's capacity (all rates are recomputed). */
  setCapacity(server: number, capacityGBps: number): void {
    const s = this.serverAt(server);
    if (!(capacityGBps > 0) || !Number.isFinite(capacityGBps)) throw new RangeError(`fabric server "${s.name}": capacity must be a finite number of GB/s > 0, got ${capacityGBps}`);
    if (this.level) this.exitLevel(null, this.core.sim.now);
    s.capacity = capacityGBps;
    for (const f of this.active) this.computeCap(f);
    this.rebuildDemand();
    this.settleAll();
    this.fullRecompute();
    this.armTimer(this.minFinish());
  }

  /** Start a flow over an explicit list of servers. */
  startFlow(servers: readonly number[], bytes: number, done: EventFn, arg?: unknown, maxRate = Infinity): number {
    if (servers.length === 0 || servers.length > FABRIC_MAX_PATH) throw new RangeError(`fabric: a flow crosses 1..${FABRIC_MAX_PATH} servers, got ${servers.length}`);
    const f = this.alloc();
    for (let i = 0; i < servers.length; i++) f.path[i] = this.checkServer(servers[i]!);
    f.n = servers.length;
    return this.launch(f, bytes, done, arg, maxRate);
  }

  /** Stop a flow early; its callback never runs. Returns the bytes it had moved, or -1 if it had already finished. */
  cancel(token: number): number {
    const f = this.lookup(token);
    if (f === null) return -1;
    const moved = this.movedOf(f);
    this.detach(f);
    this.release(f);
    this.afterChange(null);
    return moved;
  }

  /** Bytes a running flow has moved so far, or -1 if the token is stale. */
  bytesMoved(token: number): number {
    const f = this.lookup(token);
    return f === null ? -1 : this.movedOf(f);
  }

  /** Current rate of a running flow in GB/s, or -1 if the token is stale. */
  rateOf(token: number): number {
    const f = this.lookup(token);
    if (f === null) return -1;
    return this.level ? this.lvRate : f.rate;
  }

  private movedOf(f: Flow): number {
    const now = this.core.sim.now;
    const left = this.level ? f.vFinish - this.levelV(now) : f.remaining - f.rate * (now - f.last);
    return Math.min(f.bytes, Math.max(0, Math.floor(f.bytes - Math.max(0, left))));
  }

  /** Flows running now. */
  get activeFlows(): number {
    return this.active.length;
  }

  /** Per-server totals. */
  stats(): FabricServerStats[] {
    return this.servers.map((s) => ({ name: s.name, capacity: s.capacity, bytes: s.bytes, active: s.nFlows }));
  }

  // ---- internals ----

  private serverAt(id: number): Server {
    const s = this.servers[id];
    if (s === undefined) throw new RangeError(`fabric: no server ${id}`);
    return s;
  }

  /** Count bytes that crossed a server outside a flow (a CPU copy charged as a block). */
  protected serverBytes(id: number, bytes: number): void {
    this.servers[id]!.bytes += bytes;
  }

  protected checkServer(id: number): number {
    this.serverAt(id);
    return id;
  }

  protected alloc(): Flow {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.flows.length >= SLOT_BITS) throw new RangeError(`fabric: more than ${SLOT_BITS} concurrent flows`);
    const nf = new Flow(this.flows.length);
    this.flows.push(nf);
    return nf;
  }

  private release(f: Flow): void {
    f.gen++;
    f.done = null;
    f.arg = undefined;
    this.free.push(f);
  }

  private lookup(token: number): Flow | null {
    const f = this.flows[token % SLOT_BITS];
    if (f === undefined || f.index < 0 || (f.gen & GEN_MASK) !== Math.floor(token / SLOT_BITS)) return null;
    return f;
  }

  protected launch(f: Flow, bytes: number, done: EventFn, arg: unknown, maxRate: number): number {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) {
      this.release(f);
      throw new RangeError(`fabric: transfer size must be a finite number of bytes >= 0, got ${bytes}`);
    }
    if (!(maxRate > 0)) {
      this.release(f);
      throw new RangeError(`fabric: maxRate must be > 0 GB/s, got ${maxRate}`);
    }
    const now = this.core.sim.now;
    f.bytes = bytes;
    f.remaining = bytes;
    f.maxRate = maxRate;
    f.done = done;
    f.arg = arg;
    f.last = now;
    this.computeCap(f);
    f.index = this.active.length;
    this.active.push(f);
    for (let i = 0; i < f.n; i++) this.addDemand(this.servers[f.path[i]!]!, f.cap, 1);
    this.afterChange(f);
    return (f.gen & GEN_MASK) * SLOT_BITS + f.slot;
  }

  private computeCap(f: Flow): void {
    let cap = f.maxRate;
    for (let i = 0; i < f.n; i++) {
      const id = f.path[i]!;
      let mult = 0;
      for (let j = 0; j < f.n; j++) if (f.path[j] === id) mult++;
      const c = this.servers[id]!.capacity / mult;
      if (c < cap) cap = c;
    }
    f.cap = cap;
  }

  private addDemand(s: Server, cap: number, sign: 1 | -1): void {
    s.nFlows += sign;
    s.demand += sign * cap;
    if (s.nFlows === 0) s.demand = 0;
    const over = s.demand > s.capacity * (1 + EPS);
    if (over !== s.over) {
      s.over = over;
      this.nOver += over ? 1 : -1;
    }
  }

  private rebuildDemand(): void {
    for (const s of this.servers) {
      s.nFlows = 0;
      s.demand = 0;
      if (s.over) this.nOver--;
      s.over = false;
    }
    for (const f of this.active) for (let i = 0; i < f.n; i++) this.addDemand(this.servers[f.path[i]!]!, f.cap, 1);
  }

  private detach(f: Flow): void {
    for (let i = 0; i < f.n; i++) this.addDemand(this.servers[f.path[i]!]!, f.cap, -1);
    const last = this.active.pop()!;
    if (last !== f) {
      this.active[f.index] = last;
      last.index = f.index;
    }
    f.index = -1;
  }

  /** Bring a flow's remaining bytes up to now before its rate changes. */
  private settle(f: Flow, now: number): void {
    if (f.last !== now) {
      f.remaining -= f.rate * (now - f.last);
      if (f.remaining < 0) f.remaining = 0;
      f.last = now;
    }
  }

  private settleAll(): void {
    const now = this.core.sim.now;
    for (const f of this.active) this.settle(f, now);
  }

  private setRate(f: Flow, rate: number, now: number): void {
    this.settle(f, now);
    f.rate = rate;
    f.finishAt = f.remaining <= 0 ? now : now + Math.max(0, Math.ceil(f.remaining / rate - EPS));
  }

  /** Re-rate after a start (`added`) or a finish/cancel (`added` null), then move the timer. */
  private afterChange(added: Flow | null): void {
    const now = this.core.sim.now;
    if (this.level) {
      if (added !== null ? this.levelArrive(added, now) : this.levelDepart(now)) return;
      this.exitLevel(added, now);
    }
    if (this.nOver === 0 && !this.shaped) {
      // Every flow already runs at its cap; only the newcomer needs a rate.
      if (added !== null) {
        this.setRate(added, added.cap, now);
        if (added.finishAt < this.timerAt) this.armTimer(added.finishAt);
      } else {
        this.armTimer(this.minFinish());
      }
      return;
    }
    if (this.nOver === 0) {
      for (const f of this.active) if (f.rate !== f.cap) this.setRate(f, f.cap, now);
      this.shaped = false;
    } else {
      this.fullRecompute();
    }
    this.armTimer(this.minFinish());
  }

  /**
   * Max-min fair rates by progressive filling. Only servers shared by two or more flows take part: a
   * server a flow has to itself is already in that flow's cap, which acts as its private limit.
   */
  private fullRecompute(): void {
    this.fullRecomputes++;
    const now = this.core.sim.now;
    const stamp = ++this.stampNow;
    const touched = this.touchedScratch;
    const servers = this.servers;
    const active = this.active;
    const nf = active.length;
    let nt = 0;
    for (let k = 0; k < nf; k++) {
      const f = active[k]!;
      f.frozen = false;
      let nsh = 0;
      for (let i = 0; i < f.n; i++) {
        const s = servers[f.path[i]!]!;
        if (s.nFlows < 2) continue;
        if (s.stamp !== stamp) {
          s.stamp = stamp;
          s.rem = s.capacity;
          s.unfrozen = 0;
          touched[nt++] = s;
        }
        s.unfrozen++;
        f.sh[nsh++] = s;
      }
      f.nsh = nsh;
    }
    this.nTouched = nt;
    let left = nf;
    let anyShaped = false;
    let iters = 0;
    let allShaped = true;
    let single: Server | null = null;
    while (left > 0) {
      iters++;
      let best = Infinity;
      for (let k = 0; k < nt; k++) {
        const s = touched[k]!;
        if (s.unfrozen > 0) {
          const share = s.rem / s.unfrozen;
          if (share < best) best = share;
        }
      }
      for (let k = 0; k < nf; k++) {
        const f = active[k]!;
        if (!f.frozen && f.cap < best) best = f.cap;
      }
      const limit = best * (1 + EPS);
      let nsat = 0;
      for (let k = 0; k < nt; k++) {
        const s = touched[k]!;
        s.saturated = s.unfrozen > 0 && s.rem / s.unfrozen <= limit;
        if (s.saturated) {
          nsat++;
          single = s;
        }
      }
      if (nsat !== 1) single = null;
      const rate = best > 0 ? best : 1e-12;
      for (let k = 0; k < nf; k++) {
        const f = active[k]!;
        if (f.frozen) continue;
        const sh = f.sh;
        const nsh = f.nsh;
        let hit = f.cap <= limit;
        for (let i = 0; !hit && i < nsh; i++) hit = sh[i]!.saturated;
        if (!hit) continue;
        f.frozen = true;
        left--;
        if (rate < f.cap * (1 - EPS)) anyShaped = true;
        else allShaped = false;
        if (rate !== f.rate || f.finishAt < now) this.setRate(f, rate, now);
        for (let i = 0; i < nsh; i++) {
          const s = sh[i]!;
          s.rem -= best;
          s.unfrozen--;
        }
      }
    }
    this.shaped = anyShaped;
    // One level, one saturated server that every flow crosses once, nobody at its cap: from here on
    // starts and finishes only change the level's rate (see levelArrive/levelDepart).
    if (iters === 1 && allShaped && single !== null && single.nFlows === nf && nf > 1) this.enterLevel(single, now);
  }

  // ---- level mode: every active flow shares one bottleneck at one rate ----
  // The level keeps a virtual byte clock V advancing at the level rate; a flow finishes when V
  // reaches its vFinish, so a change of rate touches no flow.
  private level = false;
  private lvServer: Server | null = null;
  private lvRate = 0;
  private lvV = 0;
  private lvT = 0;

  private levelV(now: number): number {
    return this.lvV + this.lvRate * (now - this.lvT);
  }

  private enterLevel(s: Server, now: number): void {
    this.level = true;
    this.lvServer = s;
    this.lvRate = s.capacity / s.nFlows;
    this.lvV = 0;
    this.lvT = now;
    for (const f of this.active) {
      this.settle(f, now);
      f.vFinish = f.remaining;
    }
  }

  /** Leave level mode: give every flow (but a newcomer) its remaining bytes at the level rate. */
  private exitLevel(added: Flow | null, now: number): void {
    const v = this.levelV(now);
    for (const f of this.active) {
      if (f === added) continue;
      f.remaining = Math.max(0, f.vFinish - v);
      f.last = now;
      f.rate = this.lvRate;
      f.finishAt = now + Math.max(0, Math.ceil(f.remaining / f.rate - EPS));
    }
    if (added !== null) {
      added.rate = 0;
      added.last = now;
    }
    this.level = false;
    this.lvServer = null;
    this.shaped = true;
  }

  /**
   * Set the level rate from the bottleneck's flow count; true if the single level still holds. A
   * newcomer (`extra`) is checked on its path; a departure raises the rate, so with `checkTouched`
   * every shared server of the last pass is checked.
   */
  private levelRerate(now: number, checkTouched: boolean, extra: Flow | null): boolean {
    const s = this.lvServer!;
    if (s.nFlows !== this.active.length) return false;
    const rate = s.capacity / s.nFlows;
    let minCap = Infinity;
    for (const f of this.active) if (f.cap < minCap) minCap = f.cap;
    if (rate >= minCap * (1 - EPS)) return false;
    if (extra !== null) {
      for (let i = 0; i < extra.n; i++) {
        const t = this.servers[extra.path[i]!]!;
        if (t !== s && t.nFlows > 1 && t.nFlows * rate > t.capacity * (1 + EPS)) return false;
      }
    }
    if (checkTouched) {
      const touched = this.touchedScratch;
      for (let k = 0; k < this.nTouched; k++) {
        const t = touched[k]!;
        if (t !== s && t.nFlows > 1 && t.nFlows * rate > t.capacity * (1 + EPS)) return false;
      }
    }
    this.lvV = this.levelV(now);
    this.lvT = now;
    this.lvRate = rate;
    return true;
  }

  private levelArrive(f: Flow, now: number): boolean {
    const s = this.lvServer!;
    let crosses = 0;
    for (let i = 0; i < f.n; i++) if (this.servers[f.path[i]!] === s) crosses++;
    if (crosses !== 1) return false;
    const stamp = this.stampNow;
    for (let i = 0; i < f.n; i++) {
      const t = this.servers[f.path[i]!]!;
      if (t.nFlows > 1 && t.stamp !== stamp) {
        t.stamp = stamp;
        this.touchedScratch[this.nTouched++] = t;
      }
    }
    // A lower rate cannot oversubscribe a server the newcomer does not cross, so only its path is checked.
    if (!this.levelRerate(now, false, f)) return false;
    f.vFinish = this.lvV + f.bytes;
    this.armTimer(this.minFinish());
    return true;
  }

  private levelDepart(now: number): boolean {
    if (this.active.length < 2) return false;
    // A higher rate may oversubscribe any shared server still in use: check them all.
    if (!this.levelRerate(now, true, null)) return false;
    this.armTimer(this.minFinish());
    return true;
  }

  /**
   * The shared servers of the last full pass (and of flows that joined its level since): the first
   * `nTouched` entries. Overwritten in place, never truncated, so its backing store is not regrown
   * at every pass.
   */
  private readonly touchedScratch: Server[] = [];
  private nTouched = 0;

  private minFinish(): number {
    if (this.level) {
      let mv = Infinity;
      for (const f of this.active) if (f.vFinish < mv) mv = f.vFinish;
      if (mv === Infinity) return Infinity;
      return this.lvT + Math.max(0, Math.ceil((mv - this.lvV) / this.lvRate - EPS));
    }
    let m = Infinity;
    for (const f of this.active) if (f.finishAt < m) m = f.finishAt;
    return m;
  }

  private armTimer(at: number): void {
    if (at === Infinity) {
      this.timerAt = Infinity;
      this.timerToken++;
      return;
    }
    if (at === this.timerAt) return;
    this.timerAt = at;
    const token = ++this.timerToken;
    this.core.sim.scheduleAt(Math.max(at, this.core.sim.now), this.onTimerBound, token);
  }

  private onTimer(token: number): void {
    if (token !== this.timerToken) return; // superseded: lazy cancellation
    this.timerAt = Infinity;
    const now = this.core.sim.now;
    let nDone = 0;
    const level = this.level;
    for (let i = this.active.length - 1; i >= 0; i--) {
      const f = this.active[i]!;
      if (level) {
        if (this.lvT + Math.max(0, Math.ceil((f.vFinish - this.lvV) / this.lvRate - EPS)) > now) continue;
      } else {
        if (f.finishAt > now) continue;
        this.settle(f, now);
      }
      for (let k = 0; k < f.n; k++) this.servers[f.path[k]!]!.bytes += f.bytes;
      this.doneFns[nDone] = f.done;
      this.doneArgs[nDone] = f.arg;
      nDone++;
      this.detach(f);
      this.release(f);
      this.flowsCompleted++;
    }
    if (nDone > 0) this.afterChange(null);
    else this.armTimer(this.minFinish());
    for (let i = 0; i < nDone; i++) {
      const fn = this.doneFns[i]!;
      const arg = this.doneArgs[i];
      this.doneFns[i] = null;
      this.doneArgs[i] = undefined;
      fn(arg);
    }
  }
}
