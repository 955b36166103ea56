// "End-to-end encrypted" badge with the safety code (docs/E2EE.md), or the named failure.
import type { E2eeStatus } from '../core/e2eeClient';

export function E2eeBadge({ e2ee }: { e2ee: E2eeStatus }) {
  if (e2ee.mode === 'off') return null;
  if (e2ee.mode === 'verified')
    return (
      <div class="e2ee-badge ok" data-testid="e2ee-badge" data-e2ee="verified" title="Compare this code with the one the desktop shows">
        🔒 end-to-end encrypted · safety code <strong data-testid="e2ee-safety">{e2ee.safetyCode}</strong>
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
