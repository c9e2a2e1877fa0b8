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
import { OPS, type OpName } from "./ops/index.js";
import { STARTABLE_OPS, type StartableOp } from "./concurrent.js";
import { LimitsSchema } from "./limits.js";
import { CapName, common, ErrnoName, Name, NodeId, NodeList, Size } from "./schema-types.js";

/** Current (and only) format version. */
export const SCENARIO_FORMAT_VERSION = 1;

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
  timing: TimingSchema.default("simple").describe("a machine with a profile is timed by the profile instead (leave timing out)"),
  check: z.boolean().default(false).describe("attach mm-core's invariant checker"),
  strictOffload: z.boolean().default(false).describe("fail the run when a batch the migrator should have copied fell back to the CPU copy (the commands' --strict-offload)"),
  profile: z.string().min(1).optional()
    .describe("a hardware profile (name, or file relative to the scenario): CPUs, timing, fabric and DMA devices come from it; nodes then give each node's memory and must list its node ids"),
  migrator: z.string().min(1).optional().describe("migrator to load: a built-in (dcbm, mtcopy) or a plug-in file relative to the scenario; needs profile"),
  engines: z.array(z.string().min(1)).min(1).optional()
    .describe("DMA engine drivers to probe: built-ins (ptdma, sdxi) or plug-in files; default every built-in; needs profile"),
  sysfs: z.record(z.string().min(1), z.union([z.string(), z.number()])).default({})
    .describe("the migrator's sysfs attributes, written in this order after loading it (e.g. nr_dma_chan, reason_mask); its enable attribute gets 1 last unless listed here"),
  modparams: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.record(z.string().min(1), z.union([z.boolean(), z.string()]))).default({})
    .describe("module parameters by module name (the migrator's or an engine's), as modprobe NAME param=value: the driver variants each module declares (e.g. dcbm.checkResults, ptdma.errorsVisibleToClient, sdxi.completionOrder); needs profile"),
  vm: VmSysctlSchema.default({ watermark_scale_factor: 10, lowmem_reserve_ratio: [256, 256, 32, 0] })
    .describe("the /proc/sys/vm settings that size the zone watermarks and reserves"),
}).strict();

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

/** One step: an operation of the table in ops/index.ts, a repeat of steps, or a concurrent call's start or join. */
type OpStep = { [K in OpName]: z.infer<(typeof OPS)[K]["schema"]> }[OpName];
type Step = OpStep | RepeatStep | StartStep | JoinStep;

interface StartStep {
  op: "start";
  name?: string | undefined;
  task: string;
  delayNs: number;
  call: Extract<OpStep, { op: StartableOp }>;
}

interface JoinStep {
  op: "join";
  name?: string | undefined;
  task: string;
  expect?: { mmapLockWaits?: number | undefined; migrationWaits?: number | undefined } | undefined;
}

const Start = z.object({
  op: z.literal("start"), ...common,
  task: Name.describe("a name for the call, used by its join"),
  delayNs: z.number().int().min(0).max(2 ** 52).default(0).describe("virtual ns after this step when the call enters the kernel"),
  call: z.discriminatedUnion("op", STARTABLE_OPS.map((op) => OPS[op].schema) as never)
    .describe(`the call, as a step of its own: ${STARTABLE_OPS.join(", ")}`),
}).strict();

const Join = z.object({
  op: z.literal("join"), ...common,
  task: Name.describe("the started call to wait for"),
  expect: z.object({
    mmapLockWaits: z.number().int().min(0).optional().describe("times the call slept on mmap_lock (before entering, or in a fault)"),
    migrationWaits: z.number().int().min(0).optional().describe("times a fault met a migration entry and slept (touch)"),
  }).strict().optional(),
}).strict();

interface RepeatStep {
  op: "repeat";
  name?: string | undefined;
  times: number;
  vars: Record<string, Array<number | string>>;
  steps: Step[];
}

const Repeat: z.ZodType<RepeatStep> = z.lazy(() => z.object({
  op: z.literal("repeat"), ...common,
  times: z.number().int().min(1).max(2 ** 31).describe("iterations (the expanded step count is capped by limits.steps)"),
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.array(z.union([z.number(), z.string()])).min(1)).default({})
    .describe("per-iteration values, cycled: {\"n\": [1, 0]} gives $n = 1, 0, 1, ...; $i is the iteration number"),
  steps: z.array(StepSchema),
}).strict()) as unknown as z.ZodType<RepeatStep>;

export const StepSchema: z.ZodType<Step> = z.lazy(() => z.discriminatedUnion("op", [
  ...Object.values(OPS).map((o) => o.schema), Repeat, Start, Join,
] as never)) as unknown as z.ZodType<Step>;

export const ScenarioSchema = z.object({
  $schema: z.string().optional(),
  version: z.literal(SCENARIO_FORMAT_VERSION).describe("format version (1)"),
  name: z.string().min(1),
  description: z.string().optional(),
  source: z.string().optional().describe("what the scenario reproduces (an LTP test, a selftest, a spec section)"),
  kernel: KernelVersionSchema.default("mainline"),
  limits: LimitsSchema,
  machine: MachineSchema,
  files: z.array(FileSchema).default([]),
  processes: z.array(ProcessSchema).min(1),
  steps: z.array(StepSchema).min(1),
}).strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioStep = Step;
export type ScenarioRepeat = RepeatStep;
export type ScenarioStart = StartStep;
export type ScenarioJoin = JoinStep;
export type ScenarioProcess = z.infer<typeof ProcessSchema>;
export type ScenarioMachine = z.infer<typeof MachineSchema>;
export type { MovePagesStep, PageExpectation } from "./ops/index.js";
export type { SyscallExpectation, StatusExpectation, DataExpectation } from "./schema-types.js";

/** The JSON Schema of the format (for editors: reference it from a scenario's "$schema"). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSchema, { io: "input", unrepresentable: "any" });
}
