import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { defineConfig, type Plugin } from 'vitest/config';

/**
 * First render (issue 15): the stylesheet is inlined into index.html (3.8 KB gzipped), so the
 * static boot card in index.html paints as soon as the HTML arrives instead of after a second
 * round trip for render-blocking CSS; the module script keeps loading in parallel.
 */
function inlineCss(bundle: Record<string, { type: string; fileName: string; source?: unknown }>): void {
  const html = bundle['index.html'];
  if (!html || html.type !== 'asset') throw new Error('inline-css: index.html not in the bundle');
  let text = String(html.source);
  for (const [name, item] of Object.entries(bundle)) {
    if (item.type !== 'asset' || !name.endsWith('.css')) continue;
    const link = new RegExp(`<link rel="stylesheet"[^>]*href="\\./${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>`);
    if (!link.test(text)) throw new Error(`inline-css: no <link> for ${name}`);
    const css = String(item.source).replace(/<\/style/gi, '<\\/style');
    text = text.replace(link, () => `<style>${css}</style>`);
    delete bundle[name];
  }
  html.source = text;
}

/**
 * Browsers the PWA supports: current Chromium (Android) and Safari/iOS 15+. Naming them instead of
 * 'es2020' keeps class fields, `??=` and the like native instead of lowered helper calls.
 */
const BROWSERS = ['chrome100', 'safari15', 'ios15'];

/**
 * Bundle budget (issue 15): core/markdown only uses marked's Lexer, but marked's single ESM file
 * ends in a module-level `new Marked()` instance that keeps the Parser, Renderers, Hooks and the
 * Marked class alive (rollup cannot prove them unused; ~3 KB gzipped). Keep only the part of the
 * file up to the Lexer and export just that. Fails the build if the file no longer has the
 * expected layout (a marked upgrade must be re-checked), so nothing is silently dropped.
 */
export function markedLexerOnly(code: string): string {
  const cut = code.indexOf('\nvar _Renderer = class {');
  const lexer = code.indexOf('\nvar _Lexer = class __Lexer {');
  const tail = code.slice(cut);
  if (lexer < 0 || cut < lexer || !/\n {2}_Lexer as Lexer,\n/.test(tail)) throw new Error('marked-lexer-only: unexpected marked.esm.js layout');
  const head = code.slice(0, cut);
  for (const later of ['_Renderer', '_TextRenderer', '_Parser', '_Hooks', 'markedInstance'])
    if (new RegExp(`\\b${later}\\b`).test(head)) throw new Error(`marked-lexer-only: the Lexer part uses ${later}`);
  return `${head}\nexport { _Lexer as Lexer };\n`;
}

function markedLexer(): Plugin {
  return {
    name: 'marked-lexer-only',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]node_modules[\\/]marked[\\/]lib[\\/]marked\.esm\.js$/.test(id)) return null;
      return { code: markedLexerOnly(code), map: null };
    },
  };
}

/** sw/sw.js (+ the push handlers it imports) as one small minified classic script. */
async function bundleServiceWorker(version: string, precache: string[]): Promise<string> {
  const out = await esbuild({
    entryPoints: [fileURLToPath(new URL('./sw/sw.js', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'iife',
    target: BROWSERS,
    write: false,
    legalComments: 'none',
    define: { __VERSION__: JSON.stringify(version), __PRECACHE__: JSON.stringify(precache) },
  });
  return out.outputFiles[0].text;
}

/** Emit sw.js with the exact list of built shell files (no runtime API caching). */
function serviceWorker(): Plugin {
  return {
    name: 'remote-sw',
    apply: 'build',
    enforce: 'post',
    async generateBundle(_opts, bundle) {
      inlineCss(bundle as unknown as Parameters<typeof inlineCss>[0]);
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const statics = ['manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png'];
      const precache = ['./', './index.html', ...[...files, ...statics].map((f) => `./${f}`)];
      const uniq = [...new Set(precache)].sort();
      const version = createHash('sha256').update(uniq.join('\n')).digest('hex').slice(0, 12);
      const src = await bundleServiceWorker(version, uniq);
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: src });
    },
  };
}

// Relative base so the built app works under any path (e.g. https://host/rc/).
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [markedLexer(), serviceWorker()],
  build: {
    target: BROWSERS,
    // the only dynamic import (the scanner's decoder) has no shared chunks, and the page lists no
    // <link rel=modulepreload>: vite's modulepreload polyfill would be dead code
    modulePreload: { polyfill: false },
    // terser packs ~1 KB gzipped tighter than esbuild's minifier here (issue 15's 60 KB budget)
    minify: 'terser',
    terserOptions: { compress: { passes: 2 } },
    outDir: 'dist',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  preview: {
    host: process.env.PWA_HOST || '127.0.0.1',
    port: Number(process.env.PWA_PORT || 4173),
    strictPort: true,
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    // run marked through the plugins too, so the markdown tests exercise the Lexer-only build
    server: { deps: { inline: ['marked'] } },
  },
});
