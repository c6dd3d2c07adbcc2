// A small Markdown renderer for announcements and agendas: paragraphs,
// headings, lists, quotes, code, rules, bold, italic, inline code and
// links. It builds DOM nodes and never parses text as HTML, so whatever a
// body holds (tags, scripts, entities) is shown as the text it is. Links
// keep only http, https and mailto addresses; anything else stays text.

/** Schemes a link may have. */
const LINK_SCHEMES = ['http:', 'https:', 'mailto:'];
/** Body headings sit below the screen's own title: `#` is an h3. */
const HEADING_BASE = 2;

// Inline spans, in the order they are tried at one place: code, a link,
// a bare address, bold italic, bold, italic. Underscores count only at
// word edges (snake_case stays as it is).
const INLINE = new RegExp([
  '`([^`\\n]+)`',
  '\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)',
  '(https?://[^\\s<>()]+[^\\s<>().,;:!?\'"，。；：！？）])',
  '\\*\\*\\*(?=\\S)(.+?)(?<=\\S)\\*\\*\\*',
  '\\*\\*(?=\\S)(.+?)(?<=\\S)\\*\\*',
  '(?<![\\p{L}\\p{N}_])__(?=\\S)(.+?)(?<=\\S)__(?![\\p{L}\\p{N}_])',
  '\\*(?=[^\\s*])(.+?)(?<=[^\\s*])\\*',
  '(?<![\\p{L}\\p{N}_])_(?=[^\\s_])(.+?)(?<=[^\\s_])_(?![\\p{L}\\p{N}_])',
].join('|'), 'u');

/** `href` if it is an address a link may have, else null. */
function safeHref(href) {
  try {
    const url = new URL(href, 'http://invalid.invalid/');
    if (!LINK_SCHEMES.includes(url.protocol) || url.hostname === 'invalid.invalid') return null;
    return url.href;
  } catch (_) {
    return null;
  }
}

function link(href, label) {
  const safe = safeHref(href);
  if (!safe) return null;
  const a = document.createElement('a');
  a.href = safe;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  a.textContent = label;
  return a;
}

/** Appends the inline spans of `text` to `parent`. */
function inline(parent, text) {
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      parent.append(rest);
      return;
    }
    if (m.index > 0) parent.append(rest.slice(0, m.index));
    const [whole, code, label, href, bare, both, bold, bold2, em, em2] = m;
    let node = null;
    if (code !== undefined) {
      node = document.createElement('code');
      node.textContent = code;
    } else if (label !== undefined) {
      node = link(href, '');
      if (node) inline(node, label);
    } else if (bare !== undefined) {
      node = link(bare, bare);
    } else if (both !== undefined) {
      node = document.createElement('strong');
      const inner = document.createElement('em');
      inline(inner, both);
      node.append(inner);
    } else if (bold !== undefined || bold2 !== undefined) {
      node = document.createElement('strong');
      inline(node, bold ?? bold2);
    } else {
      node = document.createElement('em');
      inline(node, em ?? em2);
    }
    parent.append(node || whole);
    rest = rest.slice(m.index + whole.length);
  }
}

/** Appends `lines` as inline text, one line break between lines. */
function lines(parent, texts) {
  texts.forEach((line, i) => {
    if (i > 0) parent.append(document.createElement('br'));
    inline(parent, line);
  });
  return parent;
}

const HEADING = /^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const FENCE = /^\s{0,3}(```|~~~)/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

/** `text` (Markdown) as a fragment of DOM nodes. */
export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const src = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < src.length) {
    const line = src[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < src.length && !src[i].trimStart().startsWith(fence)) {
        body.push(src[i]);
        i += 1;
      }
      i += 1;
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.textContent = body.join('\n');
      pre.append(code);
      out.append(pre);
    } else if ((m = HEADING.exec(line))) {
      const el = document.createElement('h' + Math.min(6, m[1].length + HEADING_BASE));
      inline(el, m[2]);
      out.append(el);
      i += 1;
    } else if (RULE.test(line)) {
      out.append(document.createElement('hr'));
      i += 1;
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const numbered = !BULLET.test(line);
      const pattern = numbered ? NUMBERED : BULLET;
      const list = document.createElement(numbered ? 'ol' : 'ul');
      const first = NUMBERED.exec(line);
      if (numbered && first && first[1] !== '1') list.start = Number(first[1]);
      const items = [];
      while (i < src.length && src[i].trim()) {
        const cur = pattern.exec(src[i]);
        if (cur) items.push([cur[numbered ? 2 : 1]]);
        else if (items.length && /^\s+\S/.test(src[i])) items[items.length - 1].push(src[i].trim());
        else break;
        i += 1;
      }
      for (const item of items) list.append(lines(document.createElement('li'), item));
      out.append(list);
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < src.length && (m = QUOTE.exec(src[i]))) {
        body.push(m[1]);
        i += 1;
      }
      const quote = document.createElement('blockquote');
      quote.append(renderMarkdown(body.join('\n')));
      out.append(quote);
    } else {
      const para = [];
      while (i < src.length && src[i].trim() && !HEADING.test(src[i]) && !FENCE.test(src[i])
        && !BULLET.test(src[i]) && !NUMBERED.test(src[i]) && !QUOTE.test(src[i]) && !RULE.test(src[i])) {
        para.push(src[i].trim());
        i += 1;
      }
      out.append(lines(document.createElement('p'), para));
    }
  }
  return out;
}
