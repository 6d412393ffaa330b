// Building and updating the page without HTML strings: every element is made with DOM calls (the page runs
// under Trusted Types with no policy, so no string can reach an HTML sink), and live updates are applied by
// morphing the shown tree into a freshly built one, so focus, scroll position, text selection and open
// <details> survive the refresh every second or two.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Makes an HTML element. Props become attributes (`true` = present, `false`/`null`/`undefined` = absent);
 * `class` may be an array (falsy entries are dropped). Children may be nodes, strings, numbers or nested
 * arrays; `null`, `undefined` and `false` are skipped.
 */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  setProps(element, props);
  appendAll(element, children);
  return element;
}

/** Makes an SVG element, as {@link h} does. */
export function s(tag, props, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setProps(element, props);
  appendAll(element, children);
  return element;
}

function setProps(element, props) {
  if (props == null) return;
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') {
      const text = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      if (text !== '') element.setAttribute('class', text);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function appendAll(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Makes `target` look like `source` (an element of the same tag built from newer data), changing only what
 * differs. Children are matched by position, or by their `data-key` attribute when they have one, so rows
 * that move keep their identity. Behaviour is attached by event delegation on `data-action` attributes, never
 * to elements, so a kept element never runs a stale handler.
 */
export function morph(target, source) {
  syncAttributes(target, source);
  const incoming = [...source.childNodes];
  for (let i = 0; i < incoming.length; i++) {
    const next = incoming[i];
    const current = target.childNodes[i];
    if (current === undefined) {
      target.append(next);
    } else if (same(current, next)) {
      update(current, next);
    } else {
      const key = next.nodeType === Node.ELEMENT_NODE ? next.getAttribute('data-key') : null;
      let moved = null;
      if (key !== null) {
        for (let j = i + 1; j < target.childNodes.length; j++) {
          if (same(target.childNodes[j], next)) {
            moved = target.childNodes[j];
            break;
          }
        }
      }
      if (moved !== null) {
        target.insertBefore(moved, current);
        update(moved, next);
      } else {
        target.insertBefore(next, current);
      }
    }
  }
  while (target.childNodes.length > incoming.length) target.lastChild.remove();
}

function same(a, b) {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType !== Node.ELEMENT_NODE) return true;
  return a.namespaceURI === b.namespaceURI && a.tagName === b.tagName && a.getAttribute('data-key') === b.getAttribute('data-key');
}

function update(current, next) {
  if (current.nodeType === Node.ELEMENT_NODE) morph(current, next);
  else if (current.nodeValue !== next.nodeValue) current.nodeValue = next.nodeValue;
}

function syncAttributes(target, source) {
  // Whether a <details> is open is the operator's choice, made by clicking it: a refresh never changes it.
  const userOwned = (name) => name === 'open' && (target.tagName === 'DETAILS' || target.tagName === 'DIALOG');
  for (const { name } of [...target.attributes]) {
    if (!source.hasAttribute(name) && !userOwned(name)) target.removeAttribute(name);
  }
  for (const { name, value } of source.attributes) {
    if (userOwned(name)) continue;
    // An inline style attribute is refused by the Content-Security-Policy; the style object is not.
    if (name === 'style') target.style.cssText = source.style.cssText;
    else if (target.getAttribute(name) !== value) target.setAttribute(name, value);
  }
}

/** Moves focus to `element` without scrolling when it can take focus. */
export function focusQuietly(element) {
  if (element instanceof HTMLElement || element instanceof SVGElement) element.focus({ preventScroll: true });
}
