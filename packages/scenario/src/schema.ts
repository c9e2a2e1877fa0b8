/**
 * The scenario file format, version 1, as a zod schema. docs/scenarios.md documents every field; the
 * `.describe()` texts here are the short form and end up in the JSON Schema (`scenarioJsonSchema()`).
 *
 * Values that name places use small string languages, checked again after parsing (check.ts):
 * - sizes: `4096`, `"4KiB"`, `"2MiB"`, `"1GiB"`, `"3p"` (pages);
 * - addresses: `"buf"`, `"buf+4096"`, `"buf+2MiB-1"`, `"NULL"`, `"KERNEL"`, `"NONCANONICAL"`,
 *   `"0x7f0000000000"`, `"$i"` (a repeat variable), combined with + and -.
 */
import { z } from "zod";

/** Current (and only) format version. */
export const SCENARIO_FORMAT_VERSION = 1;

const sizeRe = /^\s*(\d+|0x[0-9a-fA-F]+)\s*(B|K|KiB|KB|M|MiB|MB|G|GiB|GB|p|pages?)?\s*$/;
const Size = z.union([z.number().int().nonnegative(), z.string().regex(sizeRe, "a size like 4096, \"4KiB\", \"2MiB\" or \"3p\" (pages)")])
  .describe("bytes: a number, or a string with a unit (KiB, MiB, GiB, or p for 4 KiB pages)");
const Addr = z.union([z.number().int().nonnegative(), z.string().min(1)])
  .describe("an address expression: labels, numbers and NULL/KERNEL/NONCANONICAL joined with + and -");
const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "a name of letters, digits, _ . -");
const NodeId = z.number().int().min(0).max(1023);
const VarRef = z.string().regex(/^\$[A-Za-z_][A-Za-z0-9_]*$/, "a repeat variable like \"$n\"");
const IntOrVar = z.union([z.number().int(), VarRef]);
const ErrnoName = z.string().regex(/^-?E[A-Z0-9]+$/, "an errno name like \"EFAULT\"");

export const KernelVersionSchema = z.enum(["6.1", "6.12", "mainline"]).describe("kernel whose behaviour to emulate");

const ThpPolicy = z.enum(["always", "madvise", "never"]);
const ThpSize = z.enum(["8K", "16K", "32K", "64K", "128K", "256K", "512K", "1M", "2M"]);

const NodeSchema = z.object({
  id: NodeId.describe("node id (0..1023; ids may have gaps)"),
  memory: Size.describe("memory of the node; 0 makes a memoryless (CPU-only) node"),
  cpus: z.number().int().min(0).max(256).default(1).describe("CPUs on the node (numbered across nodes in order)"),
  movable: Size.default(0).describe("ZONE_MOVABLE at the top of the node (movablecore=); the rest is DMA/DMA32/Normal by address"),
}).strict();

const VmSysctlSchema = z.object({
  min_free_kbytes: z.number().int().min(0).max(2 ** 31 - 1).optional()
    .describe("vm.min_free_kbytes as written by the user; omitted, the kernel's boot value (khugepaged raises it while THP is enabled)"),
  watermark_scale_factor: z.number().int().min(1).max(3000).default(10).describe("vm.watermark_scale_factor (1/10000 of a zone between watermarks)"),
  lowmem_reserve_ratio: z.tuple([z.number().int().min(0), z.number().int().min(0), z.number().int().min(0), z.number().int().min(0)])
    .default([256, 256, 32, 0]).describe("vm.lowmem_reserve_ratio for DMA, DMA32, Normal, Movable"),
}).strict();

const TimingSchema = z.union([
  z.enum(["none", "simple"]),
  z.object({
    default: z.number().nonnegative().optional().describe("ns per unit for kinds not listed"),
    costs: z.record(z.string(), z.number().nonnegative()).default({}).describe("ns per unit by cost kind name, e.g. CPU_COPY_BYTE"),
  }).strict(),
]).describe("how much virtual time kernel work takes: none, the built-in simple table, or a table");

const MachineSchema = z.object({
  nodes: z.array(NodeSchema).min(1),
  hugetlb: z.record(z.string().regex(/^\d+$/), z.number().int().nonnegative()).default({})
    .describe("2 MiB hugetlb pool size per node id (nr_hugepages)"),
  thp: z.union([ThpPolicy, z.object({
    anon: z.partialRecord(ThpSize, ThpPolicy).default({}).describe("anonymous (m)THP policy per folio size"),
    shmem: z.union([z.literal("never"), ThpSize]).default("never").describe("largest folio for shmem/memfd"),
  }).strict()]).default("never").describe("THP settings; a single policy applies to 2M anonymous THP"),
  nrMaxBatchedMigration: z.number().int().min(1).max(1 << 18).default(512).describe("NR_MAX_BATCHED_MIGRATION in base pages"),
  seed: z.number().int().default(1),
  timing: TimingSchema.default("simple"),
  check: z.boolean().default(false).describe("attach mm-core's invariant checker"),
  vm: VmSysctlSchema.default({ watermark_scale_factor: 10, lowmem_reserve_ratio: [256, 256, 32, 0] })
    .describe("the /proc/sys/vm settings that size the zone watermarks and reserves"),
}).strict();

const CapName = z.string().regex(/^(CAP_)?[A-Z_]+$/, "a capability name like CAP_SYS_NICE");
const NodeList = z.array(NodeId);

const ThreadSchema = z.object({
  name: Name,
  pid: z.number().int().positive().optional(),
  cpu: z.number().int().min(0).default(0),
  cpuset: NodeList.optional().describe("the thread's own cpuset mems (default: the process's)"),
}).strict();

const ProcessSchema = z.object({
  name: Name,
  pid: z.number().int().positive().optional(),
  kernelThread: z.boolean().default(false),
  uid: z.number().int().min(0).default(0),
  gid: z.number().int().min(0).optional().describe("default: the uid"),
  euid: z.number().int().min(0).optional(),
  suid: z.number().int().min(0).optional(),
  egid: z.number().int().min(0).optional(),
  sgid: z.number().int().min(0).optional(),
  caps: z.union([z.literal("all"), z.array(CapName)]).optional().describe("effective and permitted capabilities (default: all for uid 0, none otherwise)"),
  userNs: z.enum(["init", "child"]).default("init").describe("child: a user namespace owned by this process's uid"),
  cpu: z.number().int().min(0).default(0),
  cpuset: NodeList.optional().describe("cpuset mems (default: every node)"),
  dumpable: z.boolean().default(true),
  lsmMovememory: ErrnoName.optional().describe("an LSM denies task_movememory on this process with this errno (SELinux: EACCES)"),
  threads: z.array(ThreadSchema).default([]).describe("threads besides the main one"),
}).strict();

const FileSchema = z.object({
  name: Name,
  kind: z.enum(["file", "memfd"]).describe("a disk file (pages read in with recognisable contents) or memfd/shmem"),
  size: Size,
}).strict();

const Prot = z.union([z.number().int(), z.array(z.enum(["NONE", "READ", "WRITE", "EXEC"]))]);
const MmapFlag = z.enum(["SHARED", "PRIVATE", "ANONYMOUS", "FIXED", "LOCKED", "POPULATE", "HUGETLB"]);
const MoveFlag = z.enum(["MOVE", "MOVE_ALL", "STRICT", "LAZY"]);

/** What a step may expect of its result. */
const StatusValue = z.union([z.number().int(), ErrnoName, z.literal("untouched"), z.literal("*"), VarRef]);
const StatusExpect = z.union([
  z.array(StatusValue),
  z.object({
    all: StatusValue.optional(),
    at: z.record(z.string().regex(/^\d+$/), StatusValue).optional(),
    counts: z.record(z.string(), IntOrVar).optional().describe("how many entries hold each value (keys are status values)"),
  }).strict(),
]);
const RetExpect = z.union([z.number().int(), z.enum(["positive", "nonnegative", "any"]), VarRef]);

const ErrnoExpect = z.union([ErrnoName, z.literal(0), z.array(z.union([ErrnoName, z.literal(0)])).min(1)])
  .describe("errno name, 0 for success, or a list of acceptable ones");
const SyscallExpect = z.object({
  ret: RetExpect.optional().describe("the user-visible return value (-1 on error)"),
  errno: ErrnoExpect.optional(),
  status: StatusExpect.optional(),
}).strict();

const OpExpect = z.object({
  ret: RetExpect.optional(),
  errno: ErrnoExpect.optional(),
}).strict();

const common = {
  name: z.string().optional().describe("a title for reports"),
};
const proc = { process: Name.describe("the process (or thread) doing it") };

const PageList = z.union([
  z.array(Addr),
  z.object({ range: Addr, count: z.number().int().nonnegative(), stride: Size.default(4096) }).strict(),
]);
const NodeValues = z.union([
  z.array(IntOrVar),
  z.object({ fill: IntOrVar, count: z.number().int().nonnegative() }).strict(),
]);

/** Where an argument array goes: a fresh area (default), a given address, or a raw pointer value. */
const Placement = {
  pagesAt: Addr.optional().describe("store the pages array at this address instead of a fresh area"),
  nodesAt: Addr.optional(),
  statusAt: Addr.optional(),
};

const Mmap = z.object({
  op: z.literal("mmap"), ...common, ...proc,
  as: Name.describe("label for the returned address"),
  len: Size,
  prot: Prot.default(["READ", "WRITE"]),
  flags: z.array(MmapFlag).default(["PRIVATE", "ANONYMOUS"]),
  file: Name.optional(),
  offset: Size.default(0),
  addr: Addr.optional().describe("hint (or the address with FIXED)"),
  align: Size.optional().describe("over-allocate and label the first address aligned to this (e.g. \"2MiB\")"),
  expect: OpExpect.optional(),
}).strict();

const Range = { addr: Addr, len: Size };
const Munmap = z.object({ op: z.literal("munmap"), ...common, ...proc, ...Range, expect: OpExpect.optional() }).strict();
const Mprotect = z.object({ op: z.literal("mprotect"), ...common, ...proc, ...Range, prot: Prot, expect: OpExpect.optional() }).strict();
const Mlock = z.object({ op: z.literal("mlock"), ...common, ...proc, ...Range, onFault: z.boolean().default(false), expect: OpExpect.optional() }).strict();
const Munlock = z.object({ op: z.literal("munlock"), ...common, ...proc, ...Range, expect: OpExpect.optional() }).strict();
const Madvise = z.object({
  op: z.literal("madvise"), ...common, ...proc, ...Range,
  advice: z.enum(["HUGEPAGE", "NOHUGEPAGE", "DONTNEED", "PAGEOUT", "MERGEABLE", "UNMERGEABLE"]),
  expect: OpExpect.optional(),
}).strict();
const KsmScan = z.object({ op: z.literal("ksm_scan"), ...common, expect: z.object({ merged: z.number().int().optional(), pagesShared: z.number().int().optional() }).strict().optional() }).strict();
const Fork = z.object({ op: z.literal("fork"), ...common, parent: Name, child: Name, pid: z.number().int().positive().optional(), cpu: z.number().int().min(0).optional() }).strict();
const Exit = z.object({ op: z.literal("exit"), ...common, ...proc }).strict();
const Reap = z.object({ op: z.literal("reap"), ...common, ...proc }).strict();
const Thread = z.object({ op: z.literal("thread"), ...common, ...proc, thread: Name, cpu: z.number().int().min(0).default(0), pid: z.number().int().positive().optional(), cpuset: NodeList.optional() }).strict();
const Setresuid = z.object({ op: z.literal("setresuid"), ...common, ...proc, ruid: z.number().int().min(-1).default(-1), euid: z.number().int().min(-1).default(-1), suid: z.number().int().min(-1).default(-1), expect: OpExpect.optional() }).strict();
const Setresgid = z.object({ op: z.literal("setresgid"), ...common, ...proc, rgid: z.number().int().min(-1).default(-1), egid: z.number().int().min(-1).default(-1), sgid: z.number().int().min(-1).default(-1), expect: OpExpect.optional() }).strict();
const Capset = z.object({ op: z.literal("capset"), ...common, ...proc, effective: z.array(CapName), permitted: z.array(CapName).optional(), expect: OpExpect.optional() }).strict();
const Dumpable = z.object({ op: z.literal("prctl_set_dumpable"), ...common, ...proc, value: z.number().int(), expect: OpExpect.optional() }).strict();
const SetCpuset = z.object({ op: z.literal("set_cpuset"), ...common, ...proc, nodes: NodeList }).strict();

const Data = z.object({
  pattern: z.union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/)]).optional().describe("a 32-bit fill pattern"),
  bytes: z.string().regex(/^([0-9a-fA-F]{2}\s*)+$/).optional().describe("hex bytes"),
  zero: z.literal(true).optional(),
}).strict();

const Write = z.object({
  op: z.literal("write"), ...common, ...proc, addr: Addr, len: Size.default(4096),
  pattern: z.union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/)]).optional().describe("32-bit pattern to fill with (whole pages)"),
  bytes: z.string().regex(/^([0-9a-fA-F]{2}\s*)+$/).optional().describe("hex bytes to store at addr"),
  expect: z.object({ fault: z.boolean().optional() }).strict().optional(),
}).strict();
const Read = z.object({
  op: z.literal("read"), ...common, ...proc, addr: Addr, len: Size.default(1),
  expect: z.object({ fault: z.boolean().optional(), data: Data.optional() }).strict().optional(),
}).strict();
const Touch = z.object({
  op: z.literal("touch"), ...common, ...proc, addr: Addr, len: Size.default(4096), write: z.boolean().default(true),
  expect: z.object({ fault: z.boolean().optional() }).strict().optional(),
}).strict();
const Pin = z.object({ op: z.literal("pin"), ...common, ...proc, addr: Addr, as: Name, write: z.boolean().default(false), expect: OpExpect.optional() }).strict();
const Unpin = z.object({ op: z.literal("unpin"), ...common, pin: Name }).strict();
const Device = z.object({ op: z.literal("device"), ...common, ...proc, addr: Addr, kind: z.enum(["coherent", "private"]), node: NodeId }).strict();
const Pfnmap = z.object({ op: z.literal("pfnmap"), ...common, ...proc, as: Name, len: Size, prot: Prot.default(["READ", "WRITE"]), node: NodeId }).strict();

const MovePages = z.object({
  op: z.literal("move_pages"), ...common, ...proc,
  pid: z.union([z.number().int(), Name]).default(0).describe("0, a number, or a process/thread name"),
  count: z.union([z.number().int().nonnegative(), z.string()]).optional().describe("default: the number of pages given"),
  pages: z.union([PageList, z.object({ raw: Addr }).strict()]).describe("addresses, a range, or {raw: pointer}"),
  nodes: z.union([NodeValues, z.object({ raw: Addr }).strict(), z.null()]).default(null).describe("null selects stat mode"),
  status: z.union([z.literal("auto"), z.object({ raw: Addr }).strict()]).default("auto"),
  statusFill: z.number().int().default(-999).describe("what status holds before the call"),
  flags: z.union([z.number().int(), z.array(MoveFlag)]).default(["MOVE"]),
  ...Placement,
  expect: SyscallExpect.optional(),
}).strict();

const MigratePages = z.object({
  op: z.literal("migrate_pages"), ...common, ...proc,
  pid: z.union([z.number().int(), Name]).default(0),
  maxnode: z.union([z.number().int().nonnegative(), z.string().regex(/^(ULONG_MAX|\d+)$/)]).default(1025),
  old: z.union([NodeList, z.object({ raw: Addr }).strict()]),
  new: z.union([NodeList, z.object({ raw: Addr }).strict()]),
  expect: OpExpect.optional(),
}).strict();

const PageExpect = z.object({
  node: z.union([z.number().int(), VarRef]).optional().describe("node holding each page"),
  present: z.boolean().optional(),
  order: z.number().int().min(0).optional().describe("folio order (9 = a 2 MiB THP or hugetlb page)"),
  hugetlb: z.boolean().optional(),
  ksm: z.boolean().optional(),
  mlocked: z.boolean().optional(),
  swapped: z.boolean().optional(),
  zeroPage: z.boolean().optional(),
  data: Data.optional(),
  sameAs: z.object({ process: Name, addr: Addr }).strict().optional().describe("mapped to the same page as another address"),
}).strict();
const Inspect = z.object({
  op: z.literal("inspect"), ...common, ...proc, addr: Addr, pages: z.number().int().min(1).default(1),
  stride: Size.default(4096),
  expect: PageExpect.optional(),
}).strict();

const Spawn = z.object({
  op: z.literal("spawn"), ...common, ...proc, thread: Name.optional().describe("the thread that runs it (default: the process's main thread)"),
  as: Name, kind: z.enum(["read", "write"]), addr: Addr, pages: z.number().int().min(1).default(1),
  everyNs: z.number().int().min(1).default(100), count: z.number().int().min(1).optional().describe("default: until stopped"),
}).strict();
const Stop = z.object({
  op: z.literal("stop"), ...common, activity: Name,
  expect: z.object({
    minAccesses: z.number().int().optional(),
    minMigrationWaits: z.number().int().optional(),
    faults: z.number().int().optional().describe("accesses that failed"),
    intact: z.boolean().optional().describe("every page written holds the last value written"),
  }).strict().optional(),
}).strict();
const Sleep = z.object({ op: z.literal("sleep"), ...common, ns: z.number().int().nonnegative() }).strict();
const VmEvents = z.object({
  op: z.literal("vm_events"), ...common,
  expect: z.partialRecord(z.enum(["pgmigrate_success", "pgmigrate_fail", "thp_migration_success", "thp_migration_fail", "thp_migration_split"]), z.number().int()).optional(),
}).strict();
const NodeInfo = z.object({
  op: z.literal("node_info"), ...common, node: NodeId,
  expect: z.object({
    minFree: Size.optional(), maxFree: Size.optional(), hugetlbFree: z.number().int().optional(),
    min: Size.optional().describe("Σ of the node's zones' MIN watermarks"),
    low: Size.optional().describe("Σ of the node's zones' LOW watermarks"),
    high: Size.optional().describe("Σ of the node's zones' HIGH watermarks"),
    minFreeKbytes: z.number().int().optional().describe("vm.min_free_kbytes (machine-wide)"),
  }).strict().optional(),
}).strict();
const FillNode = z.object({
  op: z.literal("fill_node"), ...common, node: NodeId, leave: Size.default(0).describe("bytes to leave free"),
  above: z.enum(["none", "min", "low", "high"]).default("none")
    .describe("count `leave` above this watermark of the node's highest zone (what an allocation there may still take)"),
  fragment: z.boolean().default(false).describe("leave free memory only as scattered 4 KiB pages (no 2 MiB block)"),
}).strict();

type Step = z.infer<typeof Mmap> | z.infer<typeof Munmap> | z.infer<typeof Mprotect> | z.infer<typeof Mlock> |
  z.infer<typeof Munlock> | z.infer<typeof Madvise> | z.infer<typeof KsmScan> | z.infer<typeof Fork> | z.infer<typeof Exit> |
  z.infer<typeof Reap> | z.infer<typeof Thread> | z.infer<typeof Setresuid> | z.infer<typeof Setresgid> | z.infer<typeof Capset> |
  z.infer<typeof Dumpable> | z.infer<typeof SetCpuset> | z.infer<typeof Write> | z.infer<typeof Read> | z.infer<typeof Touch> |
  z.infer<typeof Pin> | z.infer<typeof Unpin> | z.infer<typeof Device> | z.infer<typeof Pfnmap> | z.infer<typeof MovePages> |
  z.infer<typeof MigratePages> | z.infer<typeof Inspect> | z.infer<typeof Spawn> | z.infer<typeof Stop> | z.infer<typeof Sleep> |
  z.infer<typeof VmEvents> | z.infer<typeof NodeInfo> | z.infer<typeof FillNode> | RepeatStep;

interface RepeatStep {
  op: "repeat";
  name?: string | undefined;
  times: number;
  vars: Record<string, Array<number | string>>;
  steps: Step[];
}

const Repeat: z.ZodType<RepeatStep> = z.lazy(() => z.object({
  op: z.literal("repeat"), ...common,
  times: z.number().int().min(1).max(100000),
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.array(z.union([z.number(), z.string()])).min(1)).default({})
    .describe("per-iteration values, cycled: {\"n\": [1, 0]} gives $n = 1, 0, 1, ...; $i is the iteration number"),
  steps: z.array(StepSchema),
}).strict()) as unknown as z.ZodType<RepeatStep>;

export const StepSchema: z.ZodType<Step> = z.lazy(() => z.discriminatedUnion("op", [
  Mmap, Munmap, Mprotect, Mlock, Munlock, Madvise, KsmScan, Fork, Exit, Reap, Thread, Setresuid, Setresgid, Capset,
  Dumpable, SetCpuset, Write, Read, Touch, Pin, Unpin, Device, Pfnmap, MovePages, MigratePages, Inspect, Spawn, Stop,
  Sleep, VmEvents, NodeInfo, FillNode, Repeat as never,
])) as unknown as z.ZodType<Step>;

export const ScenarioSchema = z.object({
  $schema: z.string().optional(),
  version: z.literal(SCENARIO_FORMAT_VERSION).describe("format version (1)"),
  name: z.string().min(1),
  description: z.string().optional(),
  source: z.string().optional().describe("what the scenario reproduces (an LTP test, a selftest, a spec section)"),
  kernel: KernelVersionSchema.default("mainline"),
  machine: MachineSchema,
  files: z.array(FileSchema).default([]),
  processes: z.array(ProcessSchema).min(1),
  steps: z.array(StepSchema).min(1),
}).strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioStep = Step;
export type ScenarioRepeat = RepeatStep;
export type ScenarioProcess = z.infer<typeof ProcessSchema>;
export type ScenarioMachine = z.infer<typeof MachineSchema>;
export type MovePagesStep = z.infer<typeof MovePages>;
export type SyscallExpectation = z.infer<typeof SyscallExpect>;
export type StatusExpectation = z.infer<typeof StatusExpect>;
export type PageExpectation = z.infer<typeof PageExpect>;
export type DataExpectation = z.infer<typeof Data>;

/** The JSON Schema of the format (for editors: reference it from a scenario's "$schema"). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSchema, { io: "input", unrepresentable: "any" });
}
