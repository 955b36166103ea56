import { defineConfig } from 'vitest/config';

// Relative base so the built app works under any path (e.g. https://host/rc/).
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020',
    outDir: 'dist',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  preview: {
    host: process.env.PWA_HOST || '127.0.0.1',
    port: 4173,
    strictPort: true,
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
