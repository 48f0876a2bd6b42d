/**
 * Reads the fields of an H.264 RBSP (raw byte sequence payload, ITU-T H.264 §7.2): fixed-width
 * unsigned fields and Exp-Golomb codes (§9.1), most significant bit first. The emulation
 * prevention bytes an encoder puts into a NAL unit (00 00 03, §7.4.1) are removed first.
 */

export class RbspReader {
  private readonly bytes: Buffer;
  private position = 0;

  /** `payload`: a NAL unit without its header byte. */
  constructor(payload: Buffer) {
    this.bytes = withoutEmulationPrevention(payload);
  }

  /** `bits` ≤ 32 bits as an unsigned number: u(n) in the syntax tables. */
  u(bits: number): number {
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.bytes[this.position >> 3];
      if (byte === undefined) throw new Error("the RBSP ended before its last field");
      // Multiplication rather than a shift: a 32-bit field must not turn negative.
      value = value * 2 + ((byte >> (7 - (this.position & 7))) & 1);
      this.position++;
    }
    return value;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  /** ue(v): unsigned Exp-Golomb (§9.1). */
  ue(): number {
    let leadingZeros = 0;
    while (this.u(1) === 0) {
      // 32 zeros would encode a value beyond 2^32 - 2, which no H.264 field allows.
      if (++leadingZeros > 31) throw new Error("an Exp-Golomb code longer than 32 bits");
    }
    return 2 ** leadingZeros - 1 + this.u(leadingZeros);
  }

  /** se(v): signed Exp-Golomb, mapped 1 → 1, 2 → -1, 3 → 2… (§9.1.1). */
  se(): number {
    const code = this.ue();
    return code % 2 === 1 ? (code + 1) / 2 : -code / 2;
  }
}

/** 00 00 03 xx → 00 00 xx: the encoder inserted the 03 so the payload never mimics a start code. */
function withoutEmulationPrevention(payload: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  let length = 0;
  let zeros = 0;
  for (const byte of payload) {
    if (zeros >= 2 && byte === 0x03) {
      zeros = 0;
      continue;
    }
    out[length++] = byte;
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, length);
}
