// Small Preact hooks shared by the screens: client state, a ticking clock, the on-screen keyboard
// (visualViewport), standalone detection and the install prompt, clipboard copy.
import { useEffect, useState } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';

export function useClientState(client: RemoteClient): ClientState {
  const [s, setS] = useState(client.state);
  useEffect(() => client.subscribe(setS), [client]);
  return s;
}

export function useNow(periodMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const h = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(h);
  }, [periodMs]);
  return now;
}

/** Size the app to the visual viewport, so the composer stays above the on-screen keyboard. */
export function useVisualViewport(): void {
  useEffect(() => {
    const vv = window.visualViewport;
    if (!vv) return;
    const root = document.documentElement;
    const apply = () => {
      root.style.setProperty('--app-h', `${Math.round(vv.height)}px`);
      root.style.setProperty('--app-top', `${Math.round(vv.offsetTop)}px`);
    };
    apply();
    vv.addEventListener('resize', apply);
    vv.addEventListener('scroll', apply);
    return () => {
      vv.removeEventListener('resize', apply);
      vv.removeEventListener('scroll', apply);
    };
  }, []);
}

interface InstallEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: string }>;
}

export function isStandalone(): boolean {
  return window.matchMedia('(display-mode: standalone)').matches || (navigator as { standalone?: boolean }).standalone === true;
}

export function isIOS(): boolean {
  const ua = navigator.userAgent;
  return /iPhone|iPad|iPod/.test(ua) || (ua.includes('Macintosh') && navigator.maxTouchPoints > 1);
}

/** beforeinstallprompt (Chromium) or iOS guidance; nothing in standalone mode. */
export function useInstall(): { mode: 'none' | 'prompt' | 'ios'; install: () => void; dismiss: () => void } {
  const [ev, setEv] = useState<InstallEvent | null>(null);
  const [dismissed, setDismissed] = useState(() => sessionStorage.getItem('rc.install.dismissed') === '1');
  const [standalone, setStandalone] = useState(isStandalone);
  useEffect(() => {
    const onPrompt = (e: Event) => {
      e.preventDefault();
      setEv(e as InstallEvent);
    };
    const onInstalled = () => setStandalone(true);
    window.addEventListener('beforeinstallprompt', onPrompt);
    window.addEventListener('appinstalled', onInstalled);
    return () => {
      window.removeEventListener('beforeinstallprompt', onPrompt);
      window.removeEventListener('appinstalled', onInstalled);
    };
  }, []);
  const dismiss = () => {
    sessionStorage.setItem('rc.install.dismissed', '1');
    setDismissed(true);
  };
  const install = () => {
    if (!ev) return;
    void ev.prompt();
    void ev.userChoice.finally(() => setEv(null));
  };
  const mode = standalone || dismissed ? 'none' : ev ? 'prompt' : isIOS() ? 'ios' : 'none';
  return { mode, install, dismiss };
}

/** Copy text; the Clipboard API needs a secure context, so fall back to a hidden textarea. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}
