// Renders public/icons/icon.svg to PNG icons with the system Chromium (no downloads).
// Usage: node scripts/make-icons.mjs   (PNG outputs are committed; rerun only after editing the SVG)
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const svg = readFileSync(new URL('../public/icons/icon.svg', import.meta.url), 'utf8');
const dataUrl = 'data:image/svg+xml;base64,' + Buffer.from(svg).toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'icons-'));
const browser = await chromium.launchPersistentContext(dir, {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  const out = [
    ['icon-192.png', 192, 0, 'transparent'],
    ['icon-512.png', 512, 0, 'transparent'],
    ['icon-maskable-512.png', 512, 0.12, '#1f6feb'],
  ];
  for (const [name, size, pad, bg] of out) {
    await page.setViewportSize({ width: size, height: size });
    const inner = Math.round(size * (1 - 2 * pad));
    await page.setContent(
      `<html><body style="margin:0;background:${bg};display:flex;align-items:center;justify-content:center;width:${size}px;height:${size}px">` +
        `<img src="${dataUrl}" width="${inner}" height="${inner}"></body></html>`,
    );
    await page.screenshot({ path: new URL(`../public/icons/${name}`, import.meta.url).pathname, omitBackground: bg === 'transparent' });
    console.log('wrote', name);
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
