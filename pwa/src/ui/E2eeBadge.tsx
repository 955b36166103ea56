// "End-to-end encrypted" badge with the safety code (docs/E2EE.md), or the named failure.
import type { E2eeStatus } from '../core/e2eeClient';

// Inline lock (an emoji needs a colour-emoji font, which not every system has).
function Lock() {
  return (
    <svg class="lock" width="11" height="12" viewBox="0 0 11 12" aria-hidden="true" focusable="false">
      <path d="M2.5 5V3.5a3 3 0 0 1 6 0V5" fill="none" stroke="currentColor" stroke-width="1.5" />
      <rect x="0.5" y="5" width="10" height="7" rx="1.5" fill="currentColor" />
    </svg>
  );
}

export function E2eeBadge({ e2ee }: { e2ee: E2eeStatus }) {
  if (e2ee.mode === 'off') return null;
  if (e2ee.mode === 'verified')
    return (
      <div class="e2ee-badge ok" data-testid="e2ee-badge" data-e2ee="verified" title="Compare this code with the one the desktop shows">
        <Lock /> end-to-end encrypted · safety code <strong data-testid="e2ee-safety">{e2ee.safetyCode}</strong>
      </div>
    );
  if (e2ee.mode === 'failed')
    return (
      <div class="e2ee-badge bad" role="alert" data-testid="e2ee-badge" data-e2ee="failed" data-reason={e2ee.reason ?? ''}>
        ⚠ {e2ee.text}
      </div>
    );
  return (
    <div class="e2ee-badge" data-testid="e2ee-badge" data-e2ee="pending">
      securing connection…
    </div>
  );
}
