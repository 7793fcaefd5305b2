// @ts-check
// #/me: counts, scores over time, recent recordings and bookmarks.

import { SignInRequired, api, followMyJobs, retrier } from "../api.js";
import { historyChart } from "../charts.js";
import { formatDate, h } from "../dom.js";
import { onLeave } from "../router.js";
import { itemName, messageOf, requireSignIn, title } from "../ui.js";

/** @typedef {import("../router.js").Show} Show */
/** @typedef {import("../types.js").Job} Job */
/** @typedef {import("../types.js").Kind} Kind */
/** @typedef {import("../types.js").MyPage} MyPage */

// What each job practised: the line or the script's title (one request per distinct line or script).
/**
 * @param {Job[]} jobs
 * @returns {Promise<Map<string, string>>}
 */
async function targetNames(jobs) {
  /** @type {Map<string, Kind>} */
  const targets = new Map(jobs.flatMap((job) => (job.target_id ? [[job.target_id, job.kind]] : [])));
  /** @type {Map<string, string>} */
  const names = new Map();
  await Promise.all(
    [...targets].map(async ([id, kind]) => {
      try {
        names.set(id, itemName(kind, await api.get(`/v1/${kind}s/${id}`, { auth: false })));
      } catch {
        /* deleted from the catalog since: a generic label */
      }
    }),
  );
  return names;
}

/**
 * @param {Job} job
 * @param {Map<string, string>} names
 */
function jobLabel(job, names) {
  return (job.target_id && names.get(job.target_id)) || (job.kind === "token" ? "A line" : "A script");
}

/** @param {number | null} value */
const average = (value) => (value === null ? "–" : value.toFixed(1));

// How long the first load waits for the feed to start following, so that what it reads is not older
// than the feed's start; past it the page loads anyway, and again once the feed has started.
const FEED_START_WAIT_MS = 2000;
// Events come in bursts (a finished job's last progress, then completed): one load for the burst.
const RELOAD_DELAY_MS = 300;
// A load again that fails keeps what the page shows, says so, and is tried again after this long,
// doubling up to RETRY_MAX_MS (a change meanwhile tries at once).
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;

/** @returns {Promise<Node[]>} */
async function myPageContent() {
  /** @type {[MyPage, import("../types.js").Page<Job>]} */
  const [page, completed] = await Promise.all([api.get("/v1/mypage"), api.get("/v1/jobs?status=completed&limit=100")]);
  const names = await targetNames([...page.history.recent.items, ...completed.items]);
  const stats = page.history.stats;
  const points = completed.items
    .flatMap((job) => (job.result ? [{ at: new Date(job.created_at), overall: job.result.overall, label: jobLabel(job, names) }] : []))
    .reverse();
  const statList = h(
    "dl",
    { class: "stats" },
    h("div", {}, h("dt", {}, "Recordings"), h("dd", {}, String(stats.count))),
    h("div", {}, h("dt", {}, "Analysed"), h("dd", {}, String(stats.completed))),
    h("div", {}, h("dt", {}, "Average"), h("dd", {}, average(stats.average_overall))),
    h("div", {}, h("dt", {}, "Best"), h("dd", {}, average(stats.best_overall))),
  );
  const recent = page.history.recent.items.map((job) =>
    h(
      "li",
      { "data-job-id": job.id },
      h("a", { href: `#/jobs/${job.id}` }, jobLabel(job, names)),
      ` · ${formatDate(job.created_at)}`,
      " — ",
      h("span", { class: "job-status" }, job.result ? `${job.result.overall.toFixed(1)} / 100` : job.status),
    ),
  );
  const bookmarks = page.bookmarks.map((b) =>
    h(
      "li",
      {},
      h("a", { href: `#/${b.kind}s/${b.target_id}` }, b.token ? `“${b.token.text}” — ${b.token.actor.name}` : b.script ? b.script.title : b.kind),
    ),
  );
  return [
    title(`Hello, ${page.profile.display_name}`),
    statList,
    h(
      "section",
      { class: "card", "aria-labelledby": "history-heading" },
      h("h2", { id: "history-heading" }, "Progress"),
      points.length ? historyChart(points) : h("p", { class: "muted" }, "Your scores appear here once a recording has been analysed."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "recent-heading" },
      h("h2", { id: "recent-heading" }, "Recent recordings"),
      recent.length ? h("ul", { class: "plain-list" }, recent) : h("p", { class: "muted" }, "None yet: pick a line to practise."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "bookmarks-heading" },
      h("h2", { id: "bookmarks-heading" }, "Bookmarks"),
      bookmarks.length ? h("ul", { class: "plain-list" }, bookmarks) : h("p", { class: "muted" }, "Bookmark lines and scripts to find them here."),
    ),
  ];
}

// The history follows the user's live feed (docs/live.md): a listed job's status changes in place; a
// new job or a finished one loads the page again, whose counts, scores and chart then include it. One
// follower of the feed serves the whole visit, so its cursor carries across those loads and nothing
// between them is missed. A load shows what was committed when its requests ran: an event that comes
// while one is under way loads the page once more after it, and so does a feed connection that starts
// at the present (the first, or a reconnection before any event came), since what committed before its
// start is not sent; the first load waits for the feed's start instead. A load again that fails leaves
// the page as it was, with a notice under the heading, and is tried again until one succeeds.
/** @param {Show} show */
export async function myPageView(show) {
  if (!requireSignIn()) return;
  let begun = false;
  let loading = false;
  let again = false;
  let left = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let reload;
  const retry = retrier(loadAgain, RETRY_FIRST_MS, RETRY_MAX_MS);
  const notice = h("div", { class: "error", role: "status", hidden: true });
  /** @type {() => void} */
  let feedStarted = () => {};
  /** @type {Promise<void>} */
  const started = new Promise((resolve) => {
    feedStarted = resolve;
    setTimeout(resolve, FEED_START_WAIT_MS);
  });

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    begun = true;
    loading = true;
    try {
      const [heading, ...content] = await myPageContent();
      notice.hidden = true;
      retry.succeeded();
      show(heading, notice, ...content);
    } finally {
      loading = false;
      if (again) {
        again = false;
        loadAgain();
      }
    }
  }

  function loadAgain() {
    if (left) return;
    load().catch((error) => {
      if (left) return;
      if (error instanceof SignInRequired) {
        requireSignIn();
        return;
      }
      const wait = retry.later();
      notice.replaceChildren(
        h("p", {}, `This page could not be brought up to date: ${messageOf(error)}`),
        h("p", {}, `Trying again in ${Math.round(wait / 1000)} s.`),
      );
      notice.hidden = false;
    });
  }

  function changed() {
    if (loading) {
      again = true;
      return;
    }
    clearTimeout(reload);
    reload = setTimeout(loadAgain, RELOAD_DELAY_MS);
  }

  const follower = followMyJobs({
    onEvent(type, data) {
      if (!begun) return; // the first load, still to come, reads it
      const status = loading ? null : document.querySelector(`[data-job-id="${data.job_id}"] .job-status`);
      const finished = ["completed", "failed", "cancelled"].includes(type);
      if (status && !finished) {
        status.textContent = type === "progress" && typeof data.progress === "number" ? `${data.progress}%` : type;
        return;
      }
      changed();
    },
    onStatus(state, startedNow) {
      if (state !== "open" || !startedNow) return;
      if (begun) changed();
      else feedStarted();
    },
  });
  onLeave(() => {
    left = true;
    clearTimeout(reload);
    retry.stop();
    follower.stop();
  });
  await started;
  await load();
}
