// @ts-check
// Recording from the microphone with MediaRecorder. Browsers differ in what they can produce: Chrome and
// Firefox give WebM or Ogg with Opus, Safari MP4 with AAC; the API sniffs the real format from the bytes.

/** @typedef {import("./types.js").AudioFormat} AudioFormat */
/** @typedef {{blob: Blob, filename: string, seconds: number}} Recorded */
/** @typedef {{stop(): Promise<Recorded | null>, cancel(): void, finished: Promise<Recorded | null>}} Recorder */

const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];

export function canRecord() {
  // Absent on insecure origins and in older browsers, whatever the DOM's types say.
  return Boolean(navigator.mediaDevices && "getUserMedia" in navigator.mediaDevices && "MediaRecorder" in window);
}

// A file name with the extension the API gives this content type (formats: GET /client-config).
/**
 * @param {string} type
 * @param {AudioFormat[]} formats
 * @param {string} [base]
 */
export function filenameFor(type, formats, base = "recording") {
  const essence = (type || "").split(";")[0].trim();
  const format = formats.find((candidate) => candidate.content_type === essence);
  return `${base}.${format ? format.file_extensions[0] : "webm"}`;
}

// Starts recording at once. maxSeconds stops it by itself (the API refuses longer recordings anyway).
/**
 * @param {{maxSeconds: number, formats: AudioFormat[], onTick?: (seconds: number) => void}} options
 * @returns {Promise<Recorder>}
 */
export async function startRecording({ maxSeconds, formats, onTick }) {
  const stream = await navigator.mediaDevices.getUserMedia({
    // The analysis compares pitch and loudness with the actor's: no processing that reshapes them.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const mimeType = PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  /** @type {Blob[]} */
  const chunks = [];
  const started = performance.now();
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let ticker;
  let cancelled = false;

  /** @type {Promise<Recorded | null>} */
  const finished = new Promise((resolve, reject) => {
    recorder.ondataavailable = (event) => {
      if (event.data && event.data.size) chunks.push(event.data);
    };
    recorder.onerror = (event) => reject(/** @type {{error?: Error}} */ (event).error || new Error("recording failed"));
    recorder.onstop = () => {
      clearInterval(ticker);
      for (const track of stream.getTracks()) track.stop();
      const type = recorder.mimeType || mimeType || "audio/webm";
      const blob = new Blob(chunks, { type });
      const seconds = (performance.now() - started) / 1000;
      resolve(cancelled ? null : { blob, filename: filenameFor(type, formats), seconds });
    };
  });

  recorder.start(250);
  ticker = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    if (onTick) onTick(seconds);
    if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
  }, 200);

  return {
    stop() {
      if (recorder.state === "recording") recorder.stop();
      return finished;
    },
    cancel() {
      cancelled = true;
      if (recorder.state === "recording") recorder.stop();
    },
    finished,
  };
}
