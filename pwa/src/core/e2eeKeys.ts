// Where the phone keeps its E2EE identity: the ECDSA key pair (private key non-extractable,
// stored as a CryptoKey in IndexedDB, never exported) and the desktop key pinned from the QR.
// A small marker in localStorage says "this pairing is end-to-end encrypted", so losing the
// IndexedDB record forces a re-pair instead of a silent plaintext fallback (docs/E2EE.md).
import { b64u, exportPoint, generateIdentity, unb64u } from './e2eeCrypto';
import type { PhoneIdentity } from './e2eeSession';
import type { KeyValueStorage } from './storage';

export interface StoredIdentity {
  sessionID: string;
  keyPair: CryptoKeyPair;
  dk: string;
  /** pairing secret from the QR, kept only until the desktop confirmed the pairing */
  ps: string | null;
}

export interface KeyStore {
  get(sessionID: string): Promise<StoredIdentity | null>;
  put(rec: StoredIdentity): Promise<void>;
  delete(sessionID: string): Promise<void>;
}

export class MemoryKeyStore implements KeyStore {
  readonly map = new Map<string, StoredIdentity>();
  async get(id: string): Promise<StoredIdentity | null> {
    return this.map.get(id) ?? null;
  }
  async put(rec: StoredIdentity): Promise<void> {
    this.map.set(rec.sessionID, rec);
  }
  async delete(id: string): Promise<void> {
    this.map.delete(id);
  }
}

const DB = 'rc-e2ee';
const STORE = 'identities';

/** IndexedDB store (structured clone keeps CryptoKeys non-extractable). */
export class IndexedDbKeyStore implements KeyStore {
  constructor(private readonly idb: IDBFactory) {}
  private db(): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const req = this.idb.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'sessionID' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  private async run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    const db = await this.db();
    try {
      return await new Promise<T>((resolve, reject) => {
        const req = fn(db.transaction(STORE, mode).objectStore(STORE));
        req.onsuccess = () => resolve(req.result as T);
        req.onerror = () => reject(req.error);
      });
    } finally {
      db.close();
    }
  }
  async get(id: string): Promise<StoredIdentity | null> {
    return (await this.run<StoredIdentity | undefined>('readonly', (s) => s.get(id))) ?? null;
  }
  async put(rec: StoredIdentity): Promise<void> {
    await this.run('readwrite', (s) => s.put(rec));
  }
  async delete(id: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(id));
  }
}

const MARKER = 'rc.e2ee.pinned.v1';

/** The session whose pairing is end-to-end encrypted (localStorage), or null. */
export function e2eeMarker(s: KeyValueStorage): string | null {
  try {
    return s.getItem(MARKER);
  } catch {
    return null;
  }
}
export function setE2eeMarker(s: KeyValueStorage, sessionID: string | null): void {
  try {
    if (sessionID) s.setItem(MARKER, sessionID);
    else s.removeItem(MARKER);
  } catch {
    /* private mode: the IndexedDB record still decides */
  }
}

/** New identity for a pairing from a QR that carried `dk`/`ps`. */
export async function createIdentity(store: KeyStore, sessionID: string, dk: string, ps: string): Promise<StoredIdentity> {
  const rec: StoredIdentity = { sessionID, keyPair: await generateIdentity(false), dk, ps };
  await store.put(rec);
  return rec;
}

export async function toPhoneIdentity(rec: StoredIdentity): Promise<PhoneIdentity | null> {
  const dk = unb64u(rec.dk);
  if (!dk) return null;
  return { keyPair: rec.keyPair, pkP: await exportPoint(rec.keyPair.publicKey), dk };
}

export const encodeKey = b64u;
