// @ts-check
// A completed job's result: the overall score, a meter per aspect, the pitch contours and the words.

import { pitchChart } from "../charts.js";
import { h } from "../dom.js";
import { referenceAudio } from "../ui.js";

/** @typedef {import("../types.js").ClientConfig} ClientConfig */
/** @typedef {import("../types.js").AnalysisResult} AnalysisResult */
/** @typedef {import("../types.js").WordResult} WordResult */
/** @typedef {import("../types.js").Job} Job */

// How a word status the API reports is spelled out; a status not listed here is shown by its name.
/** @type {Record<string, string>} */
const WORD_STATUS_TEXT = { ok: "well said", mispronounced: "mispronounced", omitted: "left out" };

/** @param {string} status */
const statusText = (status) => WORD_STATUS_TEXT[status] || status;

/**
 * @param {AnalysisResult} result
 * @param {string[]} aspects the API's score aspects, in its order
 */
function scoreList(result, aspects) {
  const rows = aspects
    .filter((aspect) => result.scores[aspect] !== undefined)
    .map((aspect) => {
      const value = result.scores[aspect];
      const id = `score-${aspect}`;
      return h(
        "li",
        {},
        h("span", { id, class: "aspect" }, aspect[0].toUpperCase() + aspect.slice(1)),
        h("meter", { min: 0, max: 100, low: 50, high: 75, optimum: 100, value, "aria-labelledby": id }),
        h("span", { class: "value" }, value.toFixed(1)),
      );
    });
  const notes = [];
  if (result.metrics && result.metrics.intonation_judged === false) {
    notes.push(h("p", { class: "muted" }, "Intonation was not judged: the reference has too little voiced speech."));
  }
  return [h("ul", { class: "scores", "aria-label": "Scores by aspect" }, rows), notes];
}

/**
 * @param {WordResult[]} words
 * @param {string[]} statuses the API's word statuses
 */
function wordsView(words, statuses) {
  const legend = h(
    "ul",
    { class: "legend words-legend" },
    statuses.map((status) => h("li", {}, h("span", { class: `word word--${status}` }, statusText(status)))),
  );
  const line = h(
    "p",
    { class: "words" },
    words.map((word) => [
      h(
        "span",
        { class: `word word--${word.status}`, title: `${statusText(word.status)}, ${word.score.toFixed(0)} of 100`, "data-score": word.score },
        word.text,
        h("span", { class: "visually-hidden" }, ` (${statusText(word.status)}, ${word.score.toFixed(0)})`),
      ),
      " ",
    ]),
  );
  return h("section", { class: "card", "aria-labelledby": "words-heading" }, h("h2", { id: "words-heading" }, "Word by word"), legend, line);
}

/**
 * @param {Job & {result: AnalysisResult}} job
 * @param {import("../types.js").Token | import("../types.js").Script | null} target
 * @param {ClientConfig} config
 */
export function resultView(job, target, config) {
  const result = job.result;
  const pitch = result.contours && result.contours.pitch;
  return h(
    "section",
    { class: "result", "aria-labelledby": "result-heading" },
    h("h2", { id: "result-heading" }, "Your result"),
    h(
      "div",
      { class: "card overall" },
      h("p", { class: "overall-score" }, h("span", { class: "number" }, result.overall.toFixed(0)), h("span", { class: "of" }, " / 100")),
      h("p", {}, "Overall score"),
      scoreList(result, config.score_aspects),
    ),
    pitch && pitch.times && pitch.times.length
      ? h("section", { class: "card", "aria-labelledby": "pitch-heading" }, h("h2", { id: "pitch-heading" }, "Intonation"), pitchChart(pitch))
      : h("p", { class: "muted" }, "No pitch contour came with this result."),
    result.words && result.words.length ? wordsView(result.words, config.word_statuses) : null,
    h(
      "p",
      { class: "actions" },
      job.target_id ? h("a", { class: "button primary", href: `#/${job.kind}s/${job.target_id}` }, "Try again") : null,
      h("a", { class: "button", href: "#/me" }, "See your progress"),
    ),
    target ? referenceAudio(target, "The actor's version") : null,
  );
}
