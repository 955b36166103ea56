// Paired-device persistence (APP_SCHEMA §10). Storage is injected so tests need no DOM.

export const PAIRED_DEVICE_KEY = 'codexchat.remote.pairedDevice.v1';

export interface PairedDevice {
  sessionID: string;
  deviceID: string;
  deviceName: string;
  relayBaseURL: string;
  deviceSessionToken: string;
  wsURL: string;
  storedAt: string;
}

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export class MemoryStorage implements KeyValueStorage {
  readonly map = new Map<string, string>();
  getItem(k: string): string | null {
    return this.map.has(k) ? this.map.get(k)! : null;
  }
  setItem(k: string, v: string): void {
    this.map.set(k, v);
  }
  removeItem(k: string): void {
    this.map.delete(k);
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

export function loadPairedDevice(s: KeyValueStorage): PairedDevice | null {
  let raw: string | null;
  try {
    raw = s.getItem(PAIRED_DEVICE_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (!isStr(v.sessionID) || !isStr(v.deviceSessionToken) || !isStr(v.wsURL)) throw new Error('incomplete');
    return {
      sessionID: v.sessionID,
      deviceID: typeof v.deviceID === 'string' ? v.deviceID : '',
      deviceName: typeof v.deviceName === 'string' ? v.deviceName : '',
      relayBaseURL: typeof v.relayBaseURL === 'string' ? v.relayBaseURL : '',
      deviceSessionToken: v.deviceSessionToken,
      wsURL: v.wsURL,
      storedAt: typeof v.storedAt === 'string' ? v.storedAt : '',
    };
  } catch {
    clearPairedDevice(s); // unreadable record is purged
    return null;
  }
}

export function savePairedDevice(s: KeyValueStorage, d: PairedDevice): void {
  try {
    s.setItem(PAIRED_DEVICE_KEY, JSON.stringify(d));
  } catch {
    /* storage full / private mode: keep working in memory */
  }
}

export function clearPairedDevice(s: KeyValueStorage): void {
  try {
    s.removeItem(PAIRED_DEVICE_KEY);
  } catch {
    /* ignore */
  }
}

/** Human device name from a user agent string (sent as deviceName on /pair/join). */
export function deviceNameFromUserAgent(ua: string): string {
  if (/iPhone/i.test(ua)) return 'iPhone';
  if (/iPad/i.test(ua)) return 'iPad';
  if (/Android/i.test(ua)) return /Mobile/i.test(ua) ? 'Android Device' : 'Android Tablet';
  if (/Macintosh|Mac OS X/i.test(ua)) return 'Mac Browser';
  if (/Windows/i.test(ua)) return 'Windows Browser';
  if (/CrOS/i.test(ua)) return 'Chromebook';
  if (/Linux/i.test(ua)) return 'Linux Browser';
  return 'Mobile Browser';
}
