// Shared with the single-node suite: one copy of the harness.
export * from '../../integration/lib/http.mjs';
