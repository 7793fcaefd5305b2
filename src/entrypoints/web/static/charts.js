// @ts-check
// Line charts drawn as SVG: the reference and user pitch contours, and scores over time. Each chart is
// an image with a text description; the numbers are also offered as a table for screen readers.

import { h, svg } from "./dom.js";

/** @typedef {import("./dom.js").Child} Child */
/** @typedef {import("./types.js").PitchContour} PitchContour */
/** @typedef {(value: number) => number} Scale */
/** @typedef {number | null | undefined} Value a point of a series; null or undefined where there is none */

// The drawing is as wide as the page's column (320 to 720 units), so its text stays legible on a phone.
let WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 44, right: 12, top: 26, bottom: 36 };

function fitWidth() {
  const column = document.getElementById("main");
  WIDTH = Math.round(Math.max(320, Math.min(720, (column ? column.clientWidth : 640) - 34)));
}

let chartCount = 0;

/**
 * @param {number} min
 * @param {number} max
 * @param {number} count
 */
function niceTicks(min, max, count) {
  const span = max - min || 1;
  const rough = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) || rough;
  const ticks = [];
  for (let value = Math.ceil(min / step) * step; value <= max + 1e-9; value += step) {
    ticks.push(Number(value.toFixed(6)));
  }
  return ticks;
}

/**
 * @param {number} domainMin
 * @param {number} domainMax
 * @param {number} rangeMin
 * @param {number} rangeMax
 * @returns {Scale}
 */
function scale(domainMin, domainMax, rangeMin, rangeMax) {
  const span = domainMax - domainMin || 1;
  return (value) => rangeMin + ((value - domainMin) / span) * (rangeMax - rangeMin);
}

// One path per series; a gap (null: unvoiced, no pitch) lifts the pen.
/**
 * @param {number[]} xs
 * @param {Value[]} ys
 * @param {Scale} x
 * @param {Scale} y
 */
function linePath(xs, ys, x, y) {
  let d = "";
  let drawing = false;
  ys.forEach((value, index) => {
    if (value === null || value === undefined || Number.isNaN(value)) {
      drawing = false;
      return;
    }
    d += `${drawing ? "L" : "M"}${x(xs[index]).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  });
  return d;
}

/**
 * @param {Scale} x
 * @param {Scale} y
 * @param {number[]} xTicks
 * @param {number[]} yTicks
 * @param {string} xLabel
 * @param {string} yLabel
 * @param {(tick: number) => string} formatX
 */
function axes(x, y, xTicks, yTicks, xLabel, yLabel, formatX) {
  const bottom = HEIGHT - PAD.bottom;
  return svg(
    "g",
    { class: "axes", "aria-hidden": "true" },
    yTicks.map((tick) =>
      svg(
        "g",
        {},
        svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }),
        svg("text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end" }, String(tick)),
      ),
    ),
    xTicks.map((tick) =>
      svg("text", { x: x(tick), y: bottom + 16, "text-anchor": "middle" }, formatX(tick)),
    ),
    svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: bottom, y2: bottom, class: "axis" }),
    svg("text", { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 4, "text-anchor": "middle" }, xLabel),
    svg("text", { x: 8, y: 12, "text-anchor": "start", class: "axis-label" }, yLabel),
  );
}

/**
 * @param {string} kind
 * @param {string} title
 * @param {string} description
 * @param {Child} body
 * @param {Child} legend
 * @param {Child} table
 */
function chartFrame(kind, title, description, body, legend, table) {
  chartCount += 1;
  const titleId = `chart-${chartCount}-title`;
  const descId = `chart-${chartCount}-desc`;
  return h(
    "figure",
    { class: `chart ${kind}` },
    svg(
      "svg",
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        "aria-labelledby": `${titleId} ${descId}`,
        preserveAspectRatio: "xMidYMid meet",
      },
      svg("title", { id: titleId }, title),
      svg("desc", { id: descId }, description),
      body,
    ),
    h("figcaption", {}, h("strong", {}, title), legend),
    table,
  );
}

/**
 * @param {string} className
 * @param {string} label
 */
function legendItem(className, label) {
  return h("li", {}, h("span", { class: `swatch ${className}`, "aria-hidden": "true" }), label);
}

/**
 * @param {string} caption
 * @param {string[]} headers
 * @param {string[][]} rows
 */
function dataTable(caption, headers, rows) {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Show the numbers"),
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
    ),
  );
}

const round1 = (/** @type {Value} */ value) => (value === null || value === undefined ? "–" : Number(value).toFixed(1));

// contour: {times, reference, user, unit}; values are semitones from each speaker's median, null where
// there is no voiced pitch.
/** @param {PitchContour} contour */
export function pitchChart(contour) {
  fitWidth();
  const times = contour.times || [];
  const values = [...contour.reference, ...contour.user].filter((v) => v !== null && v !== undefined);
  const low = Math.min(-6, ...values);
  const high = Math.max(6, ...values);
  const end = times.length ? times[times.length - 1] : 1;
  const x = scale(times[0] || 0, end, PAD.left, WIDTH - PAD.right);
  const y = scale(low, high, HEIGHT - PAD.bottom, PAD.top);
  const voiced = (/** @type {Value[]} */ series) => series.filter((v) => v !== null && v !== undefined).length;
  const description =
    `Pitch over ${end.toFixed(1)} seconds, in ${contour.unit || "semitones"}: the actor's line has ` +
    `${voiced(contour.reference)} voiced points, yours ${voiced(contour.user)}. Where the two lines ` +
    `follow each other, your intonation matches.`;
  const body = svg(
    "g",
    {},
    axes(x, y, niceTicks(times[0] || 0, end, 6), niceTicks(low, high, 5), "seconds", "semitones", (t) =>
      t.toFixed(1),
    ),
    svg("path", { class: "series reference", d: linePath(times, contour.reference, x, y) }),
    svg("path", { class: "series user", d: linePath(times, contour.user, x, y) }),
  );
  const legend = h(
    "ul",
    { class: "legend" },
    legendItem("reference", "Actor (reference)"),
    legendItem("user", "You"),
  );
  const rows = times.map((time, i) => [time.toFixed(2), round1(contour.reference[i]), round1(contour.user[i])]);
  const table = dataTable("Pitch, semitones from the median", ["Second", "Actor", "You"], rows);
  return chartFrame("pitch-chart", "Pitch: the actor and you", description, body, legend, table);
}

// Oldest first.
/** @param {{at: Date, overall: number, label: string}[]} points */
export function historyChart(points) {
  fitWidth();
  const first = points[0].at.getTime();
  const last = points[points.length - 1].at.getTime();
  const x =
    points.length > 1
      ? scale(0, points.length - 1, PAD.left + 8, WIDTH - PAD.right - 8)
      : () => (PAD.left + WIDTH - PAD.right) / 2;
  const y = scale(0, 100, HEIGHT - PAD.bottom, PAD.top);
  const indexes = points.map((_, i) => i);
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  const shortDate = (/** @type {number} */ i) =>
    points[i].at.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const xTicks = indexes.filter((i) => i % labelEvery === 0);
  const best = Math.max(...points.map((p) => p.overall));
  const latest = points[points.length - 1].overall;
  const description =
    `${points.length} analysed recordings from ${new Date(first).toLocaleDateString()} to ` +
    `${new Date(last).toLocaleDateString()}; best ${best.toFixed(1)}, latest ${latest.toFixed(1)} of 100.`;
  const body = svg(
    "g",
    {},
    axes(x, y, xTicks, [0, 25, 50, 75, 100], "recordings, oldest first", "score", shortDate),
    svg("path", { class: "series overall", d: linePath(indexes, points.map((p) => p.overall), x, y) }),
    points.map((point, i) =>
      svg(
        "circle",
        { class: "point", cx: x(i), cy: y(point.overall), r: 4 },
        svg("title", {}, `${point.label}: ${point.overall.toFixed(1)}`),
      ),
    ),
  );
  const legend = h("ul", { class: "legend" }, legendItem("overall", "Overall score, 0–100"));
  const rows = points.map((p) => [p.at.toLocaleString(), p.label, p.overall.toFixed(1)]);
  const table = dataTable("Overall score of each analysed recording", ["When", "What", "Score"], rows);
  return chartFrame("history-chart", "Your scores over time", description, body, legend, table);
}
