// A small in-memory stand-in for relay-node, used ONLY when RC_BRIDGE_MOCK_RELAY=1 (development
// while relay-node is not built). It implements the subset of RELAY_PROTOCOL.md the bridge and
// the scripted phone use. The ctest integration test always uses the real relay-node.
import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';

const tok = (n) => crypto.randomBytes(n).toString('base64url');

export function startMockRelay(port = 0) {
  const sessions = new Map(); // sid -> session
  const byDesktopToken = new Map();
  const byDeviceToken = new Map(); // token -> {sid, deviceID}
  const send = (ws, obj) => { try { ws.send(JSON.stringify(obj)); } catch { /* closed */ } };
  let wsURL = '';

  function closeSession(s, reason) {
    sessions.delete(s.id);
    byDesktopToken.delete(s.desktopToken);
    for (const d of s.devices.values()) byDeviceToken.delete(d.token);
    if (s.desktop) { send(s.desktop, { type: 'disconnect', reason }); s.desktop.terminate(); }
    for (const m of s.mobiles.values()) { send(m.ws, { type: 'disconnect', reason }); m.ws.terminate(); }
    if (s.pending) s.pending.finish(409, { error: 'desktop_not_connected', message: 'Desktop disconnected.' });
  }

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const reply = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
        res.end(JSON.stringify(obj));
      };
      if (req.method === 'OPTIONS') { res.writeHead(200, { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' }); return res.end(); }
      let j = {};
      try { j = JSON.parse(body || '{}'); } catch { return reply(400, { error: 'bad_json' }); }
      const s = sessions.get(j.sessionID);
      const authed = s && s.desktopToken === j.desktopSessionToken;
      switch (req.url) {
        case '/pair/start': {
          if (s) closeSession(s, 'replaced_by_new_pair_start');
          const ns = { id: j.sessionID, desktopToken: j.desktopSessionToken, joinToken: j.joinToken,
            joinExp: Date.parse(j.joinTokenExpiresAt), used: false, devices: new Map(), mobiles: new Map(),
            desktop: null, pending: null, lastSeq: new Map() };
          sessions.set(ns.id, ns); byDesktopToken.set(ns.desktopToken, ns.id);
          return reply(200, { accepted: true, sessionID: ns.id, wsURL });
        }
        case '/pair/refresh':
          if (!s) return reply(404, { error: 'session_not_found', message: 'Remote session not found.' });
          if (!authed) return reply(403, { error: 'invalid_desktop_session_token', message: 'x' });
          s.joinToken = j.joinToken; s.joinExp = Date.parse(j.joinTokenExpiresAt); s.used = false;
          return reply(200, { accepted: true, sessionID: s.id, wsURL });
        case '/pair/stop':
          if (s && authed) closeSession(s, 'stopped_by_desktop');
          return reply(200, { accepted: true, sessionID: j.sessionID });
        case '/devices/list':
          if (!s) return reply(404, { error: 'session_not_found', message: 'Remote session not found.' });
          if (!authed) return reply(403, { error: 'invalid_desktop_session_token', message: 'x' });
          return reply(200, { accepted: true, sessionID: s.id, devices: [...s.devices.values()].map((d) => ({
            deviceID: d.id, deviceName: d.name, connected: [...s.mobiles.values()].some((m) => m.deviceID === d.id),
            joinedAt: d.joinedAt, lastSeenAt: d.joinedAt })) });
        case '/devices/revoke': {
          if (!s) return reply(404, { error: 'session_not_found', message: 'Remote session not found.' });
          if (!authed) return reply(403, { error: 'invalid_desktop_session_token', message: 'x' });
          const d = s.devices.get(j.deviceID);
          if (!d) return reply(404, { error: 'device_not_found', message: 'Device is not linked to this session.' });
          s.devices.delete(d.id); byDeviceToken.delete(d.token);
          for (const [cid, m] of s.mobiles) if (m.deviceID === d.id) { send(m.ws, { type: 'disconnect', reason: 'device_revoked' }); m.ws.terminate(); s.mobiles.delete(cid); }
          if (s.desktop) send(s.desktop, { type: 'relay.device_count', sessionID: s.id, connectedDeviceCount: s.mobiles.size });
          return reply(200, { accepted: true, sessionID: s.id, deviceID: d.id });
        }
        case '/pair/join': {
          if (!s) return reply(404, { error: 'session_not_found', message: 'Remote session not found.' });
          if (Date.now() >= s.joinExp) return reply(410, { error: 'join_token_expired', message: 'x' });
          if (s.used) return reply(409, { error: 'join_token_already_used', message: 'x' });
          if (s.joinToken !== j.joinToken) return reply(403, { error: 'invalid_join_token', message: 'x' });
          if (!s.desktop) return reply(409, { error: 'desktop_not_connected', message: 'x' });
          if (s.pending) return reply(409, { error: 'pair_request_in_progress', message: 'x' });
          const requestID = tok(10);
          const timer = setTimeout(() => s.pending && s.pending.finish(408, { error: 'pair_request_timed_out', message: 'x' }), 30000);
          s.pending = { requestID, finish: (st, o) => { clearTimeout(timer); s.pending = null; reply(st, o); }, name: j.deviceName };
          send(s.desktop, { type: 'relay.pair_request', sessionID: s.id, requestID, deviceName: j.deviceName,
            requesterIP: '127.0.0.1', requestedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 30000).toISOString() });
          return undefined;
        }
        default:
          return reply(404, {});
      }
    });
  });

  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => {
    let role = null; let s = null; let cid = null;
    ws.on('message', (data) => {
      const text = data.toString();
      let j; try { j = JSON.parse(text); } catch { return; }
      if (!role) {
        if (j.type !== 'relay.auth') return ws.terminate();
        const sid = byDesktopToken.get(j.token);
        if (sid) {
          s = sessions.get(sid); role = 'desktop';
          if (s.desktop) { send(s.desktop, { type: 'disconnect', reason: 'desktop_reconnected' }); s.desktop.terminate(); }
          s.desktop = ws;
          send(ws, { type: 'auth_ok', role: 'desktop', sessionID: s.id, connectedDeviceCount: s.mobiles.size, desktopConnected: true });
          for (const m of s.mobiles.values()) send(m.ws, { type: 'relay.desktop_status', sessionID: s.id, desktopConnected: true });
          return undefined;
        }
        const dev = byDeviceToken.get(j.token);
        if (!dev || !sessions.get(dev.sid)) { send(ws, { type: 'disconnect', reason: 'session_expired' }); return ws.close(1008, 'session_expired'); }
        s = sessions.get(dev.sid); role = 'mobile'; cid = tok(10);
        const d = s.devices.get(dev.deviceID);
        byDeviceToken.delete(d.token); d.token = tok(32); byDeviceToken.set(d.token, { sid: s.id, deviceID: d.id });
        s.mobiles.set(cid, { ws, deviceID: d.id });
        send(ws, { type: 'auth_ok', role: 'mobile', sessionID: s.id, deviceID: d.id, nextDeviceSessionToken: d.token,
          connectedDeviceCount: s.mobiles.size, desktopConnected: !!s.desktop });
        if (s.desktop) send(s.desktop, { type: 'relay.device_count', sessionID: s.id, connectedDeviceCount: s.mobiles.size });
        return undefined;
      }
      if (role === 'desktop') {
        if (j.type === 'relay.pair_decision') {
          if (s.pending && s.pending.requestID === j.requestID) {
            if (j.approved) {
              const d = { id: tok(12), token: tok(32), name: s.pending.name || 'Mobile Device', joinedAt: new Date().toISOString() };
              s.devices.set(d.id, d); byDeviceToken.set(d.token, { sid: s.id, deviceID: d.id }); s.used = true;
              s.pending.finish(200, { accepted: true, sessionID: s.id, deviceID: d.id, deviceSessionToken: d.token, wsURL });
            } else s.pending.finish(403, { error: 'pair_request_denied', message: 'Desktop denied this pairing request.' });
          }
          return send(ws, { type: 'relay.pair_result', sessionID: s.id, requestID: j.requestID, approved: !!j.approved });
        }
        for (const m of s.mobiles.values()) m.ws.send(text);
        return undefined;
      }
      // mobile
      if (!s.desktop) return send(ws, { type: 'relay.error', error: 'desktop_offline', message: 'Mac is offline.' });
      if (j.type === 'relay.snapshot_request') {
        j.relayConnectionID = cid; j.relayDeviceID = s.mobiles.get(cid).deviceID;
        return s.desktop.send(JSON.stringify(j));
      }
      if (j.payload && j.payload.type === 'command') {
        const last = s.lastSeq.get(cid) || 0;
        if (!(j.seq > last)) return send(ws, { type: 'relay.error', error: 'replayed_command', message: 'replayed' });
        s.lastSeq.set(cid, j.seq);
        j.relayConnectionID = cid; j.relayDeviceID = s.mobiles.get(cid).deviceID;
        return s.desktop.send(JSON.stringify(j));
      }
      return send(ws, { type: 'relay.error', error: 'invalid_command', message: 'x' });
    });
    ws.on('close', () => {
      if (!s) return;
      if (role === 'desktop' && s.desktop === ws) {
        s.desktop = null;
        if (s.pending) s.pending.finish(409, { error: 'desktop_not_connected', message: 'x' });
        for (const m of s.mobiles.values()) send(m.ws, { type: 'relay.desktop_status', sessionID: s.id, desktopConnected: false });
      }
      if (role === 'mobile' && s.mobiles.get(cid)?.ws === ws) {
        s.mobiles.delete(cid); s.lastSeq.delete(cid);
        if (s.desktop) send(s.desktop, { type: 'relay.device_count', sessionID: s.id, connectedDeviceCount: s.mobiles.size });
      }
    });
  });

  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const p = server.address().port;
      wsURL = `ws://127.0.0.1:${p}/ws`;
      resolve({ port: p, wsURL, httpBase: `http://127.0.0.1:${p}`,
        close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(); server.close(() => r()); }) });
    });
  });
}
