// Building DOM safely: text always goes in through textContent / text nodes, never innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** el('a', {class: 'x', href: '/y', text: 'hi', onclick: fn}, ...children) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function icon(name, extraClass = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `icon ${extraClass}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

export function readJSON(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

// The same rules as sovereel/captions.py: #tag (not after a word char, '&' or '#'), @user (2-30 chars).
const TOKEN_RE = /(?<![\p{L}\p{N}\p{M}_&#])#([\p{L}\p{N}\p{M}_]{1,100})|(?<![\p{L}\p{N}\p{M}_@])@([A-Za-z0-9_][A-Za-z0-9_.]{1,29})/gu;

/** A caption as nodes: text nodes, with #hashtags and @mentions as links. */
export function captionNodes(text) {
  const nodes = [];
  let pos = 0;
  for (const m of (text || '').matchAll(TOKEN_RE)) {
    const [whole, tag, mention] = m;
    if (tag !== undefined && /^\d+$/.test(tag)) continue;
    nodes.push(document.createTextNode(text.slice(pos, m.index)));
    if (tag !== undefined) {
      nodes.push(el('a', { class: 'tag', href: `/tag/${encodeURIComponent(tag.toLowerCase())}`, text: `#${tag}` }));
      pos = m.index + whole.length;
    } else {
      const name = mention.replace(/\.+$/, '');
      nodes.push(el('a', { class: 'mention', href: `/@${encodeURIComponent(name)}`, text: `@${name}` }));
      pos = m.index + 1 + name.length;
    }
  }
  nodes.push(document.createTextNode((text || '').slice(pos)));
  return nodes;
}

/** 1234 -> "1.2K" */
export function compact(n) {
  const value = Number(n) || 0;
  for (const [limit, suffix] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) {
    if (value >= limit) return `${(value / limit).toFixed(1).replace(/\.0$/, '')}${suffix}`;
  }
  return String(Math.max(0, Math.trunc(value)));
}

/** Epoch seconds -> "3m", "2h", "5d", or a date. */
export function timeAgo(seconds) {
  const diff = Math.max(0, Date.now() / 1000 - seconds);
  if (diff < 60) return 'now';
  if (diff < 3600) return `${Math.floor(diff / 60)}m`;
  if (diff < 86400) return `${Math.floor(diff / 3600)}h`;
  if (diff < 7 * 86400) return `${Math.floor(diff / 86400)}d`;
  return new Date(seconds * 1000).toLocaleDateString();
}

export function avatar(user, size = 'md') {
  if (user && user.avatar_url) {
    return el('img', { class: `avatar avatar-${size}`, src: user.avatar_url, alt: '', loading: 'lazy' });
  }
  const name = (user && (user.display_name || user.username)) || '?';
  return el('span', { class: `avatar avatar-${size} avatar-initial`, 'aria-hidden': 'true', text: name.trim().charAt(0).toUpperCase() || '?' });
}

export function profileUrl(username) {
  return `/@${encodeURIComponent(username)}`;
}
