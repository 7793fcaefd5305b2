// Recording from the microphone with MediaRecorder. Browsers differ in what they can produce: Chrome and
// Firefox give WebM or Ogg with Opus, Safari MP4 with AAC; the API sniffs the real format from the bytes.

const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3" };

export function canRecord() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
}

export function filenameFor(type, base = "recording") {
  const essence = (type || "").split(";")[0].trim();
  return `${base}.${EXTENSIONS[essence] || "webm"}`;
}

// Starts recording at once; resolves to {stop(): Promise<{blob, filename, seconds}>, cancel()}.
// maxSeconds stops it by itself (the API refuses longer recordings anyway).
export async function startRecording({ maxSeconds, onTick }) {
  const stream = await navigator.mediaDevices.getUserMedia({
    // The analysis compares pitch and loudness with the actor's: no processing that reshapes them.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const mimeType = PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  const chunks = [];
  const started = performance.now();
  let ticker = null;
  let cancelled = false;

  const finished = new Promise((resolve, reject) => {
    recorder.ondataavailable = (event) => {
      if (event.data && event.data.size) chunks.push(event.data);
    };
    recorder.onerror = (event) => reject(event.error || new Error("recording failed"));
    recorder.onstop = () => {
      clearInterval(ticker);
      for (const track of stream.getTracks()) track.stop();
      const type = recorder.mimeType || mimeType || "audio/webm";
      const blob = new Blob(chunks, { type });
      const seconds = (performance.now() - started) / 1000;
      resolve(cancelled ? null : { blob, filename: filenameFor(type), seconds });
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
