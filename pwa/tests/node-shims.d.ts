// The few Node built-ins the E2EE tests use (no @types/node dependency for the PWA).
declare module 'node:crypto' {
  export const webcrypto: Crypto;
}
declare module 'node:fs' {
  export function readFileSync(path: URL | string, enc: 'utf8'): string;
  export function writeFileSync(path: URL | string, data: string): void;
}
declare const process: { env: Record<string, string | undefined> };
