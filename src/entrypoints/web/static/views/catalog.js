// @ts-check
// #/tokens and #/scripts: the catalog, with search, "show more" paging, reference audio and bookmarks.

import { api } from "../api.js";
import { clientConfig } from "../config.js";
import { h } from "../dom.js";
import { bookmarkButton, bookmarkedIds, errorBox, referenceAudio, title } from "../ui.js";

/** @typedef {import("../router.js").Show} Show */
/** @typedef {import("../types.js").Kind} Kind */
/** @typedef {import("../types.js").Token} Token */
/** @typedef {import("../types.js").Script} Script */

const PAGE_SIZE = 20;

/**
 * @param {Token} token
 * @param {boolean} bookmarked
 */
function tokenCard(token, bookmarked) {
  const movie = token.movie_year ? `${token.movie_title} (${token.movie_year})` : token.movie_title;
  return h(
    "li",
    { class: "card item" },
    h("blockquote", {}, h("p", {}, `“${token.text}”`)),
    h("p", { class: "byline" }, h("strong", {}, token.actor.name), " in ", h("cite", {}, movie)),
    referenceAudio(token, `${token.actor.name} says it`),
    h(
      "p",
      { class: "actions" },
      h("a", { class: "button primary", href: `#/tokens/${token.id}` }, "Practise this line"),
      bookmarkButton("token", token.id, bookmarked, token.text),
    ),
  );
}

/**
 * @param {Script} script
 * @param {boolean} bookmarked
 */
function scriptCard(script, bookmarked) {
  const excerpt = script.text.length > 180 ? `${script.text.slice(0, 180)}…` : script.text;
  return h(
    "li",
    { class: "card item" },
    h("h2", {}, script.title),
    h("p", {}, excerpt),
    referenceAudio(script, "Listen to the reading"),
    h(
      "p",
      { class: "actions" },
      h("a", { class: "button primary", href: `#/scripts/${script.id}` }, "Read this script"),
      bookmarkButton("script", script.id, bookmarked, script.title),
    ),
  );
}

/**
 * @param {Kind} kind
 * @param {URLSearchParams} params
 * @param {Show} show
 */
export async function catalogView(kind, params, show) {
  const isToken = kind === "token";
  const query = params.get("q") || "";
  const heading = isToken ? "Lines from movies" : "Scripts to read";
  const { text_limits: limits } = await clientConfig();
  const searchForm = h(
    "form",
    { class: "search", role: "search" },
    h("label", { for: "search" }, isToken ? "Search lines" : "Search scripts"),
    h("input", { id: "search", name: "q", type: "search", value: query, maxlength: limits.search_max }),
    h("button", { type: "submit" }, "Search"),
  );
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = String(new FormData(searchForm).get("q") || "").trim();
    location.hash = `#/${kind}s${q ? `?q=${encodeURIComponent(q)}` : ""}`;
  });
  const list = h("ul", { class: "items", "aria-label": heading });
  const more = h("button", { type: "button", hidden: true }, "Show more");
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  show(title(heading), searchForm, summary, list, more);
  const marks = await bookmarkedIds();
  let offset = 0;
  const load = async () => {
    more.disabled = true;
    const search = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (query) search.set("q", query);
    /** @type {import("../types.js").Page<Token | Script>} */
    const page = await api.get(`/v1/${kind}s?${search}`, { auth: false });
    for (const item of page.items) {
      const marked = marks.has(item.id);
      list.append(isToken ? tokenCard(/** @type {Token} */ (item), marked) : scriptCard(/** @type {Script} */ (item), marked));
    }
    offset += page.items.length;
    summary.textContent = page.total
      ? `Showing ${offset} of ${page.total}.`
      : query
        ? `Nothing matches “${query}”.`
        : "The catalog is empty.";
    more.hidden = offset >= page.total;
    more.disabled = false;
  };
  more.addEventListener("click", () => load().catch((error) => summary.replaceWith(errorBox(error))));
  await load();
}
