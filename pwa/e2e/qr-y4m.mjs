// Writes a .y4m video showing a QR code, for Chromium's fake camera (--use-file-for-fake-video-capture).
import { writeFileSync } from 'node:fs';
import encodeQR from '@paulmillr/qr';

export /** A two-frame I420 .y4m showing `text` as a QR code (black on white, quiet zone). */
function qrY4M(text, file, size = 480) {
  const grid = encodeQR(text, 'raw', { ecc: 'medium', border: 4 });
  const n = grid.length;
  const cell = Math.floor(size / n);
  const off = Math.floor((size - cell * n) / 2);
  const y = Buffer.alloc(size * size, 235);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      if (!grid[r][c]) continue;
      for (let dy = 0; dy < cell; dy++) y.fill(16, (off + r * cell + dy) * size + off + c * cell, (off + r * cell + dy) * size + off + (c + 1) * cell);
    }
  const uv = Buffer.alloc((size / 2) * (size / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, uv]);
  writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${size} H${size} F5:1 Ip A1:1 C420jpeg\n`), frame, frame]));
}
