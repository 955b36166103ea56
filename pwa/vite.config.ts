import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** Emit sw.js with the exact list of built shell files (no runtime API caching). */
function serviceWorker(): Plugin {
  return {
    name: 'remote-sw',
    apply: 'build',
    generateBundle(_opts, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const statics = ['manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png'];
      const precache = ['./', './index.html', ...[...files, ...statics].map((f) => `./${f}`)];
      const uniq = [...new Set(precache)].sort();
      const version = createHash('sha256').update(uniq.join('\n')).digest('hex').slice(0, 12);
      const src = readFileSync(new URL('./sw/sw.js', import.meta.url), 'utf8')
        .replace('__VERSION__', version)
        .replace('__PRECACHE__', JSON.stringify(uniq));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: src });
    },
  };
}

// Relative base so the built app works under any path (e.g. https://host/rc/).
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [serviceWorker()],
  build: {
    target: 'es2020',
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
  },
});
