// @ts-check
// What several views show: headings, errors, the session link, reference audio and bookmark toggles.

import { ApiError, SignInRequired, api, session } from "./api.js";
import { announce, byId, h } from "./dom.js";

/** @typedef {import("./types.js").Kind} Kind */
/** @typedef {import("./types.js").Token} Token */
/** @typedef {import("./types.js").Script} Script */
/** @typedef {import("./types.js").MyPage} MyPage */

/** @param {string} text */
export function title(text) {
  return h("h1", {}, text);
}

/** @param {unknown} error */
export function messageOf(error) {
  if (error instanceof TypeError) return "The server cannot be reached. Check your connection and try again.";
  return (error instanceof Error && error.message) || String(error);
}

/** @param {unknown} error */
export function errorBox(error) {
  const box = h("div", { class: "error", role: "alert" }, h("p", {}, messageOf(error)));
  if (error instanceof ApiError && error.errors.length) {
    box.append(h("ul", {}, error.errors.map((item) => h("li", {}, `${item.field}: ${item.message}`))));
  }
  return box;
}

// True when signed in; otherwise off to sign in, coming back here after.
export function requireSignIn() {
  if (session.get()) return true;
  location.hash = `#/signin?next=${encodeURIComponent(location.hash)}`;
  return false;
}

export function updateSessionLink() {
  const slot = byId("session-link");
  if (session.get()) {
    const button = h("button", { type: "button", class: "link-button" }, "Sign out");
    button.addEventListener("click", () => {
      session.clear();
      announce("Signed out.");
      location.hash = "#/signin";
    });
    slot.replaceChildren(button);
  } else {
    slot.replaceChildren(h("a", { href: "#/signin", "data-nav": "signin" }, "Sign in"));
  }
}

// How a line or a script is named in a sentence: the line quoted, or the script's title.
/**
 * @param {Kind} kind
 * @param {Token | Script} item
 */
export function itemName(kind, item) {
  return kind === "token" ? `“${item.text}”` : /** @type {Script} */ (item).title;
}

/** @returns {Promise<Set<string>>} */
export async function bookmarkedIds() {
  if (!session.get()) return new Set();
  try {
    /** @type {MyPage} */
    const page = await api.get("/v1/mypage");
    return new Set(page.bookmarks.map((b) => b.target_id));
  } catch {
    return new Set();
  }
}

/**
 * @param {Kind} kind
 * @param {string} id
 * @param {boolean} bookmarked
 * @param {string} label
 */
export function bookmarkButton(kind, id, bookmarked, label) {
  const button = h("button", { type: "button", class: "bookmark", "aria-pressed": String(bookmarked) });
  const paint = (/** @type {boolean} */ on) => {
    button.setAttribute("aria-pressed", String(on));
    button.replaceChildren(on ? "★ Bookmarked" : "☆ Bookmark");
    button.setAttribute("aria-label", `${on ? "Remove bookmark" : "Bookmark"}: ${label}`);
  };
  paint(bookmarked);
  button.addEventListener("click", async () => {
    if (!requireSignIn()) return;
    const on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    try {
      if (on) await api.put(`/v1/${kind}s/${id}/bookmark`);
      else await api.delete(`/v1/${kind}s/${id}/bookmark`);
      paint(on);
      announce(on ? "Bookmarked." : "Bookmark removed.");
    } catch (error) {
      if (error instanceof SignInRequired) requireSignIn();
      else announce(messageOf(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/**
 * @param {Token | Script} item
 * @param {string} label
 */
export function referenceAudio(item, label) {
  if (!item.reference_audio) return h("p", { class: "muted" }, "No reference recording yet.");
  return h(
    "figure",
    { class: "reference-audio" },
    h("figcaption", {}, label),
    h("audio", { controls: true, preload: "none", src: item.reference_audio.url }),
  );
}
