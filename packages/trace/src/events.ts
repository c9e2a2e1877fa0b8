/**
 * How each tracepoint prints: its TRACE_SYSTEM, the kernel's TP_printk text (what
 * /sys/kernel/tracing/trace shows) and what `trace-cmd report` shows (the format file's print fmt read
 * by libtraceevent, or a trace-cmd plugin), for the kernel version emulated. Events the kernel does not
 * have (the emulator's own, the DMA hardware's) print as `mmemu_<name>: key=value ...` so nobody
 * mistakes them for upstream events. Facts: shared/specs/tracing.md sections 1, 2 and 6.
 */
import { TRACE_CTX_DEVICE, TRACE_CTX_IRQ_IDLE, TRACE_CTX_IRQ_TASK, type TraceRecord } from "@mmemu/kernel";

/** The kernel whose output to reproduce ("mainline" prints as 7.2 does). */
export type KernelVersion = "6.1" | "6.12" | "mainline";
export const KERNEL_VERSIONS: readonly KernelVersion[] = ["6.1", "6.12", "mainline"];

/** "trace-cmd": `trace-cmd report` (3.4); "tracefs": the kernel's own `trace` file. */
export type FtraceFlavor = "trace-cmd" | "tracefs";

const U64 = (1n << 64n) - 1n;

/** An unsigned long as %lx prints it (negative values as their 64-bit two's complement). */
export function hexUlong(v: number): string {
  if (v >= 0) return Math.trunc(v).toString(16);
  return (BigInt(Math.trunc(v)) & U64).toString(16);
}

/** The event's system (directory under events/); "mmemu" for events the kernel does not have. */
export function eventSystem(name: string): string {
  if (name.startsWith("sys_enter_") || name.startsWith("sys_exit_")) return "syscalls";
  switch (name) {
    case "mm_migrate_pages": case "mm_migrate_pages_start": case "set_migration_pte": case "remove_migration_pte":
      return "migrate";
    case "set_migration_pmd": case "remove_migration_pmd":
      return "thp";
    case "tlb_flush":
      return "tlb";
    case "irq_handler_entry": case "irq_handler_exit":
      return "irq";
  }
  return "mmemu";
}

/**
 * The class a filter can name: the kernel systems above, and for the emulator's own events "dmaengine"
 * (dmae_*), "dma" (DMA mapping and IOMMU), "device" (ptdma_*, sdxi_*, ae4dma_*, mmio_*), "offload" (the
 * migrator API, dcbm, mtcopy) and "mmemu" (the rest: batch starts/ends, folio moves, waits).
 */
export function eventClass(name: string): string {
  const sys = eventSystem(name);
  if (sys !== "mmemu") return sys;
  if (name.startsWith("dmae_")) return "dmaengine";
  if (name.startsWith("dma_") || name.startsWith("iommu_")) return "dma";
  if (name.startsWith("ptdma_") || name.startsWith("sdxi_") || name.startsWith("ae4dma_") || name.startsWith("mmio_")) return "device";
  if (name.startsWith("migrate_offload_") || name.startsWith("dcbm_") || name.startsWith("mtcopy_") || name === "mm_migrate_offload_batch_copy") return "offload";
  return "mmemu";
}

/** Every class name a filter accepts. */
export const EVENT_CLASSES = ["syscalls", "migrate", "thp", "tlb", "irq", "dmaengine", "dma", "device", "offload", "mmemu"] as const;

/** The name an event prints under. */
export function printedName(name: string): string {
  return eventSystem(name) === "mmemu" ? `mmemu_${name}` : name;
}

const REASONS_61 = new Set(["compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset", "mempolicy_mbind", "numa_misplaced", "contig_range", "longterm_pin", "demotion"]);
const REASON_VALUES: Record<string, number> = {
  compaction: 0, memory_failure: 1, memory_hotplug: 2, syscall_or_cpuset: 3, mempolicy_mbind: 4, numa_misplaced: 5,
  contig_range: 6, longterm_pin: 7, demotion: 8, damon: 9,
};

/** __print_symbolic of MIGRATE_REASON: a reason the version's table lacks prints as 0x<value>. */
function reasonText(reason: unknown, v: KernelVersion): string {
  const r = String(reason);
  if (r in REASON_VALUES && (v !== "6.1" || REASONS_61.has(r))) return r;
  return `0x${(REASON_VALUES[r] ?? Number(r)).toString(16)}`;
}

const TLB_REASON_VALUE: Record<string, number> = {
  TLB_FLUSH_ON_TASK_SWITCH: 0, TLB_REMOTE_SHOOTDOWN: 1, TLB_LOCAL_SHOOTDOWN: 2, TLB_LOCAL_MM_SHOOTDOWN: 3,
  TLB_REMOTE_SEND_IPI: 4, TLB_REMOTE_WRONG_CPU: 5,
};
/** tlb.h strings in 6.1 and 6.12 (reason 5 has no entry). */
const TLB_STRINGS_OLD = ["flush on task switch", "remote shootdown", "local shootdown", "local mm shootdown", "remote ipi send"];
/** After the Dec-2025 fix (7.2): two renamed, reason 5 named. */
const TLB_STRINGS_NEW = ["flush on task switch", "remote shootdown", "local shootdown", "local MM shootdown", "remote IPI send", "remote wrong CPU"];
/** trace-cmd's tlb plugin: the old strings, and nothing for 4 and 5 (spec section 6.3). */
const TLB_STRINGS_PLUGIN = ["flush on task switch", "remote shootdown", "local shootdown", "local mm shootdown", "", ""];

/** Syscall argument as the kernel's trace file prints it: 6.x all %lx, 7.2 below 10 decimal, else 0x%lx. */
function sysArgKernel(x: number, v: KernelVersion): string {
  if (v === "mainline") return x >= 0 && x < 10 ? String(x) : `0x${hexUlong(x)}`;
  return hexUlong(x);
}

function sysName(name: string): string {
  return name.replace(/^sys_(enter|exit)_/, "");
}

/** The generic text of an mmemu event: key=value with addresses and pfns in hex. */
const HEX_KEYS = new Set(["addr", "pfn", "src", "dst", "iova", "head", "tail", "dma_addr", "phys", "value", "reg", "pte", "pmd"]);
function genericText(fields: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [k, val] of Object.entries(fields)) {
    let s: string;
    if (typeof val === "number") s = HEX_KEYS.has(k) && Number.isInteger(val) ? `0x${hexUlong(val)}` : String(val);
    else if (typeof val === "boolean") s = val ? "1" : "0";
    else if (Array.isArray(val)) s = `{${val.join(",")}}`;
    else if (val !== null && typeof val === "object") s = JSON.stringify(val);
    else s = String(val);
    parts.push(`${k}=${s}`);
  }
  return parts.join(" ");
}

/**
 * The part of an ftrace line after the timestamp's ": ": `name: text` (with trace-cmd's padding), or
 * the kernel's own syscall lines (`sys_move_pages(pid: 0, ...)`, `sys_move_pages -> 0x0`).
 */
export function eventText(rec: TraceRecord, v: KernelVersion, flavor: FtraceFlavor): string {
  const f = rec.fields;
  const name = rec.name;
  const head = (n: string) => (flavor === "trace-cmd" ? `${`${n}:`.padEnd(21)} ` : `${n}: `);
  if (name.startsWith("sys_enter_")) {
    const args = (f.args ?? {}) as Record<string, number>;
    if (flavor === "trace-cmd") {
      return head(name) + Object.entries(args).map(([k, x]) => `${k}: 0x${hexUlong(x).padStart(8, "0")}`).join(", ");
    }
    return `sys_${sysName(name)}(${Object.entries(args).map(([k, x]) => `${k}: ${sysArgKernel(x, v)}`).join(", ")})`;
  }
  if (name.startsWith("sys_exit_")) {
    const ret = `0x${hexUlong(Number(f.ret))}`;
    return flavor === "trace-cmd" ? head(name) + ret : `sys_${sysName(name)} -> ${ret}`;
  }
  switch (name) {
    case "mm_migrate_pages_start":
      return head(name) + `mode=${String(f.mode)} reason=${reasonText(f.reason, v)}`;
    case "mm_migrate_pages":
      return head(name) + `nr_succeeded=${f.nr_succeeded} nr_failed=${f.nr_failed} nr_thp_succeeded=${f.nr_thp_succeeded} ` +
        `nr_thp_failed=${f.nr_thp_failed} nr_thp_split=${f.nr_thp_split}${v === "6.1" ? "" : ` nr_split=${f.nr_split}`} ` +
        `mode=${String(f.mode)} reason=${reasonText(f.reason, v)}`;
    case "set_migration_pte": case "remove_migration_pte":
      return head(name) + `addr=${hexUlong(Number(f.addr))}, pte=${String(f.pte)} order=${f.order}`;
    case "set_migration_pmd": case "remove_migration_pmd":
      return head(name) + `addr=${hexUlong(Number(f.addr))}, pmd=${String(f.pmd)}`;
    case "tlb_flush": {
      const r = TLB_REASON_VALUE[String(f.reason)] ?? Number(f.reason);
      if (flavor === "trace-cmd") return head(name) + `pages=${f.pages} reason=${TLB_STRINGS_PLUGIN[r] ?? ""} (${r})`;
      const table = v === "mainline" ? TLB_STRINGS_NEW : TLB_STRINGS_OLD;
      return head(name) + `pages:${f.pages} reason:${table[r] ?? `0x${r.toString(16)}`} (${r})`;
    }
    case "irq_handler_entry":
      return head(name) + `irq=${f.irq} name=${String(f.name)}`;
    case "irq_handler_exit":
      return head(name) + `irq=${f.irq} ret=${f.handled ? "handled" : "unhandled"}`;
  }
  return head(printedName(name)) + genericText(f);
}

/**
 * The five-character latency flags the kernel prints for the event (spec 6.1): page-table-lock
 * sections `...1.`; syscall lines `...1.` on 6.x and `.....` on 7.2; the batched `remote ipi send`
 * `...1.` and a range or page one `...2.`; local shootdowns with interrupts off `d..2.`; hard-IRQ
 * handlers `d.h1.` on an idle CPU and `d.h..` over a user task. libtraceevent decodes all of these the
 * same way, so both flavours share them.
 */
export function eventFlags(rec: TraceRecord, v: KernelVersion): string {
  if (rec.ctx === TRACE_CTX_IRQ_IDLE) return "d.h1.";
  if (rec.ctx === TRACE_CTX_IRQ_TASK) return "d.h..";
  if (rec.ctx === TRACE_CTX_DEVICE) return ".....";
  const name = rec.name;
  if (name.startsWith("sys_enter_") || name.startsWith("sys_exit_")) return v === "mainline" ? "....." : "...1.";
  switch (name) {
    case "set_migration_pte": case "remove_migration_pte": case "set_migration_pmd": case "remove_migration_pmd":
      return "...1.";
    case "tlb_flush": {
      const r = String(rec.fields.reason);
      if (r === "TLB_REMOTE_SEND_IPI") return rec.fields.pages === -1 ? "...1." : "...2.";
      if (r === "TLB_LOCAL_SHOOTDOWN" || r === "TLB_LOCAL_MM_SHOOTDOWN") return "d..2.";
      return ".....";
    }
  }
  return ".....";
}
