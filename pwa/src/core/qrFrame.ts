// One camera frame through the JS QR decoder (@paulmillr/qr), turned a quarter more on each attempt.
//
// Why turn: the decoder's finder search scans rows top-down and stops at the first three
// finder-like patterns of equal module size. When the data area holds a pattern that looks like
// a finder (1:1:3:1:1 across, down and diagonally) above the bottom-left finder, every frame of a
// steady camera decodes nothing; ~2% of pairing links (version 12) do that at 0°. The same code
// read at another quarter turn is scanned in another order: all 1000 sampled links decoded within
// four turns.

export { default as decodeQR } from '@paulmillr/qr/decode.js';

export interface Frame {
  width: number;
  height: number;
  data: Uint8ClampedArray; // RGBA, 4 bytes a pixel
}
export type Decode = (img: Frame) => string;

/** `img` turned clockwise by `turns` quarter turns (0 returns `img` itself). */
export function turnFrame(img: Frame, turns: number): Frame {
  const t = ((turns % 4) + 4) % 4;
  if (t === 0) return img;
  const { width: w, height: h } = img;
  const src = new Uint32Array(img.data.buffer, img.data.byteOffset, w * h);
  const data = new Uint8ClampedArray(w * h * 4);
  const dst = new Uint32Array(data.buffer);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = src[y * w + x];
      if (t === 1) dst[x * h + (h - 1 - y)] = p;
      else if (t === 2) dst[(h - 1 - y) * w + (w - 1 - x)] = p;
      else dst[(w - 1 - x) * h + y] = p;
    }
  return t === 2 ? { width: w, height: h, data } : { width: h, height: w, data };
}

/** Text of the QR code in `img` read at quarter turn `attempt % 4`, or null (none found). */
export function decodeFrame(decode: Decode, img: Frame, attempt: number): string | null {
  try {
    return decode(turnFrame(img, attempt));
  } catch {
    return null; // no QR code in this frame at this turn
  }
}
