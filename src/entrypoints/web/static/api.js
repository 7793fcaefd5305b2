// The HTTP API as the web client uses it: the session's bearer token, problem details as errors,
// idempotent uploads, and a job's event stream through EventSource.

const SESSION_KEY = "vp.session";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.type = problem.type || "";
    this.errors = problem.errors || [];
  }
}

export const session = {
  get() {
    try {
      const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
      return saved && saved.expiresAt > Date.now() ? saved : null;
    } catch {
      return null;
    }
  },
  save(accessToken, expiresInSeconds, email) {
    // Renew a minute early: a request never leaves with a token about to expire.
    const expiresAt = Date.now() + (expiresInSeconds - 60) * 1000;
    localStorage.setItem(SESSION_KEY, JSON.stringify({ accessToken, expiresAt, email }));
  },
  clear() {
    localStorage.removeItem(SESSION_KEY);
  },
};

export class SignInRequired extends Error {}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      /* fall through */
    }
  }
  return { title: response.statusText, detail: `The server answered ${response.status}.` };
}

export async function request(method, path, { json, form, body, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json", ...headers };
  const current = session.get();
  if (auth && current) sent.Authorization = `Bearer ${current.accessToken}`;
  let payload = body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (form !== undefined) {
    payload = new URLSearchParams(form);
  }
  const response = await fetch(path, { method, headers: sent, body: payload });
  if (response.status === 401 && auth) {
    session.clear();
    throw new SignInRequired("Your session has ended; sign in again.");
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, options) => request("POST", path, options),
  put: (path, options) => request("PUT", path, options),
  delete: (path, options) => request("DELETE", path, options),
};

export async function signIn(email, password) {
  const token = await request("POST", "/auth/login", {
    form: { username: email, password, grant_type: "password" },
    auth: false,
  });
  session.save(token.access_token, token.expires_in, email);
}

export async function signUp(displayName, email, password) {
  await request("POST", "/auth/signup", {
    json: { display_name: displayName, email, password },
    auth: false,
  });
  await signIn(email, password);
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const RETRY_DELAYS_MS = [500, 1500, 4000];

// Upload a recording for analysis. The key is the recording's, made when it was recorded or chosen:
// a double click, a retry after a lost answer or a reload of the same recording all name one job.
export async function uploadRecording(kind, targetId, recording, idempotencyKey) {
  for (let attempt = 0; ; attempt += 1) {
    const form = new FormData();
    form.append("file", recording.blob, recording.filename);
    try {
      return await request("POST", `/${kind}s/${targetId}/upload-audio`, {
        body: form,
        headers: { "Idempotency-Key": idempotencyKey },
      });
    } catch (error) {
      // Network errors, 5xx and "the first request with this key is still running" are worth another
      // try under the same key; every other answer is final.
      const retriable =
        error instanceof TypeError ||
        (error instanceof ApiError && (error.status >= 500 || error.type.endsWith("idempotency-key-in-flight")));
      if (!retriable || attempt >= RETRY_DELAYS_MS.length) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
    }
  }
}

export const TERMINAL_EVENTS = ["completed", "failed", "cancelled"];
const EVENT_TYPES = ["queued", "dispatched", "started", "progress", ...TERMINAL_EVENTS];

// Follow a job's events. EventSource resumes a dropped connection by itself (it sends Last-Event-ID);
// the last id seen is also kept in sessionStorage, so a reloaded page resumes where it was. EventSource
// cannot send an Authorization header: a stream ticket for this one job goes in the URL instead, and a
// new one is fetched when the stream is refused (an expired ticket) or closed.
// Callbacks: onEvent(type, data) per event; onStatus("open" | "reconnecting"); onDropped() when the
// stream was closed without a terminal event (the view checks whether the job finished meanwhile);
// onEnd(error) once after the terminal event (error null) or when following is impossible.
export function followJob(jobId, { onEvent, onStatus, onDropped, onEnd }) {
  const storageKey = `vp.job-events.${jobId}`;
  let lastId = Number(sessionStorage.getItem(storageKey) || 0);
  let source = null;
  let stopped = false;
  let retryDelay = 1000;
  let retryTimer = null;

  async function open() {
    if (stopped) return;
    try {
      const ticket = await api.post(`/jobs/${jobId}/events/tickets`);
      if (stopped) return;
      source = new EventSource(`${ticket.url}&last_event_id=${lastId}`);
    } catch (error) {
      if (error instanceof SignInRequired || (error instanceof ApiError && error.status < 500)) {
        stop();
        onEnd(error);
        return;
      }
      scheduleRetry();
      return;
    }
    source.onopen = () => {
      retryDelay = 1000;
      onStatus("open");
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        lastId = Number(message.lastEventId) || lastId;
        sessionStorage.setItem(storageKey, String(lastId));
        const data = JSON.parse(message.data);
        onEvent(type, data);
        if (TERMINAL_EVENTS.includes(type)) {
          sessionStorage.removeItem(storageKey); // a finished job is read, not followed
          stop();
          onEnd(null);
        }
      });
    }
    source.onerror = () => {
      if (stopped) return;
      if (source.readyState === EventSource.CONNECTING) {
        onStatus("reconnecting");
        return;
      }
      // CLOSED: refused (401, 204 for a job already seen to its end) or the server is unreachable.
      source.close();
      onStatus("reconnecting");
      scheduleRetry();
      onDropped();
    };
  }

  function scheduleRetry() {
    if (stopped) return;
    retryTimer = setTimeout(open, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  }

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    if (source) source.close();
  }

  open();
  return { stop };
}
