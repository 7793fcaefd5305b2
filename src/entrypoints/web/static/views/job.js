// @ts-check
// #/jobs/ID: the analysis's progress from the job's event stream, then its result or why it failed.

import { api, followJob } from "../api.js";
import { clientConfig } from "../config.js";
import { announce, h } from "../dom.js";
import { onLeave } from "../router.js";
import { errorBox, itemName, requireSignIn, title } from "../ui.js";
import { resultView } from "./result.js";

/** @typedef {import("../router.js").Show} Show */
/** @typedef {import("../types.js").Job} Job */
/** @typedef {import("../types.js").AnalysisResult} AnalysisResult */

// The stages are the API's (GET /client-config) and then "done"; these are how they read. A stage not
// listed here is shown by its name.
/** @type {Record<string, string>} */
const STAGE_TEXT = {
  queued: "Queued",
  dispatched: "Sent for analysis",
  downloading: "Fetching your recording",
  decoding: "Decoding the audio",
  features: "Measuring your voice",
  aligning: "Aligning with the actor",
  scoring: "Scoring",
  done: "Done",
};

/** @param {string} stage */
const stageLabel = (stage) => STAGE_TEXT[stage] || stage;

/** @param {unknown} seconds the retrying event's retry_in_seconds */
export const retryingText = (seconds) =>
  `Analysis server busy; retrying in ${Math.max(1, Math.ceil(typeof seconds === "number" ? seconds : 1))} s`;

/** @param {string[]} stages in order, "done" last */
function progressPanel(stages) {
  const bar = h("progress", { id: "job-progress", max: 100, value: 0 });
  const label = h("label", { for: "job-progress" }, "Analysis progress");
  const percent = h("span", { class: "percent", "aria-hidden": "true" }, "0 %");
  const stageText = h("p", { class: "stage", role: "status", "aria-live": "polite" }, "Waiting…");
  const connection = h("p", { class: "connection muted" });
  const steps = h(
    "ol",
    { class: "stages", "aria-label": "Stages" },
    stages.map((name) => h("li", { "data-stage": name }, stageLabel(name))),
  );
  const panel = h("section", { class: "card progress-panel", "aria-labelledby": "progress-heading" },
    h("h2", { id: "progress-heading" }, "Progress"), h("p", { class: "bar" }, label, bar, percent), stageText, steps, connection);
  /**
   * @param {number} progress
   * @param {string} stage
   * @param {string} text
   */
  const show = (progress, stage, text) => {
    bar.value = progress;
    bar.setAttribute("aria-valuetext", `${progress} percent, ${text}`);
    percent.textContent = `${progress} %`;
    stageText.textContent = text;
    const current = Math.max(0, stages.indexOf(stage));
    steps.querySelectorAll("li").forEach((li, index) => {
      li.classList.toggle("done", index < current || stage === "done");
      if (index === current && stage !== "done") li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
  };
  return { panel, show, connection };
}

/**
 * @param {string} id
 * @param {Show} show
 */
export async function jobView(id, show) {
  if (!requireSignIn()) return;
  const config = await clientConfig();
  /** @param {Job} job */
  const isFinished = (job) => config.terminal_job_statuses.includes(job.status);
  /** @type {Job} */
  let job = await api.get(`/v1/jobs/${id}`);
  const kind = job.kind;
  // A deleted line or script leaves the job without a target (target_id null).
  const target = job.target_id ? await api.get(`/v1/${kind}s/${job.target_id}`, { auth: false }).catch(() => null) : null;
  const what = target ? itemName(kind, target) : "your recording";
  const { panel, show: showProgress, connection } = progressPanel([...config.progress_stages, "done"]);
  const outcome = h("div", { id: "outcome" });
  const lead = h("p", { class: "lead" }, `Analysing ${what}`);
  show(title("Analysis"), lead, panel, outcome);

  const finish = async () => {
    job = await api.get(`/v1/jobs/${id}`);
    connection.textContent = "";
    lead.textContent = `Your recording of ${what}`;
    if (job.status === "completed" && job.result) {
      showProgress(100, "done", stageLabel("done"));
      outcome.replaceChildren(resultView(/** @type {Job & {result: AnalysisResult}} */ (job), target, config));
      announce(`Analysis complete: ${job.result.overall.toFixed(0)} out of 100.`);
    } else if (job.status === "failed") {
      showProgress(job.progress, job.stage || "", "Failed");
      const reason = job.failure ? job.failure.reason : "the analysis failed";
      const again = job.target_id ? h("p", {}, h("a", { class: "button", href: `#/${kind}s/${job.target_id}` }, "Try again")) : null;
      outcome.replaceChildren(errorBox(new Error(`The analysis failed: ${reason}`)), ...(again ? [again] : []));
    } else if (job.status === "cancelled") {
      showProgress(job.progress, job.stage || "", "Cancelled");
      outcome.replaceChildren(h("p", {}, "This analysis was cancelled."));
    }
  };

  if (isFinished(job)) {
    await finish();
    return;
  }
  const first = job.stage || "queued";
  showProgress(job.progress, first, stageLabel(first));
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api.post(`/v1/jobs/${id}/cancel`);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  });
  panel.append(h("p", {}, cancel));
  const follower = followJob(id, {
    eventTypes: config.job_event_types,
    terminalTypes: config.terminal_job_event_types,
    onEvent(type, data) {
      if (type === "progress" || type === "queued" || type === "started") {
        const stage = data.stage || (type === "started" ? "dispatched" : type);
        showProgress(data.progress ?? job.progress, stage, stageLabel(stage));
      } else if (type === "dispatched") {
        showProgress(job.progress, "dispatched", stageLabel("dispatched"));
      } else if (type === "retrying") {
        // Still queued: a try to reach an analysis server failed and the worker tries again (docs/sse.md).
        showProgress(data.progress ?? job.progress, data.stage || "queued", retryingText(data.retry_in_seconds));
      }
    },
    onStatus(state) {
      connection.textContent = state === "reconnecting" ? "Connection lost; reconnecting…" : "";
    },
    async onDropped() {
      try {
        if (isFinished(await api.get(`/v1/jobs/${id}`))) {
          follower.stop();
          await finish();
        }
      } catch {
        /* the stream's own retry goes on */
      }
    },
    async onEnd(error) {
      cancel.remove();
      if (error) {
        outcome.replaceChildren(errorBox(error));
        return;
      }
      await finish();
    },
  });
  onLeave(() => follower.stop());
}
