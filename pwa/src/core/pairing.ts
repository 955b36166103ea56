// POST <relay>/pair/join (RELAY_PROTOCOL §4.2) with a client timeout, and error guidance. No DOM.
import type { JoinLink } from './joinLink';
import { webSocketURLFromRelayBase } from './joinLink';

export const PAIR_JOIN_TIMEOUT_MS = 60_000;

export interface JoinSuccess {
  ok: true;
  sessionID: string;
  deviceID: string;
  deviceSessionToken: string;
  wsURL: string;
}
export interface JoinFailure {
  ok: false;
  /** relay error code, or client-side: client_timeout, network_error, bad_response */
  code: string;
  status?: number;
  title: string;
  message: string;
}
export type JoinResult = JoinSuccess | JoinFailure;

type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{
  status: number;
  ok: boolean;
  text(): Promise<string>;
}>;

const GUIDANCE: Record<string, { title: string; message: string }> = {
  pair_request_denied: {
    title: 'Pairing was declined',
    message: 'The desktop declined this phone. If that was a mistake, tap Pair again and approve it on the desktop.',
  },
  pair_request_timed_out: {
    title: 'No answer from the desktop',
    message: 'Nobody approved the request in time. Tap Pair again and approve it on the desktop.',
  },
  pair_request_in_progress: {
    title: 'Another request is waiting',
    message: 'A pairing request is already waiting on the desktop. Approve or deny it there, then try again.',
  },
  join_token_expired: {
    title: 'This link has expired',
    message: 'Join links are short-lived. On the desktop, open Remote Control and create a new link (Add device).',
  },
  join_token_already_used: {
    title: 'This link was already used',
    message: 'Each link pairs one phone. On the desktop, create a new link (Add device) and open it here.',
  },
  invalid_join_token: {
    title: 'This link is no longer valid',
    message: 'The desktop created a newer link. Open the newest link from the desktop.',
  },
  session_not_found: {
    title: 'Session not found',
    message: 'The desktop session has ended. Start Remote Control on the desktop and open its new link.',
  },
  desktop_not_connected: {
    title: 'Desktop is not connected',
    message: 'Re-open Remote Control on the desktop, then tap Pair again.',
  },
  device_cap_reached: {
    title: 'Too many devices',
    message: 'This session already has the maximum number of phones. Remove one on the desktop, then create a new link.',
  },
  rate_limited: { title: 'Too many attempts', message: 'Wait a minute, then try again.' },
  pairing_backpressure: { title: 'Relay is busy', message: 'The relay is handling many pairing requests. Retry shortly.' },
  origin_not_allowed: {
    title: 'This page is not allowed by the relay',
    message: 'The relay does not accept requests from this web address (ALLOWED_ORIGINS).',
  },
  client_timeout: {
    title: 'No answer after 60 seconds',
    message: 'The relay did not answer in time. Check the desktop for a pending approval, then tap Pair again.',
  },
  network_error: {
    title: 'Cannot reach the relay',
    message: 'Check your connection and that the relay address in the link is reachable from this phone.',
  },
  bad_response: { title: 'Unexpected relay answer', message: 'The relay sent a response this app does not understand.' },
};

export function pairingGuidance(code: string, fallbackMessage?: string): { title: string; message: string } {
  return GUIDANCE[code] ?? { title: 'Pairing failed', message: fallbackMessage || `The relay refused the request (${code}).` };
}

export interface JoinOptions {
  fetch: FetchLike;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
  timeoutMs?: number;
}

export async function joinPairing(relayBaseURL: string, link: JoinLink, deviceName: string, o: JoinOptions): Promise<JoinResult> {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = o.setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, o.timeoutMs ?? PAIR_JOIN_TIMEOUT_MS);
  const fail = (code: string, status?: number, msg?: string): JoinFailure => {
    const g = pairingGuidance(code, msg);
    const f: JoinFailure = { ok: false, code, title: g.title, message: g.message };
    if (status !== undefined) f.status = status;
    return f;
  };
  try {
    const body: Record<string, string> = { sessionID: link.sessionID, joinToken: link.joinToken };
    const name = deviceName.trim().slice(0, 64);
    if (name) body.deviceName = name;
    const res = await o.fetch(`${relayBaseURL.replace(/\/+$/, '')}/pair/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: ctrl.signal,
    });
    const text = await res.text();
    let json: Record<string, unknown> | null = null;
    try {
      const v = JSON.parse(text);
      if (v && typeof v === 'object') json = v as Record<string, unknown>;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const code = typeof json?.error === 'string' ? json.error : `http_${res.status}`;
      const msg = typeof json?.message === 'string' ? json.message : text.slice(0, 200);
      return fail(code, res.status, msg);
    }
    if (!json || typeof json.deviceSessionToken !== 'string' || json.deviceSessionToken === '') return fail('bad_response', res.status);
    return {
      ok: true,
      sessionID: typeof json.sessionID === 'string' && json.sessionID ? json.sessionID : link.sessionID,
      deviceID: typeof json.deviceID === 'string' ? json.deviceID : '',
      deviceSessionToken: json.deviceSessionToken,
      wsURL: typeof json.wsURL === 'string' && /^wss?:\/\//.test(json.wsURL) ? json.wsURL : webSocketURLFromRelayBase(relayBaseURL),
    };
  } catch {
    return timedOut ? fail('client_timeout') : fail('network_error');
  } finally {
    o.clearTimeout(timer);
  }
}
