// @ts-check
// What the server enforces and reports (`GET /client-config`): recording and text limits, accepted audio
// formats, and the names of stages, score aspects and word statuses. Read once per page load.

import { api } from "./api.js";

/** @typedef {import("./types.js").ClientConfig} ClientConfig */

/** @type {Promise<ClientConfig> | null} */
let loading = null;

/** @returns {Promise<ClientConfig>} */
export function clientConfig() {
  if (!loading) {
    loading = /** @type {Promise<ClientConfig>} */ (api.get("/v1/client-config", { auth: false }));
    // A failed load (the server unreachable) is tried again by the next view, not remembered.
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/**
 * The file picker's hint: any audio, plus every extension of a format the API accepts (the API reads
 * the real format from the bytes).
 * @param {ClientConfig} config
 */
export function acceptedFiles(config) {
  const extensions = config.audio_formats.flatMap((format) => format.file_extensions.map((ext) => `.${ext}`));
  return ["audio/*", ...extensions].join(",");
}
