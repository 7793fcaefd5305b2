// @ts-check
// The API's payloads as the web client reads them: JSDoc types only, for `tsc --noEmit` (make
// web-typecheck). Modules name them with `import("./types.js").Name`; nothing imports this at run time.

/** @typedef {"token" | "script"} Kind a movie line ("token" in the API) or a script */

/** @typedef {{content_type: string, duration_seconds: number, url: string}} ReferenceAudio */

/**
 * @typedef {object} Token
 * @property {string} id
 * @property {{id: string, name: string}} actor
 * @property {string} movie_title
 * @property {number | null} movie_year
 * @property {string} text
 * @property {ReferenceAudio | null} reference_audio
 */

/**
 * @typedef {object} Script
 * @property {string} id
 * @property {string} title
 * @property {string} text
 * @property {ReferenceAudio | null} [reference_audio]
 */

/**
 * @template T
 * @typedef {{items: T[], total: number}} Page
 */

/** @typedef {{times: number[], reference: (number | null)[], user: (number | null)[], unit?: string}} PitchContour */

/** @typedef {{text: string, status: string, score: number}} WordResult */

/**
 * @typedef {object} AnalysisResult
 * @property {number} overall
 * @property {Record<string, number>} scores
 * @property {WordResult[]} [words]
 * @property {{intonation_judged?: boolean}} [metrics]
 * @property {{pitch?: PitchContour}} [contours]
 */

/**
 * @typedef {object} Job
 * @property {string} id
 * @property {Kind} kind
 * @property {string | null} target_id null once its line or script was deleted
 * @property {string} status
 * @property {number} progress
 * @property {string | null} stage
 * @property {string} created_at
 * @property {{reason: string} | null} [failure]
 * @property {AnalysisResult | null} [result]
 */

/** @typedef {{kind: Kind, target_id: string, token?: Token | null, script?: Script | null}} Bookmark */

/**
 * @typedef {object} MyPage
 * @property {{display_name: string}} profile
 * @property {Bookmark[]} bookmarks
 * @property {{stats: Stats, recent: Page<Job>}} history
 */

/** @typedef {{count: number, completed: number, average_overall: number | null, best_overall: number | null}} Stats */

/** @typedef {{url: string}} StreamTicket */

/** @typedef {{access_token: string, expires_in: number}} AccessToken */

/** @typedef {{max_bytes: number, max_seconds: number, min_seconds: number}} RecordingLimits */

/** @typedef {{name: string, content_type: string, file_extensions: string[]}} AudioFormat */

/**
 * `GET /client-config`: the limits and names the server enforces and reports.
 * @typedef {object} ClientConfig
 * @property {Record<Kind, RecordingLimits>} recording_limits
 * @property {AudioFormat[]} audio_formats
 * @property {{email_max: number, password_min: number, password_max: number, display_name_max: number, search_max: number}} text_limits
 * @property {string[]} progress_stages
 * @property {string[]} score_aspects
 * @property {string[]} word_statuses
 * @property {string[]} job_event_types
 * @property {string[]} terminal_job_event_types
 * @property {string[]} terminal_job_statuses
 * @property {{above_bytes: number, part_bytes: number}} resumable_uploads recordings larger go up in parts
 */

/**
 * A part still to send (`POST .../multipart-uploads`, `GET /jobs/{id}/multipart`).
 * @typedef {{number: number, size_bytes: number, upload: {url: string, method: string, headers: Record<string, string>}}} PartUpload
 */

/**
 * A resumable upload's state.
 * @typedef {object} MultipartUpload
 * @property {Job} job
 * @property {number} part_size_bytes
 * @property {string | null} completed_at
 * @property {PartUpload[]} to_send
 * @property {{self: string, complete: string, submit: string}} links
 */

export {};
