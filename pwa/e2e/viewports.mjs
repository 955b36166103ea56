// The three viewports every screen is checked at (issue 15: phone 390×844, small phone 320×640,
// tablet 820×1180), the horizontal-overflow check, and the screenshot matrix (each screen in light
// AND dark at each viewport). Screenshots are test artifacts: $E2E_ARTIFACTS (ctest: the build dir)
// or pwa/test-artifacts/, never committed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'small', width: 320, height: 640 },
  { name: 'tablet', width: 820, height: 1180 },
];
export const SCHEMES = ['light', 'dark'];

/** null, or what overflows the viewport horizontally (scrollable code/table/chip strips excepted). */
export function overflowAt(page) {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('.app *')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.right > w + 1 && !e.closest('pre, .table-wrap, .chips');
    });
    const doc = document.documentElement.scrollWidth;
    const body = document.body.scrollWidth;
    if (doc <= w && body <= w && wide.length === 0) return null;
    return JSON.stringify({ w, doc, body, wide: wide.slice(0, 3).map((e) => String(e.className || e.tagName)) });
  });
}

/**
 * Screenshot `screen` at every viewport in both schemes into `dir` (<screen>-<viewport>-<scheme>.png)
 * and fail on horizontal overflow at any of them. With `axe(label)` (throws on serious/critical
 * violations) the accessibility check runs in both schemes at the phone viewport and in dark at the
 * tablet one. Restores the phone viewport and `scheme`.
 */
export async function screenMatrix(page, dir, screen, { scheme = 'dark', settleMs = 150, axe = null } = {}) {
  mkdirSync(dir, { recursive: true });
  const problems = [];
  for (const vp of VIEWPORTS) {
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await page.waitForTimeout(settleMs);
    const o = await overflowAt(page);
    if (o) problems.push(`${vp.name} ${vp.width}px: ${o}`);
    for (const s of SCHEMES) {
      await page.emulateMedia({ colorScheme: s });
      await page.waitForTimeout(30);
      await page.screenshot({ path: join(dir, `${screen}-${vp.name}-${s}.png`) });
      if (axe && (vp.name === 'phone' || (vp.name === 'tablet' && s === 'dark'))) await axe(`${screen} ${vp.name} ${s}`);
    }
  }
  await page.setViewportSize({ width: VIEWPORTS[0].width, height: VIEWPORTS[0].height });
  await page.emulateMedia({ colorScheme: scheme });
  await page.waitForTimeout(settleMs);
  if (problems.length > 0) throw new Error(`horizontal overflow on ${screen}: ${problems.join('; ')}`);
}
