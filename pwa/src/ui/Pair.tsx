// Pairing screen: scan in the app, paste (or paste from the clipboard), copy the pair link to hand
// it to the installed app, install guidance, waiting/denied/expired states.
import { useState } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import { buildJoinLink, parseJoinLink, type JoinLink } from '../core/joinLink';
import { copyText, isStandalone, useInstall, useNow } from './hooks';
import { Scanner } from './Scanner';

const NOT_A_LINK = 'That does not look like a Remote Control link (it needs #sid=…&jt=…).';

export function InstallHint() {
  const inst = useInstall();
  if (inst.mode === 'none') return null;
  return (
    <div class="banner small install" data-testid="install-hint" role="note">
      {inst.mode === 'prompt' ? (
        <>
          <span>Install Remote Control for a full-screen app and quicker pairing.</span>
          <div class="row">
            <button class="btn primary small-btn" onClick={inst.install} data-testid="install-button">
              Install
            </button>
            <button class="btn ghost small-btn" onClick={inst.dismiss}>
              Not now
            </button>
          </div>
        </>
      ) : (
        <>
          <span>
            To install: tap <strong>Share</strong> <span aria-hidden="true">⎋</span>, then <strong>Add to Home Screen</strong>. Then pair from the installed app with “Scan QR code” or “Paste from clipboard”.
          </span>
          <button class="btn ghost small-btn" onClick={inst.dismiss}>
            Got it
          </button>
        </>
      )}
    </div>
  );
}

export function PairScreen({ client, s, pageOrigin, defaultDeviceName }: { client: RemoteClient; s: ClientState; pageOrigin: string; defaultDeviceName: string }) {
  const [name, setName] = useState(defaultDeviceName);
  const [paste, setPaste] = useState('');
  const [pasteError, setPasteError] = useState('');
  const [scanning, setScanning] = useState(false);
  const [copied, setCopied] = useState('');
  const now = useNow(1000);
  const { pair } = s;

  const offer = (link: JoinLink) => {
    setPasteError('');
    setPaste('');
    setScanning(false);
    client.offerJoinLink(link, pageOrigin);
  };
  const usePasted = (e: Event) => {
    e.preventDefault();
    const link = parseJoinLink(paste);
    if (!link) return setPasteError(NOT_A_LINK);
    offer(link);
  };
  const fromClipboard = async () => {
    try {
      const text = await navigator.clipboard.readText();
      const link = parseJoinLink(text);
      if (link) return offer(link);
      setPaste(text.slice(0, 2048));
      setPasteError(NOT_A_LINK);
    } catch {
      setPasteError('This browser did not allow reading the clipboard. Long-press the box below and choose Paste.');
    }
  };
  const copyLink = async () => {
    if (!pair.link) return;
    const ok = await copyText(buildJoinLink(`${pageOrigin}${location.pathname}`, pair.link));
    setCopied(ok ? 'Link copied. Open the installed app and tap “Paste from clipboard”.' : 'Could not copy the link.');
  };

  return (
    <main class="pair" data-testid="pair-screen" aria-labelledby="pair-title">
      <div class="pair-card">
        <img class="logo" src="icons/icon.svg" alt="" width={56} height={56} />
        <h1 id="pair-title">Remote Control</h1>

        {s.terminal && !pair.link && (
          <div class={`banner ${s.phase === 'revoked' ? 'danger' : 'warn'}`} data-testid="terminal-state" data-reason={s.terminal.reason} role="alert">
            <strong>{s.phase === 'revoked' ? 'This phone was removed' : 'Session ended'}</strong>
            <p>{s.terminal.text}</p>
            <p>To reconnect, open Remote Control on the desktop, choose “Add device”, and scan or open the new link on this phone.</p>
          </div>
        )}

        {pair.link ? (
          <section>
            {pair.status === 'waiting' ? (
              <div class="waiting" data-testid="pair-waiting" role="status">
                <div class="spinner" aria-hidden="true" />
                <h2>Waiting for desktop approval</h2>
                <p>
                  On your desktop, approve <strong>“{name.trim() || 'Mobile Device'}”</strong>. This can take up to a minute.
                </p>
                <p class="muted">{pair.startedAt ? `Waiting ${Math.max(0, Math.round((now - pair.startedAt) / 1000))} s` : ''}</p>
                <button class="btn ghost" onClick={() => client.cancelJoinLink()}>
                  Cancel
                </button>
              </div>
            ) : (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  void client.pair(name);
                }}
              >
                <p>
                  Pair this phone with the desktop session at <span class="mono">{pair.relayBaseURL}</span>.
                </p>
                {s.paired && <p class="muted">This replaces the current pairing on this phone.</p>}
                <label>
                  Device name
                  <input value={name} maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
                </label>
                {pair.error && (
                  <div class="banner danger" data-testid="pair-error" data-code={pair.error.code} role="alert">
                    <strong>{pair.error.title}</strong>
                    <p>{pair.error.message}</p>
                  </div>
                )}
                <div class="row wrap">
                  <button class="btn primary" type="submit" data-testid="pair-button">
                    {pair.error ? 'Try again' : 'Pair'}
                  </button>
                  <button class="btn ghost" type="button" onClick={() => client.cancelJoinLink()}>
                    {s.paired ? 'Back' : 'Cancel'}
                  </button>
                </div>
                {!isStandalone() && (
                  <p class="muted small handoff">
                    Installed the app already? Pair there instead:{' '}
                    <button type="button" class="link" onClick={() => void copyLink()} data-testid="copy-pair-link">
                      Copy pair link
                    </button>
                    {copied && (
                      <span role="status" data-testid="copy-status">
                        {' '}
                        {copied}
                      </span>
                    )}
                  </p>
                )}
              </form>
            )}
          </section>
        ) : (
          <section>
            {!s.terminal && <p>Scan the QR code shown by Remote Control on your desktop, or open its link on this phone.</p>}
            {scanning ? (
              <Scanner onLink={offer} onClose={() => setScanning(false)} />
            ) : (
              <div class="row wrap">
                <button class="btn primary" type="button" onClick={() => setScanning(true)} data-testid="scan-button">
                  Scan QR code
                </button>
                <button class="btn" type="button" onClick={() => void fromClipboard()} data-testid="paste-clipboard">
                  Paste from clipboard
                </button>
              </div>
            )}
            <form onSubmit={usePasted} class="paste">
              <label>
                Or paste the link here
                <textarea
                  rows={3}
                  value={paste}
                  placeholder="https://…#sid=…&jt=…"
                  data-testid="paste-link"
                  onInput={(e) => setPaste((e.target as HTMLTextAreaElement).value)}
                />
              </label>
              {pasteError && (
                <p class="error" role="alert">
                  {pasteError}
                </p>
              )}
              <button class="btn" type="submit" disabled={paste.trim() === ''}>
                Use link
              </button>
            </form>
            <InstallHint />
          </section>
        )}
      </div>
    </main>
  );
}
