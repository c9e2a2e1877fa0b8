/**
 * SDXI 1.0 structure layouts, register offsets and codes as the proposed Linux driver transcribes
 * them (drivers/dma/sdxi/hw.h, mmio.h; spec dma-hardware.md 3.2-3.7). 64-bit fields are read and
 * written as two little-endian dwords so no BigInt is needed (values stay below 2^53).
 */

// BAR0 registers.
export const SDXI_MMIO_CTL0 = 0x00000;
export const SDXI_MMIO_CTL2 = 0x00010;
export const SDXI_MMIO_STS0 = 0x00100;
export const SDXI_MMIO_CAP0 = 0x00200;
export const SDXI_MMIO_CAP1 = 0x00208;
export const SDXI_MMIO_VERSION = 0x00210;
export const SDXI_MMIO_CXT_L2 = 0x10000;
export const SDXI_MMIO_RKEY = 0x10100;
export const SDXI_MMIO_ERR_CTL = 0x20000;
export const SDXI_MMIO_ERR_STS = 0x20008;
export const SDXI_MMIO_ERR_CFG = 0x20010;
export const SDXI_MMIO_ERR_WRT = 0x20020;
export const SDXI_MMIO_ERR_RD = 0x20028;

// MMIO_CTL0.fn_gsr (requested state).
export const SDXI_GSR_RESET = 0;
export const SDXI_GSR_STOP_SF = 1;
export const SDXI_GSR_STOP_HD = 2;
export const SDXI_GSR_ACTIVE = 3;
// MMIO_STS0.fn_gsv (current state).
export const SDXI_GSV_STOP = 0;
export const SDXI_GSV_INIT = 1;
export const SDXI_GSV_ACTIVE = 2;
export const SDXI_GSV_STOPG_SF = 3;
export const SDXI_GSV_STOPG_HD = 4;
export const SDXI_GSV_ERROR = 5;

// ERR_STS bits (RW1C).
export const SDXI_ERR_STS_STS = 1 << 0;
export const SDXI_ERR_STS_OVF = 1 << 1;
export const SDXI_ERR_STS_ERR = 1 << 3;

// Context states (CXT_STS.state).
export const SDXI_CXT_STOP_SW = 0x0;
export const SDXI_CXT_RUN = 0x1;
export const SDXI_CXT_STOPG_SW = 0x2;
export const SDXI_CXT_STOP_FN = 0x4;
export const SDXI_CXT_STOPG_FN = 0x6;
export const SDXI_CXT_ERR_FN = 0xf;

/** Bytes per descriptor. */
export const SDXI_DESC_SIZE = 64;
/** The spec's minimum ring (64 KiB) and the Linux driver's choice. */
export const SDXI_RING_ENTRIES = 1024;
export const SDXI_CST_BLK_SIZE = 32;
export const SDXI_ERRLOG_ENT_SIZE = 64;
/** The driver caps client contexts at one L1 table. */
export const SDXI_MAX_CXT = 127;

// Descriptor opcode dword bits.
export const SDXI_DSC_VL = 1 << 0;
export const SDXI_DSC_SE = 1 << 1;
export const SDXI_DSC_FE = 1 << 2;
export const SDXI_DSC_CH = 1 << 3;
export const SDXI_DSC_CSR = 1 << 4;
/** csb_ptr bit 0: no completion status block. */
export const SDXI_DSC_NP = 1;

// Operation groups (TYPE) and subtypes.
export const SDXI_GRP_DMAB = 0x001;
export const SDXI_GRP_ADMIN = 0x002;
export const SDXI_GRP_INTR = 0x004;
export const SDXI_DMAB_NOP = 0x01;
export const SDXI_DMAB_COPY = 0x03;
export const SDXI_ADM_CXT_START_NM = 0x03;
export const SDXI_ADM_CXT_STOP = 0x04;
export const SDXI_ADM_SYNC = 0x06;
export const SDXI_INTR = 0x00;

/** CST_BLK.flags bit 31: an error was recorded. */
export const SDXI_CST_ER = 0x80000000;

// Error-log processing steps and sub-steps.
export const SDXI_STEP_DESC_FETCH = 7;
export const SDXI_STEP_CST_BLK = 8;
export const SDXI_STEP_DATA = 10;
export const SDXI_STEP_AKEY = 11;
export const SDXI_SUB_ATF = 1;
export const SDXI_SUB_DAF = 2;
/** Error-log reaction: the context stopped. */
export const SDXI_RE_CXT_STOP = 1;

export function rd64(v: DataView, off: number): number {
  return v.getUint32(off, true) + v.getUint32(off + 4, true) * 0x1_0000_0000;
}

export function wr64(v: DataView, off: number, x: number): void {
  v.setUint32(off, x % 0x1_0000_0000, true);
  v.setUint32(off + 4, Math.floor(x / 0x1_0000_0000), true);
}

/** The opcode dword of a descriptor. */
export function sdxiOpcode(type: number, subtype: number, flags: number): number {
  return ((type & 0x7ff) << 16) | ((subtype & 0xff) << 8) | (flags & 0x3f);
}

/** Encode a DSC_DMAB_COPY (size is stored as bytes - 1) with VL clear. */
export function encodeSdxiCopy(v: DataView, off: number, flags: number, len: number, src: number, dst: number, csb: number): void {
  for (let i = 0; i < SDXI_DESC_SIZE; i += 4) v.setUint32(off + i, 0, true);
  v.setUint32(off, sdxiOpcode(SDXI_GRP_DMAB, SDXI_DMAB_COPY, flags & ~SDXI_DSC_VL) >>> 0, true);
  v.setUint32(off + 4, (len - 1) >>> 0, true);
  wr64(v, off + 16, src);
  wr64(v, off + 24, dst);
  wr64(v, off + 56, csb === 0 ? SDXI_DSC_NP : csb);
}

/** Encode a generic descriptor (NOP, INTR, admin) with VL clear; `body` writes the operation fields. */
export function encodeSdxiGeneric(v: DataView, off: number, type: number, subtype: number, flags: number, csb: number, body?: (v: DataView, off: number) => void): void {
  for (let i = 0; i < SDXI_DESC_SIZE; i += 4) v.setUint32(off + i, 0, true);
  v.setUint32(off, sdxiOpcode(type, subtype, flags & ~SDXI_DSC_VL) >>> 0, true);
  body?.(v, off);
  wr64(v, off + 56, csb === 0 ? SDXI_DSC_NP : csb);
}

/** Set the valid bit last, after the rest of the descriptor is written (the publication order of spec 3.4). */
export function sdxiSetValid(v: DataView, off: number): void {
  v.setUint32(off, (v.getUint32(off, true) | SDXI_DSC_VL) >>> 0, true);
}
