// Runtime request (approval, permissions, user input, MCP elicitation, dynamic tool call) card.
import { useState } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import type { RuntimeRequest } from '../core/protocol';
import { isNegativeOption } from '../core/runtimeResponse';

export function ApprovalCard({ client, s, req }: { client: RemoteClient; s: ClientState; req: RuntimeRequest }) {
  const [text, setText] = useState('');
  const [choice, setChoice] = useState('');
  const [error, setError] = useState('');
  const inFlight = s.outgoing.some((o) => o.runtimeRequestID === req.requestID);
  const needsText = req.kind === 'userInput' || req.kind === 'mcpElicitation' || req.kind === 'dynamicToolCall';
  const options = req.responseOptions.length > 0 ? req.responseOptions : [{ id: 'submit', label: 'Submit' }, { id: 'cancel', label: 'Cancel' }];
  const respond = (optionID: string) => {
    const r = client.respondToRuntimeRequest(req, optionID, { text, choiceID: choice });
    setError(r.ok ? '' : r.error);
  };
  return (
    <div class="approval" role="group" aria-label={`Request: ${req.title}`} data-testid="approval-card" data-request-id={req.requestID} data-kind={req.kind}>
      <div class="approval-title">{req.title}</div>
      {req.summary && req.summary !== req.title && <div class="approval-summary">{req.summary}</div>}
      {req.toolName && <div class="muted small">Tool: {req.toolName}</div>}
      {req.permissions.length > 0 && (
        <ul class="perms">
          {req.permissions.map((p) => (
            <li key={p} class="mono small">
              {p}
            </li>
          ))}
        </ul>
      )}
      {s.canRespond ? (
        <>
          {req.kind === 'userInput' && req.options.length > 0 && (
            <div class="choices">
              {req.options.map((o) => (
                <label key={o.id} class="choice">
                  <input type="radio" name={`c-${req.requestID}`} checked={choice === o.id} onChange={() => setChoice(o.id)} />
                  {o.label}
                  {o.description && <span class="muted small"> — {o.description}</span>}
                </label>
              ))}
            </div>
          )}
          {needsText && <textarea rows={2} value={text} placeholder="Your answer" aria-label="Your answer" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />}
          <div class="row wrap">
            {options.map((o) => (
              <button
                key={o.id}
                class={`btn ${isNegativeOption(o.id) ? 'ghost' : 'primary'}`}
                disabled={inFlight}
                onClick={() => respond(o.id)}
                data-testid="approval-option"
                data-option-id={o.id}
              >
                {o.label}
              </button>
            ))}
          </div>
          {inFlight && <p class="muted small">Sending response…</p>}
          {error && <p class="error small">{error}</p>}
        </>
      ) : (
        <p class="muted small" data-testid="approval-readonly">
          Answer this on the desktop, or enable remote approvals there to answer from this phone.
        </p>
      )}
    </div>
  );
}
