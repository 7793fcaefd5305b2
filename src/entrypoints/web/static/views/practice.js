// @ts-check
// #/tokens/ID and #/scripts/ID: the line or the script and its reference; record or choose a file,
// listen back, then upload it for analysis.

import { SignInRequired, api, newIdempotencyKey, uploadRecording, uploadRecordingResumably } from "../api.js";
import { acceptedFiles, clientConfig } from "../config.js";
import { announce, h } from "../dom.js";
import { canRecord, startRecording } from "../recorder.js";
import { onLeave } from "../router.js";
import { bookmarkButton, bookmarkedIds, errorBox, messageOf, referenceAudio, requireSignIn, title } from "../ui.js";

/** @typedef {import("../router.js").Show} Show */
/** @typedef {import("../types.js").Kind} Kind */
/** @typedef {import("../types.js").Token} Token */
/** @typedef {import("../types.js").Script} Script */

/**
 * @param {Kind} kind
 * @param {string} id
 * @param {Show} show
 */
export async function practiceView(kind, id, show) {
  if (!requireSignIn()) return;
  const [item, config] = await Promise.all([
    /** @type {Promise<Token | Script>} */ (api.get(`/v1/${kind}s/${id}`, { auth: false })),
    clientConfig(),
  ]);
  const isToken = kind === "token";
  const heading = isToken ? "Practise a line" : `Read: ${/** @type {Script} */ (item).title}`;
  // The API refuses longer recordings itself; the recorder stops at the same limit.
  const maxSeconds = config.recording_limits[kind].max_seconds;
  /** @type {{blob: Blob, filename: string, key: string} | null} */
  let recording = null;
  /** @type {import("../recorder.js").Recorder | null} */
  let recorder = null;

  const status = h("p", { class: "recorder-status", role: "status" });
  const preview = h("audio", { controls: true, hidden: true, "aria-label": "Listen to your recording" });
  const problems = h("div");
  const recordButton = h("button", { type: "button", class: "record", "aria-pressed": "false" }, "● Start recording");
  const fileInput = h("input", { id: "recording-file", type: "file", accept: acceptedFiles(config) });
  const analyse = h("button", { type: "button", class: "primary", disabled: true }, "Analyse my recording");

  /**
   * @param {Blob} blob
   * @param {string} filename
   * @param {string} how
   */
  const choose = (blob, filename, how) => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    // One key per recording: retries and double clicks of this recording make one job, a new
    // recording makes a new one.
    recording = { blob, filename, key: newIdempotencyKey() };
    preview.src = URL.createObjectURL(blob);
    preview.hidden = false;
    analyse.disabled = false;
    status.textContent = `${how} Listen back, then press “Analyse my recording”.`;
  };
  onLeave(() => {
    if (recorder) recorder.cancel();
    if (preview.src) URL.revokeObjectURL(preview.src);
  });

  recordButton.addEventListener("click", async () => {
    problems.replaceChildren();
    if (recorder) {
      recordButton.disabled = true;
      const done = await recorder.stop();
      recorder = null;
      recordButton.disabled = false;
      recordButton.setAttribute("aria-pressed", "false");
      recordButton.textContent = "● Record again";
      if (done) choose(done.blob, done.filename, `Recorded ${done.seconds.toFixed(1)} seconds.`);
      return;
    }
    try {
      const started = await startRecording({
        maxSeconds,
        formats: config.audio_formats,
        onTick: (seconds) => {
          status.textContent = `Recording… ${seconds.toFixed(0)} s`;
        },
      });
      recorder = started;
      recordButton.setAttribute("aria-pressed", "true");
      recordButton.textContent = "■ Stop recording";
      status.textContent = "Recording… speak now.";
      started.finished.then((done) => {
        // Stopped by the time limit rather than the button.
        if (recorder === started && done) {
          recorder = null;
          recordButton.setAttribute("aria-pressed", "false");
          recordButton.textContent = "● Record again";
          choose(done.blob, done.filename, `Stopped at the ${maxSeconds} second limit.`);
        }
      });
    } catch (error) {
      recorder = null;
      const name = error instanceof Error ? error.name : "";
      const denied = name === "NotAllowedError" || name === "SecurityError";
      problems.replaceChildren(
        errorBox(new Error(denied ? "The microphone is blocked: allow it for this site, or choose a file instead." : `The microphone cannot be used: ${messageOf(error)}`)),
      );
    }
  });

  fileInput.addEventListener("change", () => {
    problems.replaceChildren();
    const file = fileInput.files && fileInput.files[0];
    if (file) choose(file, file.name, `Chose “${file.name}”.`);
  });

  analyse.addEventListener("click", async () => {
    if (!recording) return;
    analyse.disabled = true;
    problems.replaceChildren();
    status.textContent = "Uploading…";
    try {
      const resumable = config.resumable_uploads;
      const job =
        recording.blob.size > resumable.above_bytes
          ? await uploadRecordingResumably(kind, id, recording, recording.key, resumable.part_bytes)
          : await uploadRecording(kind, id, recording, recording.key);
      announce("Uploaded. Analysing…");
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      if (error instanceof SignInRequired) {
        requireSignIn();
        return;
      }
      status.textContent = "";
      problems.replaceChildren(errorBox(error));
      analyse.disabled = false;
    }
  });

  const line = /** @type {Token} */ (item);
  const text = isToken
    ? h("blockquote", { class: "line" }, h("p", {}, `“${line.text}”`), h("footer", {}, `${line.actor.name}, `, h("cite", {}, line.movie_title)))
    : h("div", { class: "script-text" }, h("p", {}, item.text));
  const recorderControls = canRecord()
    ? h("p", {}, recordButton)
    : h("p", { class: "muted" }, "This browser cannot record; choose a file instead.");
  show(
    title(heading),
    text,
    referenceAudio(item, isToken ? "Listen to the actor first" : "Listen to the reading"),
    h(
      "section",
      { class: "card", "aria-labelledby": "your-recording" },
      h("h2", { id: "your-recording" }, "Your recording"),
      recorderControls,
      h("p", { class: "field" }, h("label", { for: "recording-file" }, "Or choose an audio file"), fileInput),
      status,
      preview,
      problems,
      h("p", {}, analyse),
    ),
    h("p", {}, bookmarkButton(kind, id, (await bookmarkedIds()).has(id), isToken ? line.text : /** @type {Script} */ (item).title)),
  );
}
