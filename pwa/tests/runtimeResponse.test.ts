import { describe, expect, it } from 'vitest';
import { canRespondFrom, normalizeRuntimeRequest, validateCommand, makeCommand, type RuntimeRequest } from '../src/core/protocol';
import { buildRuntimeResponse, normalizeApprovalDecision } from '../src/core/runtimeResponse';
import { connectOnline, env, makeHarness } from './helpers';

const req = (over: Partial<RuntimeRequest>): RuntimeRequest => ({
  requestID: '17',
  kind: 'approval',
  title: 't',
  summary: 's',
  responseOptions: [],
  permissions: [],
  options: [],
  ...over,
});

const hasNull = (o: object) => Object.values(o).some((v) => v === null);

// Scenario 122
describe('runtime decision normalisation (122)', () => {
  it('maps approval aliases to canonical decisions', () => {
    expect(normalizeApprovalDecision('approve_once')).toBe('accept');
    expect(normalizeApprovalDecision('APPROVE_ONCE')).toBe('accept');
    expect(normalizeApprovalDecision('approveOnce')).toBe('accept');
    expect(normalizeApprovalDecision('accept')).toBe('accept');
    expect(normalizeApprovalDecision('approve_for_session')).toBe('acceptForSession');
    expect(normalizeApprovalDecision('acceptForSession')).toBe('acceptForSession');
    expect(normalizeApprovalDecision('approveForSession')).toBe('acceptForSession');
    expect(normalizeApprovalDecision('Decline')).toBe('decline');
    expect(normalizeApprovalDecision('cancel')).toBe('cancel');
    expect(normalizeApprovalDecision('something_else')).toBeNull();
  });

  it('canRespondToRuntimeRequests is true if either flag is true', () => {
    expect(canRespondFrom({ canRespondToRuntimeRequests: true })).toBe(true);
    expect(canRespondFrom({ supportsRuntimeRequests: true })).toBe(true);
    expect(canRespondFrom({ canRespondToRuntimeRequests: false, supportsRuntimeRequests: true })).toBe(true);
    expect(canRespondFrom({ canRespondToRuntimeRequests: false, supportsRuntimeRequests: false })).toBe(false);
    expect(canRespondFrom({})).toBe(false);
    expect(canRespondFrom({ supportsRuntimeRequests: 'yes' })).toBe(false);
  });

  it('approval: canonical → {decision, optionID}; other → {optionID}', () => {
    expect(buildRuntimeResponse(req({}), 'approve_once')).toEqual({ ok: true, response: { decision: 'accept', optionID: 'approve_once' } });
    expect(buildRuntimeResponse(req({}), 'approve_for_session')).toEqual({ ok: true, response: { decision: 'acceptForSession', optionID: 'approve_for_session' } });
    expect(buildRuntimeResponse(req({}), 'decline')).toEqual({ ok: true, response: { decision: 'decline', optionID: 'decline' } });
    expect(buildRuntimeResponse(req({}), 'custom_1')).toEqual({ ok: true, response: { optionID: 'custom_1' } });
    expect(buildRuntimeResponse(req({}), 'has space').ok).toBe(false);
  });

  it('permissionsApproval never sends nulls', () => {
    const r = req({ kind: 'permissionsApproval', permissions: ['project.write'], scopeHint: 'workspace' });
    expect(buildRuntimeResponse(r, 'grant')).toEqual({ ok: true, response: { optionID: 'grant', approved: true, permissions: ['project.write'], scope: 'workspace' } });
    expect(buildRuntimeResponse(r, 'decline')).toEqual({ ok: true, response: { optionID: 'decline', approved: false, permissions: [] } });
    const neutral = buildRuntimeResponse(req({ kind: 'permissionsApproval' }), 'maybe');
    expect(neutral).toEqual({ ok: true, response: { optionID: 'maybe' } });
  });

  it('userInput / mcpElicitation send text (possibly empty) instead of nulls', () => {
    const u = req({ kind: 'userInput', options: [{ id: 'choice-b', label: 'B' }] });
    expect(buildRuntimeResponse(u, 'submit', { text: '  Use the safer path. ', choiceID: 'choice-b' })).toEqual({
      ok: true,
      response: { text: 'Use the safer path.', optionID: 'choice-b' },
    });
    expect(buildRuntimeResponse(u, 'submit', { choiceID: 'not-an-option' })).toEqual({ ok: true, response: { text: '' } });
    expect(buildRuntimeResponse(u, 'cancel', { text: 'ignored' })).toEqual({ ok: true, response: { text: '' } });
    expect(buildRuntimeResponse(req({ kind: 'mcpElicitation' }), 'submit', { text: ' hi ' })).toEqual({ ok: true, response: { text: 'hi', optionID: 'submit' } });
    expect(buildRuntimeResponse(req({ kind: 'mcpElicitation' }), 'decline', { text: 'x' })).toEqual({ ok: true, response: { text: '', optionID: 'decline' } });
  });

  it('dynamicToolCall: approved by prefix', () => {
    const d = req({ kind: 'dynamicToolCall' });
    expect(buildRuntimeResponse(d, 'allow')).toEqual({ ok: true, response: { optionID: 'allow', approved: true } });
    expect(buildRuntimeResponse(d, 'deny')).toEqual({ ok: true, response: { optionID: 'deny', approved: false } });
    expect(buildRuntimeResponse(d, 'later')).toEqual({ ok: true, response: { optionID: 'later' } });
  });

  it('dynamicToolCall: the typed text is the tool result, never sent on decline', () => {
    const d = req({ kind: 'dynamicToolCall' });
    expect(buildRuntimeResponse(d, 'submit', { text: ' 42 files ' })).toEqual({ ok: true, response: { optionID: 'submit', approved: true, text: '42 files' } });
    expect(buildRuntimeResponse(d, 'allow', { text: 'ok' })).toEqual({ ok: true, response: { optionID: 'allow', approved: true, text: 'ok' } });
    expect(buildRuntimeResponse(d, 'deny', { text: 'secret' })).toEqual({ ok: true, response: { optionID: 'deny', approved: false } });
  });

  it('every produced response passes the relay rules (no explicit null)', () => {
    const kinds = ['approval', 'permissionsApproval', 'userInput', 'mcpElicitation', 'dynamicToolCall'] as const;
    for (const kind of kinds)
      for (const opt of ['approve_once', 'decline', 'grant', 'submit', 'cancel', 'neutral']) {
        const r = buildRuntimeResponse(req({ kind }), opt, { text: '' });
        if (!r.ok) continue;
        expect(hasNull(r.response)).toBe(false);
        const cmd = makeCommand('runtime_request.respond', 'cmd-1', { runtimeRequestID: '17', runtimeRequestKind: kind, runtimeRequestResponse: r.response });
        expect(validateCommand(cmd)).toBeNull();
      }
  });

  it('normalises snapshot runtime requests (§3.3)', () => {
    expect(normalizeRuntimeRequest({ kind: 'approval' })).toBeNull();
    const r = normalizeRuntimeRequest({ requestId: '5', kind: 'weird', summary: 'Only summary' })!;
    expect(r.requestID).toBe('5');
    expect(r.kind).toBe('approval');
    expect(r.title).toBe('Only summary');
    expect(r.responseOptions.map((o) => o.id)).toEqual(['accept', 'acceptForSession', 'decline']);
    const p = normalizeRuntimeRequest({ requestID: '6', kind: 'permissionsApproval' })!;
    expect(p.title).toBe('Runtime request');
    expect(p.responseOptions).toEqual([]);
  });

  it('the client sends a runtime_request.respond envelope with all eight keys', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive(env(1, 'hello', { role: 'desktop', supportsRuntimeRequests: true }));
    const r = h.client.respondToRuntimeRequest(req({ threadID: 'T1', responseOptions: [{ id: 'approve_once', label: 'Approve' }] }), 'approve_once');
    expect(r.ok).toBe(true);
    const cmd = s.json().find((m) => typeof m.seq === 'number') as { payload: { type: string; payload: Record<string, unknown> } };
    expect(cmd.payload.type).toBe('command');
    expect(cmd.payload.payload).toMatchObject({
      name: 'runtime_request.respond',
      threadID: 'T1',
      projectID: null,
      text: null,
      runtimeRequestID: '17',
      runtimeRequestKind: 'approval',
      runtimeRequestResponse: { decision: 'accept', optionID: 'approve_once' },
    });
    expect(Object.keys(cmd.payload.payload).sort()).toEqual(
      ['commandID', 'name', 'projectID', 'runtimeRequestID', 'runtimeRequestKind', 'runtimeRequestResponse', 'text', 'threadID'].sort(),
    );
  });

  it('refuses to respond when the desktop did not enable remote responses', () => {
    const h = makeHarness();
    connectOnline(h);
    expect(h.client.respondToRuntimeRequest(req({}), 'approve_once').ok).toBe(false);
    expect(h.client.nextOutgoingSeq).toBe(1);
  });
});
