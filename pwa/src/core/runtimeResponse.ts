// Map a tapped response option to a runtimeRequestResponse (APP_SCHEMA §5.1), adjusted so the
// relay never sees an explicit null (RELAY_PROTOCOL §9.3): absent values are omitted, and
// shapes that would be empty get a harmless empty `text` or are refused locally.
import {
  isCompactId,
  MAX_PERMISSION_BYTES,
  MAX_SCOPE_BYTES,
  utf8Bytes,
  type RuntimeRequest,
  type RuntimeRequestResponse,
} from './protocol';

export type ApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';

const NEGATIVE_RE = /^(decline|deny|reject|cancel|no|stop|dismiss)/i;
const AFFIRMATIVE_RE = /^(accept|allow|approve|yes|confirm|continue|grant|proceed|submit|ok)/i;

/** Canonical approval decision for an option id, or null when it is not a known alias. */
export function normalizeApprovalDecision(optionID: string): ApprovalDecision | null {
  switch (optionID.trim().toLowerCase()) {
    case 'accept':
    case 'approve_once':
    case 'approveonce':
      return 'accept';
    case 'acceptforsession':
    case 'approve_for_session':
    case 'approveforsession':
      return 'acceptForSession';
    case 'decline':
      return 'decline';
    case 'cancel':
      return 'cancel';
    default:
      return null;
  }
}

export const isNegativeOption = (id: string): boolean => NEGATIVE_RE.test(id.trim());
export const isAffirmativeOption = (id: string): boolean => AFFIRMATIVE_RE.test(id.trim());

export interface ResponseDraft {
  /** free text typed into the card (userInput / mcpElicitation / dynamicToolCall result) */
  text?: string;
  /** choice picked among request.options (userInput) */
  choiceID?: string;
}

export type BuildResult = { ok: true; response: RuntimeRequestResponse } | { ok: false; error: string };

/** Build the wire response for `optionID` tapped on `req`. */
export function buildRuntimeResponse(req: RuntimeRequest, optionID: string, draft: ResponseDraft = {}): BuildResult {
  const opt = isCompactId(optionID) ? optionID : undefined;
  const negative = isNegativeOption(optionID);
  const text = draft.text?.trim() ?? '';
  switch (req.kind) {
    case 'approval': {
      const decision = normalizeApprovalDecision(optionID);
      if (decision) return { ok: true, response: opt ? { decision, optionID: opt } : { decision } };
      if (!opt) return { ok: false, error: 'This option cannot be sent from the phone.' };
      return { ok: true, response: { optionID: opt } };
    }
    case 'permissionsApproval': {
      if (negative) {
        const r: RuntimeRequestResponse = { approved: false, permissions: [] };
        if (opt) r.optionID = opt;
        return { ok: true, response: r };
      }
      const r: RuntimeRequestResponse = {};
      if (opt) r.optionID = opt;
      if (isAffirmativeOption(optionID)) r.approved = true;
      const perms = req.permissions.filter((p) => p.trim() !== '' && utf8Bytes(p) <= MAX_PERMISSION_BYTES);
      if (perms.length > 0) r.permissions = perms;
      const scope = req.scopeHint?.trim();
      if (scope && utf8Bytes(scope) <= MAX_SCOPE_BYTES) r.scope = scope;
      if (Object.keys(r).length === 0) return { ok: false, error: 'This option cannot be sent from the phone.' };
      return { ok: true, response: r };
    }
    case 'userInput': {
      // Reference shape {text:null, optionID:null} is refused by the relay: send an empty text.
      if (negative) return { ok: true, response: { text: '' } };
      const r: RuntimeRequestResponse = {};
      if (text) r.text = text;
      const choice = draft.choiceID;
      if (choice && isCompactId(choice) && req.options.some((o) => o.id === choice)) r.optionID = choice;
      if (Object.keys(r).length === 0) r.text = '';
      return { ok: true, response: r };
    }
    case 'mcpElicitation': {
      // optionID tells accept / decline / cancel apart (an empty text alone reads as decline).
      const r: RuntimeRequestResponse = { text: negative ? '' : text };
      if (opt) r.optionID = opt;
      return { ok: true, response: r };
    }
    case 'dynamicToolCall': {
      const r: RuntimeRequestResponse = {};
      if (opt) r.optionID = opt;
      if (negative) r.approved = false;
      else if (isAffirmativeOption(optionID)) r.approved = true;
      // The typed text is the tool's result (the desktop hands it to the agent as the output).
      if (!negative && text) r.text = text;
      if (Object.keys(r).length === 0) return { ok: false, error: 'This option cannot be sent from the phone.' };
      return { ok: true, response: r };
    }
  }
}
