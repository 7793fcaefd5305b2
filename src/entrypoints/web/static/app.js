// @ts-check
// The web client: a hash-routed single page over the HTTP API. Each view is a module of views/.
//   #/tokens, #/scripts          the catalog (search, reference audio, bookmarks)
//   #/tokens/ID, #/scripts/ID    practise: record or choose a file, upload
//   #/jobs/ID                    progress from the job's event stream, then the result
//   #/me                         history chart, recent recordings, bookmarks
//   #/signin                     sign in or create an account

import { startRouter } from "./router.js";
import { catalogView } from "./views/catalog.js";
import { jobView } from "./views/job.js";
import { myPageView } from "./views/mypage.js";
import { practiceView } from "./views/practice.js";
import { signInView } from "./views/signin.js";

const UUID = "([0-9a-fA-F-]{36})";

/** @type {import("./router.js").Route[]} */
const ROUTES = [
  [/^\/signin$/, "signin", (_, params, show) => signInView(params, show)],
  [/^\/(?:tokens)?$/, "tokens", (_, params, show) => catalogView("token", params, show)],
  [/^\/scripts$/, "scripts", (_, params, show) => catalogView("script", params, show)],
  [new RegExp(`^/tokens/${UUID}$`), "tokens", (m, _, show) => practiceView("token", m[1], show)],
  [new RegExp(`^/scripts/${UUID}$`), "scripts", (m, _, show) => practiceView("script", m[1], show)],
  [new RegExp(`^/jobs/${UUID}$`), "me", (m, _, show) => jobView(m[1], show)],
  [/^\/me$/, "me", (_m, _params, show) => myPageView(show)],
];

startRouter(ROUTES);
