// Connection controller: pairing, WebSocket life, auth/rotation, sequence tracking, snapshot
// requests, command sending/queueing and acks. All platform objects are injected, so the whole
// class runs under vitest with fakes (no DOM). Layers: clientBase.ts (state + outbound) →
// clientConnection.ts (socket life + inbound) → RemoteClient here (pairing, forget, selection).
import { ClientConnection } from './clientConnection';
import type { JoinLink } from './joinLink';
import { joinPairing } from './pairing';
import { emptySyncData, openThread, setProjectFilter } from './snapshotMerge';
import { clearPairedDevice, savePairedDevice, type PairedDevice } from './storage';

export * from './clientTypes';

export class RemoteClient extends ClientConnection {
  private pairGen = 0;

  // ---------- pairing ----------
  /** Offer a join link (from the fragment or pasted). Does not pair yet. */
  offerJoinLink(link: JoinLink, pageOrigin: string): void {
    this.set({
      pair: { status: 'idle', link, relayBaseURL: link.relayBaseURL ?? pageOrigin, error: null, startedAt: null },
    });
  }
  cancelJoinLink(): void {
    this.pairGen++;
    this.set({ pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null } });
  }

  async pair(deviceName: string): Promise<boolean> {
    const { link, relayBaseURL } = this.state.pair;
    if (!link || !relayBaseURL || this.state.pair.status === 'waiting') return false;
    const gen = ++this.pairGen;
    this.set({ pair: { ...this.state.pair, status: 'waiting', error: null, startedAt: this.deps.now() } });
    const res = await joinPairing(relayBaseURL, link, deviceName, {
      fetch: this.deps.fetch,
      setTimeout: this.deps.setTimeout,
      clearTimeout: this.deps.clearTimeout,
    });
    if (gen !== this.pairGen) return false; // cancelled meanwhile
    if (!res.ok) {
      this.set({ pair: { ...this.state.pair, status: 'error', error: res, startedAt: null } });
      return false;
    }
    // Replace any previous pairing (and its socket) with the new one.
    this.teardownSocket();
    this.resetSessionState();
    await this.e2ee.forget(this.state.paired?.sessionID);
    // E2EE: the QR's desktop key and single-use secret; a new identity key stays on this phone.
    if (link.dk && link.ps) await this.e2ee.adopt(res.sessionID, link.dk, link.ps);
    const paired: PairedDevice = {
      sessionID: res.sessionID,
      deviceID: res.deviceID,
      deviceName: deviceName.trim() || 'Mobile Device',
      relayBaseURL,
      deviceSessionToken: res.deviceSessionToken,
      wsURL: res.wsURL,
      storedAt: new Date(this.deps.now()).toISOString(),
    };
    savePairedDevice(this.deps.storage, paired);
    // the join token is single-use: forget the link
    this.set({
      paired,
      terminal: null,
      phase: 'connecting',
      attempt: 0,
      data: emptySyncData(),
      push: null,
      pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null },
    });
    this.connect();
    return true;
  }

  /** User-initiated "forget this desktop". */
  forget(): void {
    this.teardownSocket();
    this.resetSessionState();
    clearPairedDevice(this.deps.storage);
    void this.e2ee.forget(this.state.paired?.sessionID);
    this.set({ paired: null, phase: 'unpaired', terminal: null, data: emptySyncData(), desktopConnected: null, canRespond: false, push: null });
  }

  // ---------- local UI selection ----------
  openThread(threadID: string | null): void {
    this.setData(openThread(this.state.data, threadID));
    // Ask the desktop to select it too (it then syncs the longer history window); best effort.
    if (threadID && this.canSendNow() && this.state.data.desktopSelectedThreadID !== threadID) {
      this.sendCommand('thread.select', { threadID });
    }
  }

  setProjectFilter(filter: string): void {
    this.setData(setProjectFilter(this.state.data, filter));
  }
}
