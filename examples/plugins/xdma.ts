/**
 * xdma: a memcpy DMA engine model written as an mmemu plug-in (the final code of docs/engine-guide.md).
 * One function per NUMA node, `xdma.channels` hardware queues each; a queue runs one descriptor at a
 * time: fetch (`desc_latency`), the copy through the fabric at up to `chan_bw` (bus addresses
 * translated by the IOMMU, bytes moved by the device-side copy), then the completion interrupt
 * (`irq_latency`) and the virt-dma tasklet that runs the client's callback.
 *
 *   pnpm mmemu bench seed --engine ./xdma.ts          # dcbm over xdma instead of PTDMA
 *   pnpm mmemu profile show --engine ./xdma.ts        # its parameters, --set xdma.chan_bw=20
 */
import {
  defineEngine, defineParamSection, DescCache, DmaDevice, VirtDmaChan, VirtDmaDesc, dmaCapSet, dmaCookieStatus, listDel,
  vchanCookieComplete, vchanFreeChanResources, vchanInit, vchanIssuePending, vchanNextDesc, vchanSynchronize,
  vchanTerminateVdesc, vchanTxPrep, DMA_MEMCPY, DMA_PRIVATE, DMA_TRANS_READ_FAILED, DMA_TRANS_WRITE_FAILED, PAGE_SIZE,
  type DmaAsyncTxDescriptor, type DmaChan, type DmaEngine, type DmaTxState, type Fabric, type FaultPoint, type ParamValues,
} from "@mmemu/driver-kit";

export const XDMA_SECTION = defineParamSection("xdma", "xdma: an example memcpy engine, one function per NUMA node", {
  channels: { unit: "count", default: 4, min: 1, max: 64, integer: true, doc: "Hardware queues (dmaengine channels) per function.", source: "example value [U]" },
  chan_bw: { unit: "GB/s", default: 10, min: 0.1, max: 200, doc: "Copy rate of one queue (its own fabric server).", source: "example value [U]" },
  desc_latency: { unit: "ns", default: 800, min: 0, max: 100_000, integer: true, doc: "From the doorbell or the previous completion to the first data beat (descriptor fetch and decode).", source: "example value [U]" },
  irq_latency: { unit: "ns", default: 1000, min: 0, max: 100_000, integer: true, doc: "From the last data beat to the completion interrupt reaching the driver.", source: "example value [U]" },
});
type XdmaParams = ParamValues<typeof XDMA_SECTION.table>;

class XdmaDesc extends VirtDmaDesc {
  dst = 0;
  src = 0;
  len = 0;
}

class XdmaChan extends VirtDmaChan {
  /** The descriptor the queue is working on (unlinked from desc_issued when taken). */
  active: XdmaDesc | null = null;
  /** Its generation, so an event for a descriptor terminated meanwhile is ignored. */
  activeGen = 0;
  /** The fabric flow of the active copy, -1 when none. */
  flow = -1;
  /** This queue's bandwidth server. */
  server = -1;
}

export class XdmaDevice extends DmaDevice {
  private readonly cache: DescCache<XdmaDesc>;

  constructor(
    private readonly eng: DmaEngine,
    private readonly fabric: Fabric,
    private readonly p: XdmaParams,
    private readonly busFault: FaultPoint,
    name: string,
    node: number,
    iommu: "off" | "passthrough" | "translate",
  ) {
    super(eng.createDevice(name, { numaNode: node, dmaMaskBits: 64, iommu }));
    dmaCapSet(DMA_MEMCPY, this.capMask);
    dmaCapSet(DMA_PRIVATE, this.capMask);
    this.callbackContext = "tasklet";
    let proto: XdmaChan | null = null;
    this.cache = new DescCache(() => new XdmaDesc(proto!));
    for (let i = 0; i < p.channels; i++) {
      const ch = new XdmaChan(this, (vd) => this.cache.release(vd as XdmaDesc));
      ch.server = fabric.addServer(`${name}.q${i}`, p.chan_bw);
      proto ??= ch;
      vchanInit(ch, this);
    }
  }

  override devicePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    const d = this.cache.alloc();
    vchanTxPrep(chan as XdmaChan, d, flags);
    d.dst = dst;
    d.src = src;
    d.len = len;
    return d;
  }

  override deviceIssuePending(chan: DmaChan): void {
    const c = chan as XdmaChan;
    if (vchanIssuePending(c) && c.active === null) this.startNext(c);
  }

  override deviceTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    return dmaCookieStatus(chan, cookie, state);
  }

  override deviceTerminateAll(chan: DmaChan): number {
    const c = chan as XdmaChan;
    if (c.active !== null) {
      if (c.flow >= 0) this.fabric.cancel(c.flow);
      c.flow = -1;
      vchanTerminateVdesc(c.active);
      c.active = null;
    }
    vchanFreeChanResources(c);
    return 0;
  }

  override deviceSynchronize(chan: DmaChan): void {
    vchanSynchronize(chan as XdmaChan);
  }

  override deviceFreeChanResources(chan: DmaChan): void {
    vchanFreeChanResources(chan as XdmaChan);
  }

  /** Take the next issued descriptor: unlink it first, so nothing sees it on desc_issued twice. */
  private startNext(c: XdmaChan): void {
    const d = vchanNextDesc(c) as XdmaDesc | null;
    if (d === null) return;
    listDel(d);
    c.active = d;
    c.activeGen = d.gen;
    this.eng.core.sim.schedule(this.p.desc_latency, onFetched, c);
  }

  /** @internal the descriptor is decoded: translate its bus addresses and start the copy. */
  fetched(c: XdmaChan): void {
    const d = c.active;
    if (d === null || d.gen !== c.activeGen) return;
    const srcPhys = this.eng.map.iommu.translate(this.dev, d.src);
    const dstPhys = this.eng.map.iommu.translate(this.dev, d.dst);
    if (srcPhys < 0 || dstPhys < 0) {
      // An IOMMU fault on the first beat: nothing is copied; the client sees which side failed.
      this.fail(c, d, srcPhys < 0 ? DMA_TRANS_READ_FAILED : DMA_TRANS_WRITE_FAILED, d.len);
      return;
    }
    const nodes = this.eng.mem.nodeOfPfn;
    const srcNode = nodes[Math.floor(srcPhys / PAGE_SIZE)]!;
    const dstNode = nodes[Math.floor(dstPhys / PAGE_SIZE)]!;
    c.flow = this.fabric.startTransfer(d.len, srcNode, dstNode, c.server, -1, onCopied, c);
  }

  /** @internal the fabric moved the last byte: the data lands now, the interrupt follows. */
  copied(c: XdmaChan): void {
    const d = c.active;
    c.flow = -1;
    if (d === null || d.gen !== c.activeGen) return;
    const moved = this.busFault.armed && this.busFault.shouldFail() ? 0 : this.eng.map.iommu.deviceCopy(this.dev, d.dst, d.src, d.len);
    if (moved < d.len) {
      this.fail(c, d, DMA_TRANS_WRITE_FAILED, d.len - moved);
      return;
    }
    this.eng.core.sim.schedule(this.p.irq_latency, onIrq, c);
  }

  /** @internal completion interrupt: complete the cookie (the tasklet calls back), start the next. */
  irq(c: XdmaChan): void {
    const d = c.active;
    if (d === null || d.gen !== c.activeGen) return;
    c.active = null;
    vchanCookieComplete(d);
    this.startNext(c);
  }

  /** Error path: the result goes to callback_result, then the queue carries on. */
  private fail(c: XdmaChan, d: XdmaDesc, result: number, residue: number): void {
    d.txResult = { result, residue };
    this.eng.core.sim.schedule(this.p.irq_latency, onIrq, c);
  }
}

function onFetched(c: XdmaChan): void {
  (c.device as XdmaDevice).fetched(c);
}
function onCopied(c: XdmaChan): void {
  (c.device as XdmaDevice).copied(c);
}
function onIrq(c: XdmaChan): void {
  (c.device as XdmaDevice).irq(c);
}

export default defineEngine({
  kind: "engine",
  name: "xdma",
  description: "xdma: an example memcpy engine, one function per NUMA node",
  params: XDMA_SECTION,
  probe(ctx) {
    const busFault = ctx.core.faults.define("xdma.bus_fault", "an xdma copy stops on a bus error (DMA_TRANS_WRITE_FAILED)");
    return ctx.m.mem.nodes.map((n, i) => {
      const dev = new XdmaDevice(ctx.dmaengine, ctx.fabric, ctx.params, busFault, `xdma${i}`, n.id, ctx.iommu.mode);
      dev.dev.maxSegSize = ctx.iommu.max_seg_size;
      const ret = ctx.dmaengine.dmaAsyncDeviceRegister(dev);
      if (ret !== 0) throw new Error(`xdma${i}: dma_async_device_register failed with ${ret}`);
      return dev;
    });
  },
});
