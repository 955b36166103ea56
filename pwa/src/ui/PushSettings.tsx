// Notifications section of the connection sheet (issue 14): why push is unavailable here, or
// the switch (the permission prompt only follows a tap), the kinds and "turn off".
import { useEffect, useState } from 'preact/hooks';
import type { ClientState } from '../core/client';
import { PUSH_KINDS, PUSH_UNSUPPORTED_TEXT, type PushKind } from '../core/push';
import { desktopPushBlocker, type PushController } from '../core/pushController';

const KIND_LABEL: Record<PushKind, string> = { approval: 'Approval needed', turn: 'Turn finished', pairing: 'Pairing request' };

export function PushSettings({ ctl, s }: { ctl: PushController; s: ClientState }) {
  const [v, setV] = useState(ctl.view);
  useEffect(() => ctl.subscribe(setV), [ctl]);
  const blocked = v.support.ok ? desktopPushBlocker(s) : PUSH_UNSUPPORTED_TEXT[v.support.reason];
  const on = !blocked && s.push?.subscribed === true;
  const kinds = ctl.shownKinds();
  return (
    <section class="push" aria-labelledby="push-title" data-testid="push-settings" data-state={blocked ? 'unavailable' : on ? 'on' : 'off'}>
      <h3 id="push-title">Notifications</h3>
      {blocked ? (
        <p class="muted small" data-testid="push-unavailable">
          {blocked}
        </p>
      ) : (
        <>
          {on &&
            PUSH_KINDS.map((k) => (
              <label key={k} class="choice">
                <input type="checkbox" data-testid={`push-kind-${k}`} checked={kinds[k]} disabled={v.busy} onChange={(e) => void ctl.setKind(k, (e.target as HTMLInputElement).checked)} />
                {KIND_LABEL[k]}
              </label>
            ))}
          <button class={`btn ${on ? '' : 'primary'}`} data-testid={on ? 'push-disable' : 'push-enable'} disabled={v.busy} onClick={() => void (on ? ctl.disable() : ctl.enable())}>
            {on ? 'Turn off notifications' : 'Turn on notifications'}
          </button>
          <p class="muted small">The push service sees only size and timing; texts are encrypted.</p>
        </>
      )}
      {v.error && (
        <p class="small error" role="alert" data-testid="push-error">
          {v.error}
        </p>
      )}
    </section>
  );
}
