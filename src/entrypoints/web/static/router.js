// @ts-check
// Hash routing: the view a URL shows, what a view leaves behind (onLeave), and the navigation's state.

import { SignInRequired } from "./api.js";
import { byId, h } from "./dom.js";
import { errorBox, requireSignIn, title, updateSessionLink } from "./ui.js";

/** @typedef {(...nodes: Node[]) => void} Show replaces the page's content, unless the user has moved on */
/** @typedef {(match: RegExpMatchArray, params: URLSearchParams, show: Show) => Promise<void> | void} View */
/** @typedef {[RegExp, string, View]} Route a path pattern, the navigation section it belongs to, the view */

/** @type {(() => void)[]} */
let cleanup = [];

// Called when the user leaves the current view (stop a recording, close an event stream).
/** @param {() => void} callback */
export function onLeave(callback) {
  cleanup.push(callback);
}

// Views get their own ``show``: a view still loading when the user moves on must not paint over the
// next one.
let navigation = 0;

/** @returns {Show} */
function renderer() {
  const mine = ++navigation;
  return (...nodes) => {
    if (mine !== navigation) return;
    const main = byId("main");
    main.replaceChildren(...nodes);
    const heading = main.querySelector("h1");
    document.title = heading ? `${heading.textContent} · Voice practice` : "Voice practice";
  };
}

/** @param {string | null} section */
function markNavigation(section) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link instanceof HTMLElement && link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** @param {Route[]} routes */
async function route(routes) {
  for (const callback of cleanup) callback();
  cleanup = [];
  const show = renderer();
  const current = navigation;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  updateSessionLink();
  for (const [pattern, section, view] of routes) {
    const found = path.match(pattern);
    if (!found) continue;
    markNavigation(section);
    try {
      await view(found, params, show);
    } catch (error) {
      if (error instanceof SignInRequired) {
        requireSignIn();
        return;
      }
      show(title("Something went wrong"), errorBox(error));
    }
    if (current !== navigation) return; // the user has moved on
    // Which route the content shows, once shown (a redirect to sign in is a route of its own).
    const main = byId("main");
    main.dataset.route = location.hash;
    main.focus({ preventScroll: true });
    return;
  }
  markNavigation(null);
  show(title("Not found"), h("p", {}, "There is nothing here. ", h("a", { href: "#/tokens" }, "Browse the lines.")));
}

// Shows the view of the current URL, and of every URL the user moves to.
/** @param {Route[]} routes */
export function startRouter(routes) {
  window.addEventListener("hashchange", () => route(routes));
  route(routes);
}
