// The web client: a hash-routed single page over the HTTP API.
//   #/tokens, #/scripts          the catalog (search, reference audio, bookmarks)
//   #/tokens/ID, #/scripts/ID    practise: record or choose a file, upload
//   #/jobs/ID                    progress from the job's event stream, then the result
//   #/me                         history chart, recent recordings, bookmarks
//   #/signin                     sign in or create an account

import { ApiError, SignInRequired, api, followJob, newIdempotencyKey, session, signIn, signUp, uploadRecording } from "./api.js";
import { historyChart, pitchChart } from "./charts.js";
import { announce, formatDate, h } from "./dom.js";
import { canRecord, startRecording } from "./recorder.js";

const main = document.getElementById("main");
const PAGE_SIZE = 20;
// The API's defaults (TOKEN_MAX_SECONDS, SCRIPT_MAX_SECONDS); it refuses longer recordings itself.
const MAX_SECONDS = { token: 30, script: 120 };
const STAGES = [
  ["queued", "Queued"],
  ["dispatched", "Sent for analysis"],
  ["downloading", "Fetching your recording"],
  ["decoding", "Decoding the audio"],
  ["features", "Measuring your voice"],
  ["aligning", "Aligning with the actor"],
  ["scoring", "Scoring"],
  ["done", "Done"],
];
const ASPECTS = ["pronunciation", "intonation", "rhythm", "energy", "completeness"];
const WORD_STATUS = { ok: "well said", mispronounced: "mispronounced", omitted: "left out" };

let cleanup = [];

function onLeave(callback) {
  cleanup.push(callback);
}

function title(text) {
  return h("h1", {}, text);
}

// Views get their own ``show``: a view still loading when the user moves on must not paint over the
// next one.
let navigation = 0;

function renderer() {
  const mine = ++navigation;
  return (...nodes) => {
    if (mine !== navigation) return;
    main.replaceChildren(...nodes);
    const heading = main.querySelector("h1");
    document.title = heading ? `${heading.textContent} · Voice practice` : "Voice practice";
  };
}

function errorBox(error) {
  const box = h("div", { class: "error", role: "alert" }, h("p", {}, messageOf(error)));
  if (error instanceof ApiError && error.errors.length) {
    box.append(h("ul", {}, error.errors.map((item) => h("li", {}, `${item.field}: ${item.message}`))));
  }
  return box;
}

function messageOf(error) {
  if (error instanceof TypeError) return "The server cannot be reached. Check your connection and try again.";
  return error.message || String(error);
}

function requireSignIn() {
  if (session.get()) return true;
  location.hash = `#/signin?next=${encodeURIComponent(location.hash)}`;
  return false;
}

function updateSessionLink() {
  const slot = document.getElementById("session-link");
  const current = session.get();
  if (current) {
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

function markNavigation(section) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// --- sign in ----------------------------------------------------------------------------------------

// A labelled input; ``form`` keeps the ids of two forms' same-named fields apart.
function field(form, label, attributes) {
  const id = `${form}-${attributes.name}`;
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, ...attributes }));
}

function signInView(params, show) {
  const next = params.get("next") || "#/tokens";
  const status = h("div");
  const go = async (event, action) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.replaceChildren();
    try {
      await action(new FormData(form));
      updateSessionLink();
      announce("Signed in.");
      location.hash = next;
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  };
  const signInForm = h(
    "form",
    { class: "card", "aria-labelledby": "signin-heading" },
    h("h2", { id: "signin-heading" }, "Sign in"),
    field("signin", "Email", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("signin", "Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  signInForm.addEventListener("submit", (event) =>
    go(event, (data) => signIn(data.get("email"), data.get("password"))),
  );
  const signUpForm = h(
    "form",
    { class: "card", "aria-labelledby": "signup-heading" },
    h("h2", { id: "signup-heading" }, "New here? Create an account"),
    field("signup", "Your name", { name: "display_name", autocomplete: "nickname", required: true, maxlength: 80 }),
    field("signup", "Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("signup", "Password (at least 8 characters)", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8, maxlength: 256 }),
    h("button", { type: "submit" }, "Create account"),
  );
  signUpForm.addEventListener("submit", (event) =>
    go(event, (data) => signUp(data.get("display_name"), data.get("email"), data.get("password"))),
  );
  show(title("Sign in"), status, h("div", { class: "two-columns" }, signInForm, signUpForm));
}

// --- catalog ----------------------------------------------------------------------------------------

async function bookmarkedIds() {
  if (!session.get()) return new Set();
  try {
    const page = await api.get("/mypage");
    return new Set(page.bookmarks.map((b) => b.target_id));
  } catch {
    return new Set();
  }
}

function bookmarkButton(kind, id, bookmarked, label) {
  const button = h("button", { type: "button", class: "bookmark", "aria-pressed": String(bookmarked) });
  const paint = (on) => {
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
      if (on) await api.put(`/${kind}s/${id}/bookmark`);
      else await api.delete(`/${kind}s/${id}/bookmark`);
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

function referenceAudio(item, label) {
  if (!item.reference_audio) return h("p", { class: "muted" }, "No reference recording yet.");
  return h(
    "figure",
    { class: "reference-audio" },
    h("figcaption", {}, label),
    h("audio", { controls: true, preload: "none", src: item.reference_audio.url }),
  );
}

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

async function catalogView(kind, params, show) {
  const isToken = kind === "token";
  const query = params.get("q") || "";
  const heading = isToken ? "Lines from movies" : "Scripts to read";
  const searchForm = h(
    "form",
    { class: "search", role: "search" },
    h("label", { for: "search" }, isToken ? "Search lines" : "Search scripts"),
    h("input", { id: "search", name: "q", type: "search", value: query, maxlength: 200 }),
    h("button", { type: "submit" }, "Search"),
  );
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new FormData(searchForm).get("q").trim();
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
    const search = new URLSearchParams({ limit: PAGE_SIZE, offset });
    if (query) search.set("q", query);
    const page = await api.get(`/${kind}s?${search}`, { auth: false });
    for (const item of page.items) {
      list.append(isToken ? tokenCard(item, marks.has(item.id)) : scriptCard(item, marks.has(item.id)));
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

// --- practise: record or choose a file, then upload --------------------------------------------------

async function practiceView(kind, id, show) {
  if (!requireSignIn()) return;
  const item = await api.get(`/${kind}s/${id}`, { auth: false });
  const isToken = kind === "token";
  const heading = isToken ? "Practise a line" : `Read: ${item.title}`;
  let recording = null; // {blob, filename, key}
  let recorder = null;

  const status = h("p", { class: "recorder-status", role: "status" });
  const preview = h("audio", { controls: true, hidden: true, "aria-label": "Listen to your recording" });
  const problems = h("div");
  const recordButton = h("button", { type: "button", class: "record", "aria-pressed": "false" }, "● Start recording");
  const fileInput = h("input", {
    id: "recording-file",
    type: "file",
    accept: "audio/*,.wav,.webm,.ogg,.opus,.m4a,.mp4,.mp3,.flac,.caf,.amr,.3gp",
  });
  const analyse = h("button", { type: "button", class: "primary", disabled: true }, "Analyse my recording");

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
      recorder = await startRecording({
        maxSeconds: MAX_SECONDS[kind],
        onTick: (seconds) => {
          status.textContent = `Recording… ${seconds.toFixed(0)} s`;
        },
      });
      recordButton.setAttribute("aria-pressed", "true");
      recordButton.textContent = "■ Stop recording";
      status.textContent = "Recording… speak now.";
      recorder.finished.then((done) => {
        // Stopped by the time limit rather than the button.
        if (recorder && done) {
          recorder = null;
          recordButton.setAttribute("aria-pressed", "false");
          recordButton.textContent = "● Record again";
          choose(done.blob, done.filename, `Stopped at the ${MAX_SECONDS[kind]} second limit.`);
        }
      });
    } catch (error) {
      recorder = null;
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      problems.replaceChildren(
        errorBox(new Error(denied ? "The microphone is blocked: allow it for this site, or choose a file instead." : `The microphone cannot be used: ${messageOf(error)}`)),
      );
    }
  });

  fileInput.addEventListener("change", () => {
    problems.replaceChildren();
    const file = fileInput.files[0];
    if (file) choose(file, file.name, `Chose “${file.name}”.`);
  });

  analyse.addEventListener("click", async () => {
    if (!recording) return;
    analyse.disabled = true;
    problems.replaceChildren();
    status.textContent = "Uploading…";
    try {
      const job = await uploadRecording(kind, id, recording, recording.key);
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

  const text = isToken
    ? h("blockquote", { class: "line" }, h("p", {}, `“${item.text}”`), h("footer", {}, `${item.actor.name}, `, h("cite", {}, item.movie_title)))
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
    h("p", {}, bookmarkButton(kind, id, (await bookmarkedIds()).has(id), isToken ? item.text : item.title)),
  );
}

// --- a job: progress, then the result ---------------------------------------------------------------

function stageIndex(stage) {
  const index = STAGES.findIndex(([name]) => name === stage);
  return index < 0 ? 0 : index;
}

function progressPanel() {
  const bar = h("progress", { id: "job-progress", max: 100, value: 0 });
  const label = h("label", { for: "job-progress" }, "Analysis progress");
  const percent = h("span", { class: "percent", "aria-hidden": "true" }, "0 %");
  const stageText = h("p", { class: "stage", role: "status", "aria-live": "polite" }, "Waiting…");
  const connection = h("p", { class: "connection muted" });
  const steps = h(
    "ol",
    { class: "stages", "aria-label": "Stages" },
    STAGES.map(([name, text]) => h("li", { "data-stage": name }, text)),
  );
  const panel = h("section", { class: "card progress-panel", "aria-labelledby": "progress-heading" },
    h("h2", { id: "progress-heading" }, "Progress"), h("p", { class: "bar" }, label, bar, percent), stageText, steps, connection);
  const show = (progress, stage, text) => {
    bar.value = progress;
    bar.setAttribute("aria-valuetext", `${progress} percent, ${text}`);
    percent.textContent = `${progress} %`;
    stageText.textContent = text;
    const current = stageIndex(stage);
    steps.querySelectorAll("li").forEach((li, index) => {
      li.classList.toggle("done", index < current || stage === "done");
      if (index === current && stage !== "done") li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
  };
  return { panel, show, connection };
}

function stageLabel(stage) {
  const found = STAGES.find(([name]) => name === stage);
  return found ? found[1] : stage;
}

function scoreList(result) {
  const rows = ASPECTS.filter((aspect) => result.scores[aspect] !== undefined).map((aspect) => {
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

function wordsView(words) {
  const legend = h(
    "ul",
    { class: "legend words-legend" },
    Object.entries(WORD_STATUS).map(([status, text]) => h("li", {}, h("span", { class: `word word--${status}` }, text))),
  );
  const line = h(
    "p",
    { class: "words" },
    words.map((word) => [
      h(
        "span",
        { class: `word word--${word.status}`, title: `${WORD_STATUS[word.status] || word.status}, ${word.score.toFixed(0)} of 100`, "data-score": word.score },
        word.text,
        h("span", { class: "visually-hidden" }, ` (${WORD_STATUS[word.status] || word.status}, ${word.score.toFixed(0)})`),
      ),
      " ",
    ]),
  );
  return h("section", { class: "card", "aria-labelledby": "words-heading" }, h("h2", { id: "words-heading" }, "Word by word"), legend, line);
}

function resultView(job, target) {
  const result = job.result;
  const pitch = result.contours && result.contours.pitch;
  const again = `#/${job.kind}s/${job.target_id}`;
  return h(
    "section",
    { class: "result", "aria-labelledby": "result-heading" },
    h("h2", { id: "result-heading" }, "Your result"),
    h(
      "div",
      { class: "card overall" },
      h("p", { class: "overall-score" }, h("span", { class: "number" }, result.overall.toFixed(0)), h("span", { class: "of" }, " / 100")),
      h("p", {}, "Overall score"),
      scoreList(result),
    ),
    pitch && pitch.times && pitch.times.length
      ? h("section", { class: "card", "aria-labelledby": "pitch-heading" }, h("h2", { id: "pitch-heading" }, "Intonation"), pitchChart(pitch))
      : h("p", { class: "muted" }, "No pitch contour came with this result."),
    result.words && result.words.length ? wordsView(result.words) : null,
    h("p", { class: "actions" }, h("a", { class: "button primary", href: again }, "Try again"), h("a", { class: "button", href: "#/me" }, "See your progress")),
    target ? referenceAudio(target, "The actor's version") : null,
  );
}

async function jobView(id, show) {
  if (!requireSignIn()) return;
  let job = await api.get(`/jobs/${id}`);
  const target = await api.get(`/${job.kind}s/${job.target_id}`, { auth: false }).catch(() => null);
  const what = target ? (job.kind === "token" ? `“${target.text}”` : target.title) : "your recording";
  const { panel, show: showProgress, connection } = progressPanel();
  const outcome = h("div", { id: "outcome" });
  const lead = h("p", { class: "lead" }, `Analysing ${what}`);
  show(title("Analysis"), lead, panel, outcome);

  const finish = async () => {
    job = await api.get(`/jobs/${id}`);
    connection.textContent = "";
    lead.textContent = `Your recording of ${what}`;
    if (job.status === "completed") {
      showProgress(100, "done", "Done");
      outcome.replaceChildren(resultView(job, target));
      announce(`Analysis complete: ${job.result.overall.toFixed(0)} out of 100.`);
    } else if (job.status === "failed") {
      showProgress(job.progress, job.stage, "Failed");
      const reason = job.failure ? job.failure.reason : "the analysis failed";
      outcome.replaceChildren(errorBox(new Error(`The analysis failed: ${reason}`)), h("p", {}, h("a", { class: "button", href: `#/${job.kind}s/${job.target_id}` }, "Try again")));
    } else if (job.status === "cancelled") {
      showProgress(job.progress, job.stage, "Cancelled");
      outcome.replaceChildren(h("p", {}, "This analysis was cancelled."));
    }
  };

  if (["completed", "failed", "cancelled"].includes(job.status)) {
    await finish();
    return;
  }
  showProgress(job.progress, job.stage || "queued", stageLabel(job.stage || "queued"));
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api.post(`/jobs/${id}/cancel`);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  });
  panel.append(h("p", {}, cancel));
  const follower = followJob(id, {
    onEvent(type, data) {
      if (type === "progress" || type === "queued" || type === "started") {
        const stage = data.stage || (type === "started" ? "dispatched" : type);
        showProgress(data.progress ?? job.progress, stage, stageLabel(stage));
      } else if (type === "dispatched") {
        showProgress(job.progress, "dispatched", stageLabel("dispatched"));
      }
    },
    onStatus(state) {
      connection.textContent = state === "reconnecting" ? "Connection lost; reconnecting…" : "";
    },
    async onDropped() {
      try {
        const latest = await api.get(`/jobs/${id}`);
        if (["completed", "failed", "cancelled"].includes(latest.status)) {
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

// --- my page: history and bookmarks -----------------------------------------------------------------

// What each job practised: the line or the script's title (one request per distinct line or script).
async function targetNames(jobs) {
  const targets = new Map(jobs.map((job) => [job.target_id, job.kind]));
  const names = new Map();
  await Promise.all(
    [...targets].map(async ([id, kind]) => {
      try {
        const item = await api.get(`/${kind}s/${id}`, { auth: false });
        names.set(id, kind === "token" ? `“${item.text}”` : item.title);
      } catch {
        /* deleted from the catalog since: a generic label */
      }
    }),
  );
  return names;
}

function jobLabel(job, names) {
  return names.get(job.target_id) || (job.kind === "token" ? "A line" : "A script");
}

async function myPageView(show) {
  if (!requireSignIn()) return;
  const [page, completed] = await Promise.all([api.get("/mypage"), api.get("/jobs?status=completed&limit=100")]);
  const names = await targetNames([...page.history.recent.items, ...completed.items]);
  const stats = page.history.stats;
  const points = completed.items
    .filter((job) => job.result)
    .map((job) => ({ at: new Date(job.created_at), overall: job.result.overall, label: jobLabel(job, names) }))
    .reverse();
  const statList = h(
    "dl",
    { class: "stats" },
    h("div", {}, h("dt", {}, "Recordings"), h("dd", {}, String(stats.count))),
    h("div", {}, h("dt", {}, "Analysed"), h("dd", {}, String(stats.completed))),
    h("div", {}, h("dt", {}, "Average"), h("dd", {}, stats.average_overall === null ? "–" : stats.average_overall.toFixed(1))),
    h("div", {}, h("dt", {}, "Best"), h("dd", {}, stats.best_overall === null ? "–" : stats.best_overall.toFixed(1))),
  );
  const recent = page.history.recent.items.map((job) =>
    h(
      "li",
      {},
      h("a", { href: `#/jobs/${job.id}` }, jobLabel(job, names)),
      ` · ${formatDate(job.created_at)}`,
      " — ",
      job.result ? `${job.result.overall.toFixed(1)} / 100` : job.status,
    ),
  );
  const bookmarks = page.bookmarks.map((b) =>
    h(
      "li",
      {},
      h("a", { href: `#/${b.kind}s/${b.target_id}` }, b.token ? `“${b.token.text}” — ${b.token.actor.name}` : b.script ? b.script.title : b.kind),
    ),
  );
  show(
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
  );
}

// --- routing ----------------------------------------------------------------------------------------

const UUID = "([0-9a-fA-F-]{36})";
const ROUTES = [
  [/^\/signin$/, "signin", (m, params, show) => signInView(params, show)],
  [/^\/(?:tokens)?$/, "tokens", (m, params, show) => catalogView("token", params, show)],
  [/^\/scripts$/, "scripts", (m, params, show) => catalogView("script", params, show)],
  [new RegExp(`^/tokens/${UUID}$`), "tokens", (m, params, show) => practiceView("token", m[1], show)],
  [new RegExp(`^/scripts/${UUID}$`), "scripts", (m, params, show) => practiceView("script", m[1], show)],
  [new RegExp(`^/jobs/${UUID}$`), "me", (m, params, show) => jobView(m[1], show)],
  [/^\/me$/, "me", (m, params, show) => myPageView(show)],
];

async function route() {
  for (const callback of cleanup) callback();
  cleanup = [];
  const show = renderer();
  const current = navigation;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const match = ROUTES.map(([pattern, section, view]) => [path.match(pattern), section, view]).find(([m]) => m);
  updateSessionLink();
  if (!match) {
    markNavigation(null);
    show(title("Not found"), h("p", {}, "There is nothing here. ", h("a", { href: "#/tokens" }, "Browse the lines.")));
    return;
  }
  const [found, section, view] = match;
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
  main.dataset.route = location.hash;
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
route();
