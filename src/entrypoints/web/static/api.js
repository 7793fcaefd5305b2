// @ts-check
// The HTTP API as the web client uses it: the session's bearer token, problem details as errors,
// idempotent uploads, and a job's event stream through EventSource.

/** @typedef {import("./types.js").Kind} Kind */
/** @typedef {import("./types.js").Job} Job */
/** @typedef {import("./types.js").StreamTicket} StreamTicket */
/** @typedef {import("./types.js").FeedTicket} FeedTicket */
/** @typedef {import("./types.js").AccessToken} AccessToken */
/** @typedef {{title?: string, detail?: string, type?: string, errors?: {field: string, message: string}[]}} Problem */
/** @typedef {{accessToken: string, expiresAt: number, email: string}} Session */
/**
 * @typedef {object} RequestOptions
 * @property {unknown} [json] sent as a JSON body
 * @property {Record<string, string>} [form] sent as a form
 * @property {BodyInit} [body] sent as it is
 * @property {Record<string, string>} [headers]
 * @property {boolean} [auth] send the session's bearer token (default true)
 */
/** @typedef {{blob: Blob, filename: string}} Recording */

const SESSION_KEY = "vp.session";

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.type = problem.type || "";
    this.errors = problem.errors || [];
  }
}

export const session = {
  /** @returns {Session | null} */
  get() {
    try {
      const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
      return saved && saved.expiresAt > Date.now() ? saved : null;
    } catch {
      return null;
    }
  },
  /**
   * @param {string} accessToken
   * @param {number} expiresInSeconds
   * @param {string} email
   */
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

/**
 * @param {Response} response
 * @returns {Promise<Problem>}
 */
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

/**
 * One request; the parsed JSON answer (null for 204), or ApiError / SignInRequired.
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export async function request(method, path, { json, form, body, headers = {}, auth = true } = {}) {
  /** @type {Record<string, string>} */
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

/** @typedef {(path: string, options?: RequestOptions) => Promise<any>} Method */

/** @type {{get: Method, post: Method, put: Method, delete: Method}} */
export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, options) => request("POST", path, options),
  put: (path, options) => request("PUT", path, options),
  delete: (path, options) => request("DELETE", path, options),
};

/**
 * @param {string} email
 * @param {string} password
 */
export async function signIn(email, password) {
  /** @type {AccessToken} */
  const token = await request("POST", "/v1/auth/login", {
    form: { username: email, password, grant_type: "password" },
    auth: false,
  });
  session.save(token.access_token, token.expires_in, email);
}

/**
 * @param {string} displayName
 * @param {string} email
 * @param {string} password
 */
export async function signUp(displayName, email, password) {
  await request("POST", "/v1/auth/signup", {
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
/**
 * @param {Kind} kind
 * @param {string} targetId
 * @param {Recording} recording
 * @param {string} idempotencyKey
 * @returns {Promise<Job>}
 */
export async function uploadRecording(kind, targetId, recording, idempotencyKey) {
  return withRetries(() => {
    const form = new FormData();
    form.append("file", recording.blob, recording.filename);
    return request("POST", `/v1/${kind}s/${targetId}/upload-audio`, {
      body: form,
      headers: { "Idempotency-Key": idempotencyKey },
    });
  });
}

/**
 * Network errors, 5xx and "the first request with this key is still running" are worth another try
 * (under the same key); every other answer is final.
 * @template T
 * @param {() => Promise<T>} attempt
 * @returns {Promise<T>}
 */
async function withRetries(attempt) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      const retriable =
        error instanceof TypeError ||
        (error instanceof ApiError && (error.status >= 500 || error.type.endsWith("idempotency-key-in-flight")));
      if (!retriable || tries >= RETRY_DELAYS_MS.length) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[tries]));
    }
  }
}

const PART_ROUNDS = 5;

// Upload a large recording resumably: its parts go straight to storage, and whatever fails (a part's
// PUT, the network) is retried by asking the server which parts arrived and sending only the others.
/**
 * @param {Kind} kind
 * @param {string} targetId
 * @param {Recording} recording
 * @param {string} idempotencyKey
 * @param {number} partBytes
 * @returns {Promise<Job>}
 */
export async function uploadRecordingResumably(kind, targetId, recording, idempotencyKey, partBytes) {
  const { blob } = recording;
  /** @type {import("./types.js").MultipartUpload} */
  let state = await withRetries(() =>
    request("POST", `/v1/${kind}s/${targetId}/multipart-uploads`, {
      json: { content_type: blob.type || "audio/webm", size_bytes: blob.size, part_size_bytes: partBytes },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  );
  const links = state.links;
  for (let round = 0; ; round += 1) {
    const sent = await Promise.allSettled(state.to_send.map((part) => putPart(blob, state.part_size_bytes, part)));
    const failed = sent.some((outcome) => outcome.status === "rejected");
    if (!failed) {
      try {
        await withRetries(() => request("POST", links.complete));
        break;
      } catch (error) {
        // A completion whose answer was lost and that was sent again finds the upload completed already.
        const done = error instanceof ApiError && error.status === 409 && (await request("GET", links.self)).completed_at;
        if (done) break;
        if (!(error instanceof ApiError && error.type.endsWith("upload-incomplete")) || round >= PART_ROUNDS) throw error;
      }
    } else if (round >= PART_ROUNDS) {
      throw new Error("The recording could not be uploaded; check the connection and try again.");
    } else {
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[Math.min(round, RETRY_DELAYS_MS.length - 1)]));
    }
    state = await withRetries(() => request("GET", links.self));
  }
  return withRetries(() => request("POST", links.submit, { headers: { "Idempotency-Key": `${idempotencyKey}.submit` } }));
}

/**
 * PUT one part to its presigned URL. Browsers set Content-Length themselves (it may not be set by hand).
 * @param {Blob} blob
 * @param {number} partBytes
 * @param {import("./types.js").PartUpload} part
 */
async function putPart(blob, partBytes, part) {
  const start = (part.number - 1) * partBytes;
  /** @type {Record<string, string>} */
  const headers = {};
  for (const [name, value] of Object.entries(part.upload.headers)) {
    if (name.toLowerCase() !== "content-length") headers[name] = value;
  }
  const response = await fetch(part.upload.url, {
    method: part.upload.method,
    headers,
    body: blob.slice(start, start + part.size_bytes),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
}

// Tries ``attempt`` again after failures: ``later()`` schedules the next try (one at a time) after
// ``firstMs``, then twice as long each time up to ``maxMs``, and answers that delay; ``succeeded()``
// cancels any try scheduled and starts the delays over; ``stop()`` cancels for good.
/**
 * @param {() => unknown} attempt
 * @param {number} [firstMs]
 * @param {number} [maxMs]
 */
export function retrier(attempt, firstMs = 1000, maxMs = 15000) {
  let delay = firstMs;
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return {
    get stopped() {
      return stopped;
    },
    later() {
      const wait = delay;
      clearTimeout(timer);
      if (!stopped) timer = setTimeout(attempt, wait);
      delay = Math.min(delay * 2, maxMs);
      return wait;
    },
    succeeded() {
      clearTimeout(timer);
      delay = firstMs;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// Follow a job's events. EventSource resumes a dropped connection by itself (it sends Last-Event-ID);
// the last id seen is also kept in sessionStorage, so a reloaded page resumes where it was. EventSource
// cannot send an Authorization header: a stream ticket for this one job goes in the URL instead, and a
// new one is fetched when the stream is refused (an expired ticket) or closed.
// Callbacks: onEvent(type, data) per event; onStatus("open" | "reconnecting"); onDropped() when the
// stream was closed without a terminal event (the view checks whether the job finished meanwhile);
// onEnd(error) once after the terminal event (error null) or when following is impossible.
// eventTypes and terminalTypes are the API's names (GET /client-config).
/**
 * @typedef {object} JobFollower
 * @property {string[]} eventTypes
 * @property {string[]} terminalTypes
 * @property {(type: string, data: any) => void} onEvent
 * @property {(state: "open" | "reconnecting") => void} onStatus
 * @property {() => void} onDropped
 * @property {(error: Error | null) => void} onEnd
 */
/**
 * @param {string} jobId
 * @param {JobFollower} follower
 * @returns {{stop(): void}}
 */
export function followJob(jobId, { eventTypes, terminalTypes, onEvent, onStatus, onDropped, onEnd }) {
  const storageKey = `vp.job-events.${jobId}`;
  let lastId = Number(sessionStorage.getItem(storageKey) || 0);
  /** @type {EventSource | null} */
  let source = null;
  const retry = retrier(open);

  async function open() {
    if (retry.stopped) return;
    try {
      /** @type {StreamTicket} */
      const ticket = await api.post(`/v1/jobs/${jobId}/events/tickets`);
      if (retry.stopped) return;
      source = new EventSource(`${ticket.url}&last_event_id=${lastId}`);
    } catch (error) {
      if (error instanceof SignInRequired || (error instanceof ApiError && error.status < 500)) {
        stop();
        onEnd(error);
        return;
      }
      retry.later();
      return;
    }
    const opened = source;
    opened.onopen = () => {
      retry.succeeded();
      onStatus("open");
    };
    for (const type of eventTypes) {
      opened.addEventListener(type, (/** @type {MessageEvent<string>} */ message) => {
        lastId = Number(message.lastEventId) || lastId;
        sessionStorage.setItem(storageKey, String(lastId));
        const data = JSON.parse(message.data);
        onEvent(type, data);
        if (terminalTypes.includes(type)) {
          sessionStorage.removeItem(storageKey); // a finished job is read, not followed
          stop();
          onEnd(null);
        }
      });
    }
    opened.onerror = () => {
      if (retry.stopped) return;
      if (opened.readyState === EventSource.CONNECTING) {
        onStatus("reconnecting");
        return;
      }
      // CLOSED: refused (401, 204 for a job already seen to its end) or the server is unreachable.
      opened.close();
      onStatus("reconnecting");
      retry.later();
      onDropped();
    };
  }

  function stop() {
    retry.stop();
    if (source) source.close();
  }

  open();
  return { stop };
}

// Follow every event of all the signed-in user's jobs over the live feed's WebSocket (docs/live.md).
// A browser's WebSocket cannot send an Authorization header: a feed ticket goes in the URL. The last
// cursor seen is kept, and every reconnection sends it, so nothing is missed or repeated; a 4401 close
// (the ticket expired) fetches a new ticket, any other close reconnects after a growing delay. A
// connection without a cursor (the first, or one made before any event came) asks for cursor=now:
// onEvent sees what happens from then on, and what committed before it, while the page loaded or the
// connection was down, is not sent; its onStatus("open", true) tells the caller to read afresh.
// onEvent(type, data) per event; onStatus("open", startedNow) at each connection's first message (the
// feed is following from then on), onStatus("reconnecting") when one closes.
/**
 * @param {{onEvent: (type: string, data: any) => void, onStatus: (state: "open" | "reconnecting", startedNow?: boolean) => void}} follower
 * @returns {{stop(): void}}
 */
export function followMyJobs({ onEvent, onStatus }) {
  /** @type {string | null} */
  let cursor = null;
  /** @type {WebSocket | null} */
  let socket = null;
  const retry = retrier(open);

  async function open() {
    if (retry.stopped) return;
    /** @type {FeedTicket} */
    let ticket;
    try {
      ticket = await api.post("/v1/events/tickets");
    } catch (error) {
      if (error instanceof SignInRequired || (error instanceof ApiError && error.status < 500)) {
        stop();
        return;
      }
      retry.later();
      return;
    }
    if (retry.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const startedNow = cursor === null;
    const resume = `&cursor=${encodeURIComponent(cursor ?? "now")}`;
    const opened = new WebSocket(`${scheme}//${location.host}${ticket.notifications_url}${resume}`);
    socket = opened;
    let greeted = false;
    opened.onmessage = (/** @type {MessageEvent<string>} */ message) => {
      const data = JSON.parse(message.data);
      retry.succeeded();
      if (!greeted) {
        greeted = true;
        onStatus("open", startedNow);
      }
      if (data.type !== "event") return;
      cursor = data.cursor;
      onEvent(data.event, data.data);
    };
    opened.onclose = () => {
      if (retry.stopped) return;
      onStatus("reconnecting");
      retry.later();
    };
  }

  function stop() {
    retry.stop();
    if (socket) socket.close();
  }

  open();
  return { stop };
}
