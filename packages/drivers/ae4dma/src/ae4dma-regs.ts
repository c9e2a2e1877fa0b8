/**
 * AE4DMA registers and descriptor format, after drivers/dma/amd/ae4dma/ae4dma.h (Linux 6.14+) and the
 * PTDMA header it includes (spec dma-hardware.md 2.2-2.5). BAR0 holds a common block at 0x00 (the
 * number of queues to enable is written at offset 0) and one 0x20-byte block per hardware queue q at
 * 0x20 x (q + 1). Ring pointers are slot indices, not byte addresses as on PTDMA.
 */

/** Mirrors MAX_AE4_HW_QUEUES. */
export const MAX_AE4_HW_QUEUES = 16;
/** Descriptors per queue ring (CMD_Q_LEN, shared with PTDMA); one slot is always left empty. */
export const AE4_Q_LEN = 32;
/** Size of a descriptor in bytes. */
export const AE4_DESC_SIZE = 32;
/** Size of a queue's register block (AE4_Q_SZ). */
export const AE4_Q_SZ = 0x20;

/** Common block: queues to enable (the driver writes max_hw_q). */
export const AE4_COMMON_CONFIG_OFF = 0x00;
// Per-queue register offsets inside the queue's block.
/** Queue control: RUN is bit 0 (used by the shared stop/start helpers). */
export const AE4_Q_CONTROL_OFF = 0x00;
/** "Enabled Interrupts: status" in debugfs; modelled as the queue's interrupt enable [U]. */
export const AE4_Q_INTR_EN_OFF = 0x04;
/** Mirrors AE4_MAX_IDX_OFF: ring size in entries (the driver writes 32). */
export const AE4_MAX_IDX_OFF = 0x08;
/** Mirrors AE4_RD_IDX_OFF: the hardware's read (consumer) index. */
export const AE4_RD_IDX_OFF = 0x0c;
/** Mirrors AE4_WR_IDX_OFF: the software write (producer) index; writing it is the doorbell. */
export const AE4_WR_IDX_OFF = 0x10;
/** Mirrors AE4_INTR_STS_OFF: bit 0 = completion; the driver acks by writing it back with bit 0 clear. */
export const AE4_INTR_STS_OFF = 0x14;
/** Mirrors AE4_Q_BASE_L_OFF / AE4_Q_BASE_H_OFF: the ring's bus address. */
export const AE4_Q_BASE_L_OFF = 0x18;
export const AE4_Q_BASE_H_OFF = 0x1c;

/** CMD_Q_RUN in the queue control register. */
export const AE4_Q_RUN = 1;
/** INTR_STS bit 0. */
export const AE4_INTR_COMPLETION = 1;

/** Mirrors CMD_AE4_DESC_DW0_VAL: control byte 0x02 (interrupt on completion). */
export const AE4_DESC_DW0_VAL = 2;

// Status byte written back into DW1 (SPDK's spdk_ae4dma_dma_status; AE4_DESC_COMPLETED in Linux).
export const AE4_DESC_SUBMITTED = 0;
export const AE4_DESC_VALIDATED = 1;
export const AE4_DESC_PROCESSED = 2;
/** Mirrors AE4_DESC_COMPLETED. */
export const AE4_DESC_COMPLETED = 3;
/** Any other non-zero status is an error; the code is in DW1 byte 1. */
export const AE4_DESC_ERROR = 4;

// Error codes (spec 2.5).
export const AE4_ERR_INVALID_HEADER = 1;
export const AE4_ERR_INVALID_STATUS = 2;
export const AE4_ERR_LEN_ALIGN = 3;
export const AE4_ERR_SRC_ALIGN = 4;
export const AE4_ERR_DST_ALIGN = 5;
export const AE4_ERR_INVALID_DESC = 7;
/** First "PTE" (address translation) error code; the emulator uses 64 for a source fault and 65 for a destination fault [U]. */
export const AE4_ERR_PTE_SRC = 64;
export const AE4_ERR_PTE_DST = 65;

/** The Linux driver's names of the error codes (ae4_log_error()). */
export function ae4ErrorName(code: number): string {
  switch (code) {
    case AE4_ERR_INVALID_HEADER: return "INVALID HEADER DW0";
    case AE4_ERR_INVALID_STATUS: return "INVALID STATUS";
    case AE4_ERR_LEN_ALIGN: return "INVALID LENGTH - 4 BYTE ALIGNMENT";
    case AE4_ERR_SRC_ALIGN: return "INVALID SRC ADDR - 4 BYTE ALIGNMENT";
    case AE4_ERR_DST_ALIGN: return "INVALID DST ADDR - 4 BYTE ALIGNMENT";
    case 6: return "INVALID ALIGNMENT";
    case AE4_ERR_INVALID_DESC: return "INVALID DESCRIPTOR";
  }
  if (code >= 8 && code <= 15) return "INVALID DESCRIPTOR";
  if (code >= 16 && code <= 31) return "FIRMWARE ERROR";
  if (code >= 32 && code <= 63) return "FATAL ERROR";
  if (code >= 64 && code <= 255) return "PTE ERROR";
  return `UNKNOWN ERROR ${code}`;
}

/** Whether an error code stopped the source side (read) of the transfer. */
export function ae4ErrorIsRead(code: number): boolean {
  return code === AE4_ERR_SRC_ALIGN || code === AE4_ERR_PTE_SRC;
}

/** A decoded descriptor (struct ae4dma_desc). */
export interface Ae4Desc {
  dw0: number;
  status: number;
  errCode: number;
  length: number;
  src: number;
  dst: number;
}

/**
 * Write a descriptor into a ring slot: DW0 control, DW1 status/error (zeroed for the hardware to
 * fill), DW2 length, DW3 reserved, DW4/5 source low/high, DW6/7 destination low/high.
 */
export function encodeAe4Desc(view: DataView, off: number, dw0: number, length: number, src: number, dst: number): void {
  view.setUint32(off, dw0 >>> 0, true);
  view.setUint32(off + 4, 0, true);
  view.setUint32(off + 8, length >>> 0, true);
  view.setUint32(off + 12, 0, true);
  view.setUint32(off + 16, src % 0x1_0000_0000, true);
  view.setUint32(off + 20, Math.floor(src / 0x1_0000_0000), true);
  view.setUint32(off + 24, dst % 0x1_0000_0000, true);
  view.setUint32(off + 28, Math.floor(dst / 0x1_0000_0000), true);
}

/** Read a descriptor from a ring slot into `out`. */
export function decodeAe4Desc(view: DataView, off: number, out: Ae4Desc): Ae4Desc {
  out.dw0 = view.getUint32(off, true);
  const dw1 = view.getUint32(off + 4, true);
  out.status = dw1 & 0xff;
  out.errCode = (dw1 >>> 8) & 0xff;
  out.length = view.getUint32(off + 8, true);
  out.src = view.getUint32(off + 20, true) * 0x1_0000_0000 + view.getUint32(off + 16, true);
  out.dst = view.getUint32(off + 28, true) * 0x1_0000_0000 + view.getUint32(off + 24, true);
  return out;
}

/** The hardware's write-back: status byte and error code into DW1 of the slot. */
export function writeBackAe4Status(view: DataView, off: number, status: number, errCode: number): void {
  const dw1 = view.getUint32(off + 4, true);
  view.setUint32(off + 4, ((dw1 & 0xffff0000) | ((errCode & 0xff) << 8) | (status & 0xff)) >>> 0, true);
}
