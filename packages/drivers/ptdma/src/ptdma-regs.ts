/**
 * Register offsets, bit fields, error codes and the 32-byte descriptor of the AMD PTDMA engine, as
 * defined in drivers/dma/amd/ptdma/ptdma.h (CCP v5 lineage; spec dma-hardware.md 1.2-1.5, 1.9).
 */

// Global registers (offsets from the BAR2 base).
export const CMD_QUEUE_PRIO_OFFSET = 0x00;
export const CMD_REQID_CONFIG_OFFSET = 0x04;
export const CMD_TIMEOUT_OFFSET = 0x08;
export const CMD_PT_VERSION = 0x10;
export const CMD_CONFIG_OFFSET = 0x1120;
export const CMD_CLK_GATE_CTL_OFFSET = 0x6004;

/** The single queue's register block (CMD_Q_STATUS_INCR × (q + 1), q = 0). */
export const CMD_Q_STATUS_INCR = 0x1000;
// Per-queue registers, relative to the queue block.
export const CMD_Q_CONTROL_BASE = 0x000;
export const CMD_Q_TAIL_LO_BASE = 0x004;
export const CMD_Q_HEAD_LO_BASE = 0x008;
export const CMD_Q_INT_ENABLE_BASE = 0x00c;
export const CMD_Q_INTERRUPT_STATUS_BASE = 0x010;
export const CMD_Q_STATUS_BASE = 0x100;
export const CMD_Q_INT_STATUS_BASE = 0x104;
export const CMD_Q_DMA_STATUS_BASE = 0x108;
export const CMD_Q_DMA_READ_STATUS_BASE = 0x10c;
export const CMD_Q_DMA_WRITE_STATUS_BASE = 0x110;
export const CMD_Q_ABORT_BASE = 0x114;
export const CMD_Q_AX_CACHE_BASE = 0x118;

// Values the driver writes at init (ptdma.h).
export const CMD_CONFIG_VHB_EN = 1;
export const CMD_QUEUE_PRIO = 0x6;
export const CMD_TIMEOUT_DISABLE = 0;
export const CMD_CLK_GATE_CONFIG = 0x1001;
export const CMD_CONFIG_REQID = 0;

// CMD_Q_CONTROL fields.
export const CMD_Q_RUN = 1 << 0;
export const CMD_Q_HALT = 1 << 1;
export const CMD_Q_MEM_LOCATION = 1 << 2;
export const CMD_Q_SIZE_SHIFT = 3;
export const CMD_Q_SIZE_MASK = 0x1f << CMD_Q_SIZE_SHIFT;
export const CMD_Q_BASE_HI_SHIFT = 16;

/** Ring slots the Linux driver uses (CMD_Q_LEN). */
export const CMD_Q_LEN = 32;
/** Bytes per descriptor (Q_DESC_SIZE). */
export const Q_DESC_SIZE = 32;
/** Q_SIZE field for a ring of `entries`: log2(entries) - 1 (QUEUE_SIZE_VAL = 4 for 32). */
export function qSizeVal(entries: number): number {
  return Math.log2(entries) - 1;
}

// Interrupt causes (INT_ENABLE / INTERRUPT_STATUS).
export const INT_COMPLETION = 1 << 0;
export const INT_ERROR = 1 << 1;
export const INT_QUEUE_STOPPED = 1 << 2;
export const INT_EMPTY_QUEUE = 1 << 3;
export const SUPPORTED_INTERRUPTS = INT_COMPLETION | INT_ERROR;

/** CMD_Q_ERROR(): bits 5:0 of Q_STATUS. */
export function cmdQError(qStatus: number): number {
  return qStatus & 0x3f;
}

/** The passthru engine id in DW0. */
export const PT_ENGINE_PASSTHRU = 5;
/** DW0 the Linux driver always writes: IOC=1, EOM=1, FUNCTION=0, ENGINE=5. */
export const CMD_DESC_DW0_VAL = 0x00500012;

// DW0 fields.
export const DWORD0_SOC = 1 << 0;
export const DWORD0_IOC = 1 << 1;
export const DWORD0_INIT = 1 << 3;
export const DWORD0_EOM = 1 << 4;
export const DWORD0_FUNCTION_SHIFT = 5;
export const DWORD0_ENGINE_SHIFT = 20;
export const DWORD0_PROT = 1 << 24;

// Q_STATUS error codes (CCP v5; spec 1.9 gives the correct number-to-name mapping).
export const PT_ERR_ILLEGAL_ENGINE = 0x01;
export const PT_ERR_ILLEGAL_FUNCTION_TYPE = 0x03;
export const PT_ERR_ILLEGAL_FUNCTION_MODE = 0x04;
export const PT_ERR_ILLEGAL_FUNCTION_SIZE = 0x06;
export const PT_ERR_ILLEGAL_FUNCTION_RSVD = 0x08;
export const PT_ERR_ILLEGAL_BUFFER_LENGTH = 0x09;
export const PT_ERR_VLSB_FAULT = 0x0a;
export const PT_ERR_ILLEGAL_MEM_ADDR = 0x0b;
export const PT_ERR_ILLEGAL_MEM_SEL = 0x0c;
export const PT_ERR_ILLEGAL_CONTEXT_ID = 0x0d;
export const PT_ERR_CMD_TIMEOUT = 0x12;
export const PT_ERR_IDMA0_AXI_SLVERR = 0x13;
export const PT_ERR_IDMA0_AXI_DECERR = 0x14;
export const PT_ERR_IDMA1_AXI_SLAVE_FAULT = 0x16;
export const PT_ERR_IDMA1_AXI_DECERR = 0x17;
export const PT_ERR_ODMA0_AXI_SLVERR = 0x26;
export const PT_ERR_ODMA0_AXI_DECERR = 0x27;
export const PT_ERR_ODMA1_AXI_SLVERR = 0x29;
export const PT_ERR_ODMA1_AXI_DECERR = 0x2a;
export const PT_ERR_LSB_PARITY_ERR = 0x2b;

const ERROR_NAMES: Readonly<Record<number, string>> = {
  0x01: "ILLEGAL_ENGINE", 0x03: "ILLEGAL_FUNCTION_TYPE", 0x04: "ILLEGAL_FUNCTION_MODE", 0x06: "ILLEGAL_FUNCTION_SIZE",
  0x08: "ILLEGAL_FUNCTION_RSVD", 0x09: "ILLEGAL_BUFFER_LENGTH", 0x0a: "VLSB_FAULT", 0x0b: "ILLEGAL_MEM_ADDR",
  0x0c: "ILLEGAL_MEM_SEL", 0x0d: "ILLEGAL_CONTEXT_ID", 0x12: "CMD_TIMEOUT", 0x13: "IDMA0_AXI_SLVERR",
  0x14: "IDMA0_AXI_DECERR", 0x16: "IDMA1_AXI_SLAVE_FAULT", 0x17: "IDMA1_AXI_DECERR", 0x26: "ODMA0_AXI_SLVERR",
  0x27: "ODMA0_AXI_DECERR", 0x29: "ODMA1_AXI_SLVERR", 0x2a: "ODMA1_AXI_DECERR", 0x2b: "LSB_PARITY_ERR",
};

/** The error name for a Q_STATUS code (the correct mapping, not the driver's misindexed table). */
export function ptErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `RESERVED_0x${code.toString(16)}`;
}

/** True for codes raised on the read (IDMA) side of a transfer. */
export function ptErrorIsRead(code: number): boolean {
  return code >= 0x13 && code <= 0x17;
}

/** True for codes raised on the write (ODMA) side. */
export function ptErrorIsWrite(code: number): boolean {
  return code >= 0x26 && code <= 0x2a;
}

/** Mirrors struct ptdma_desc: the decoded fields of one 32-byte descriptor. */
export interface PtdmaDesc {
  dw0: number;
  length: number;
  src: number;
  srcMem: number;
  dst: number;
  dstMem: number;
}

/** Write a passthru descriptor as 8 little-endian dwords at `off` (DW6-7 reserved, 0). */
export function encodePtdmaDesc(view: DataView, off: number, dw0: number, length: number, src: number, dst: number): void {
  view.setUint32(off, dw0 >>> 0, true);
  view.setUint32(off + 4, length >>> 0, true);
  view.setUint32(off + 8, src % 0x1_0000_0000, true);
  view.setUint32(off + 12, Math.floor(src / 0x1_0000_0000) & 0xffff, true);
  view.setUint32(off + 16, dst % 0x1_0000_0000, true);
  view.setUint32(off + 20, Math.floor(dst / 0x1_0000_0000) & 0xffff, true);
  view.setUint32(off + 24, 0, true);
  view.setUint32(off + 28, 0, true);
}

/** The same from the split address words (low dword, high 16 bits) the driver keeps. */
export function encodePtdmaDescWords(view: DataView, off: number, dw0: number, length: number, srcLo: number, srcHi: number, dstLo: number, dstHi: number): void {
  view.setInt32(off, dw0 | 0, true);
  view.setInt32(off + 4, length | 0, true);
  view.setInt32(off + 8, srcLo, true);
  view.setInt32(off + 12, srcHi & 0xffff, true);
  view.setInt32(off + 16, dstLo, true);
  view.setInt32(off + 20, dstHi & 0xffff, true);
  view.setInt32(off + 24, 0, true);
  view.setInt32(off + 28, 0, true);
}

/** Read a descriptor back into `out` (no allocation). */
export function decodePtdmaDesc(view: DataView, off: number, out: PtdmaDesc): PtdmaDesc {
  out.dw0 = view.getUint32(off, true);
  out.length = view.getUint32(off + 4, true);
  const dw3 = view.getUint32(off + 12, true);
  const dw5 = view.getUint32(off + 20, true);
  out.src = view.getUint32(off + 8, true) + (dw3 & 0xffff) * 0x1_0000_0000;
  out.srcMem = (dw3 >>> 16) & 3;
  out.dst = view.getUint32(off + 16, true) + (dw5 & 0xffff) * 0x1_0000_0000;
  out.dstMem = (dw5 >>> 16) & 3;
  return out;
}
