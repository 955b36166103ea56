// node:test glue: one relay per describe/file, sockets terminated after every test.
import { before, after, afterEach } from 'node:test';
import { startRelay } from './relay.mjs';
import { WsClient } from './ws.mjs';

/** High HTTP budget so sharing one relay per file never trips the per-IP limiter. */
export const ROOMY = Object.freeze({ MAX_PAIR_REQUESTS_PER_MINUTE: '100000' });

/**
 * Register before/after hooks that start a relay with `env` and kill it afterwards.
 * Returns a holder whose `.relay` is set once started.
 */
export function useRelay(env = {}, opts = {}) {
  const holder = { relay: null };
  before(async () => { holder.relay = await startRelay({ ...ROOMY, ...env }, opts); });
  afterEach(() => {
    WsClient.terminateAll();
    const r = holder.relay;
    if (r && r.exitState.exited && !r.stopping) {
      const st = r.exitState;
      holder.relay = null;
      throw new Error(`relay (pid ${r.pid}) died unexpectedly: code=${st.code} signal=${st.signal}. Log tail:\n${r.logs().slice(-3000)}`);
    }
  });
  after(async () => {
    WsClient.terminateAll();
    if (holder.relay) await holder.relay.stop();
  });
  return holder;
}

export const T = Object.freeze({ timeout: 20000 });
