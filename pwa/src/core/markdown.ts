// Agent markdown → a small, safe node tree (no HTML strings anywhere). marked's lexer tokenises;
// this module keeps only whitelisted structure. Raw HTML becomes text, links keep only http(s) and
// mailto targets, images become links (no remote loads), input size and nesting depth are bounded.
// The UI maps the tree to elements with text children, so nothing here can reach innerHTML.
import { Lexer, type Token, type Tokens } from 'marked';

/** Markdown beyond this many characters is shown as plain text (bounded parse time). */
export const MAX_MARKDOWN_CHARS = 24_000;
/** Deeper nesting (lists in quotes in lists…) is flattened to text. */
export const MAX_DEPTH = 12;

export type MdTag =
  | 'p' | 'h1' | 'h2' | 'h3' | 'h4' | 'h5' | 'h6' | 'ul' | 'ol' | 'li' | 'blockquote' | 'strong' | 'em' | 'del'
  | 'code' | 'pre' | 'a' | 'br' | 'hr' | 'table' | 'thead' | 'tbody' | 'tr' | 'th' | 'td' | 'input';

export interface MdElement {
  tag: MdTag;
  children: MdNode[];
  /** only on 'a': an absolute http(s) or mailto URL */
  href?: string;
  /** only on 'pre': the fence's language word */
  lang?: string;
  /** only on 'ol' */
  start?: number;
  /** only on 'input' (task list box) */
  checked?: boolean;
}
export type MdNode = string | MdElement;

const ALLOWED_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** An absolute http(s)/mailto URL, normalised; anything else (javascript:, data:, relative, garbage) → null. */
export function safeHref(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string') return null;
  // strip control characters and whitespace that browsers ignore inside schemes ("java\tscript:")
  const cleaned = raw.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (cleaned === '' || cleaned.length > 2048) return null;
  let u: URL;
  try {
    u = new URL(cleaned);
  } catch {
    return null;
  }
  return ALLOWED_SCHEMES.has(u.protocol) ? u.href : null;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decode the few entities people type in chat plus numeric ones; the result is only ever used as text. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[body] ?? m;
  });
}

function el(tag: MdTag, children: MdNode[], extra: Partial<MdElement> = {}): MdElement {
  return { tag, children, ...extra };
}

function inline(tokens: readonly Token[] | undefined, depth: number): MdNode[] {
  if (!tokens) return [];
  if (depth > MAX_DEPTH) return [tokens.map((t) => t.raw).join('')];
  const out: MdNode[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case 'strong':
      case 'em':
      case 'del':
        out.push(el(t.type, inline((t as Tokens.Strong).tokens, depth + 1)));
        break;
      case 'codespan':
        out.push(el('code', [(t as Tokens.Codespan).text]));
        break;
      case 'br':
        out.push(el('br', []));
        break;
      case 'link': {
        const l = t as Tokens.Link;
        const href = safeHref(l.href);
        const kids = inline(l.tokens, depth + 1);
        out.push(href ? el('a', kids.length > 0 ? kids : [href], { href }) : (l.raw as string));
        break;
      }
      case 'image': {
        const im = t as Tokens.Image;
        const href = safeHref(im.href);
        const label = `[image${im.text ? `: ${im.text}` : ''}]`;
        out.push(href ? el('a', [label], { href }) : label);
        break;
      }
      case 'html':
        out.push(t.raw); // raw HTML is shown as the text it is
        break;
      case 'escape':
        out.push((t as Tokens.Escape).text);
        break;
      case 'text': {
        const tt = t as Tokens.Text;
        if (tt.tokens && tt.tokens.length > 0) out.push(...inline(tt.tokens, depth + 1));
        else out.push(decodeEntities(tt.text));
        break;
      }
      default:
        out.push(t.raw ?? '');
    }
  }
  return out;
}

function blocks(tokens: readonly Token[], depth: number): MdNode[] {
  if (depth > MAX_DEPTH) return [el('p', [tokens.map((t) => t.raw).join('')])];
  const out: MdNode[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case 'space':
      case 'def':
        break;
      case 'paragraph':
        out.push(el('p', inline((t as Tokens.Paragraph).tokens, depth + 1)));
        break;
      case 'heading': {
        const h = t as Tokens.Heading;
        const level = Math.min(6, Math.max(1, h.depth));
        out.push(el(`h${level}` as MdTag, inline(h.tokens, depth + 1)));
        break;
      }
      case 'code': {
        const c = t as Tokens.Code;
        const lang = (c.lang ?? '').match(/^[A-Za-z0-9_+#.-]{1,32}/)?.[0];
        out.push(el('pre', [c.text], lang ? { lang } : {}));
        break;
      }
      case 'hr':
        out.push(el('hr', []));
        break;
      case 'blockquote':
        out.push(el('blockquote', blocks((t as Tokens.Blockquote).tokens, depth + 1)));
        break;
      case 'list': {
        const l = t as Tokens.List;
        const items = l.items.map((it) => {
          const kids = blocks(it.tokens, depth + 2);
          // tight lists: unwrap the single paragraph so items stay compact
          const flat = kids.length === 1 && typeof kids[0] !== 'string' && kids[0].tag === 'p' ? kids[0].children : kids;
          return el('li', it.task ? [el('input', [], { checked: it.checked === true }), ...flat] : flat);
        });
        const start = typeof l.start === 'number' && l.start !== 1 ? { start: l.start } : {};
        out.push(el(l.ordered ? 'ol' : 'ul', items, l.ordered ? start : {}));
        break;
      }
      case 'table': {
        const tb = t as Tokens.Table;
        const head = el('thead', [el('tr', tb.header.map((c) => el('th', inline(c.tokens, depth + 2))))]);
        const body = el('tbody', tb.rows.map((r) => el('tr', r.map((c) => el('td', inline(c.tokens, depth + 2))))));
        out.push(el('table', [head, body]));
        break;
      }
      case 'html':
        out.push(el('p', [t.raw]));
        break;
      case 'text': {
        const tt = t as Tokens.Text;
        out.push(el('p', tt.tokens ? inline(tt.tokens, depth + 1) : [decodeEntities(tt.text)]));
        break;
      }
      default:
        if (t.raw) out.push(el('p', [t.raw]));
    }
  }
  return out;
}

// marked's parser is super-linear on some inputs (thousands of unclosed `[a](`, long `*` runs,
// deep `> - > -` nesting: seconds to minutes). Such blocks are not prose: they never reach the
// lexer and are shown as the plain text they are. Other blocks have bounded delimiter counts.
// Each unclosed `[`, `(` or `<` makes the inline scanner look ahead to the end of the block, so
// cost ≈ unclosed openers × block length: bound that product, the emphasis/backtick count, long
// delimiter runs and deep container nesting.
const MAX_COST = 300_000;
const MAX_DELIMS = 400;
const MAX_RUN = 12;
const count = (s: string, re: RegExp) => s.match(re)?.length ?? 0;
const unclosed = (s: string, open: RegExp, close: RegExp) => Math.max(0, count(s, open) - count(s, close));

export function isRiskyBlock(block: string): boolean {
  const openers = unclosed(block, /\[/g, /\]/g) + unclosed(block, /\(/g, /\)/g) + unclosed(block, /</g, />/g);
  return (
    openers * block.length > MAX_COST ||
    count(block, /[*_~`]/g) > MAX_DELIMS ||
    new RegExp(`[*_~\`[<]{${MAX_RUN + 1}}`).test(block) ||
    /^(?:[ \t]*(?:[>*+-]|\d{1,9}[.)])[ \t]*){6,}/m.test(block)
  );
}

/** Split at blank lines outside fenced code into runs of lexable markdown and risky plain blocks. */
export function segment(src: string): { md: boolean; text: string }[] {
  const parts = src.split(/(\n[ \t]*\n)/);
  const out: { md: boolean; text: string }[] = [];
  let inFence = false;
  let run = '';
  for (let i = 0; i < parts.length; i += 2) {
    const block = parts[i];
    const sep = parts[i + 1] ?? '';
    const fences = count(block, /^ {0,3}(```|~~~)/gm);
    if (!inFence && fences === 0 && isRiskyBlock(block)) {
      if (run !== '') out.push({ md: true, text: run });
      out.push({ md: false, text: block });
      run = '';
    } else run += block + sep;
    if (fences % 2 === 1) inFence = !inFence;
  }
  if (run !== '') out.push({ md: true, text: run });
  return out;
}

/** Parse agent markdown into a safe tree. Never throws; oversized input keeps its tail as plain text. */
export function parseMarkdown(src: string): MdNode[] {
  const head = src.length > MAX_MARKDOWN_CHARS ? src.slice(0, MAX_MARKDOWN_CHARS) : src;
  const nodes: MdNode[] = [];
  for (const seg of segment(head)) {
    if (!seg.md) {
      nodes.push(el('pre', [seg.text]));
      continue;
    }
    try {
      nodes.push(...blocks(Lexer.lex(seg.text, { gfm: true, breaks: true, async: false }), 0));
    } catch {
      nodes.push(el('p', [seg.text]));
    }
  }
  if (head.length < src.length) nodes.push(el('pre', [src.slice(MAX_MARKDOWN_CHARS)]));
  return nodes;
}

/** Plain text of a tree (previews, copy, tests). */
export function mdText(nodes: readonly MdNode[]): string {
  return nodes.map((n) => (typeof n === 'string' ? n : mdText(n.children))).join('');
}
