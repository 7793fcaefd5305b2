// @ts-check
// Building DOM nodes without innerHTML: every string from the API becomes a text node.

const SVG_NS = "http://www.w3.org/2000/svg";

/** @typedef {Node | string | number | boolean | null | undefined} Leaf */
/** @typedef {Leaf | readonly Leaf[]} Children */
/** A node, text, or lists of them nested up to two deep; null, undefined and booleans add nothing.
 * @typedef {Children | readonly Children[]} Child */
/** @typedef {Record<string, unknown>} Attributes */

/**
 * @param {Element} element
 * @param {Child | readonly Child[]} child
 */
function appendChild(element, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const item of child) appendChild(element, item);
  } else {
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * @template {Element} E
 * @param {E} element
 * @param {Attributes | null | undefined} attributes
 * @param {Child[]} children
 * @returns {E}
 */
function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  appendChild(element, children);
  return element;
}

/**
 * An HTML element with attributes (``true`` sets a boolean one; null, undefined and false leave it out)
 * and children (nodes, or text).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes | null} [attributes]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/**
 * @param {string} tag
 * @param {Attributes | null} [attributes]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function svg(tag, attributes, ...children) {
  return build(/** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag)), attributes, children);
}

/**
 * An element the page's shell (index.html) always has.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/** @param {string} message */
export function announce(message) {
  const announcer = byId("announcer");
  announcer.textContent = "";
  // A fresh text node after clearing makes screen readers read a repeated message again.
  setTimeout(() => {
    announcer.textContent = message;
  }, 50);
}

/** @param {string} iso */
export function formatDate(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
