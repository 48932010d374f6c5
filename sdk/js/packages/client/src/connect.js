// The SecuriX popup handshake, framework-free and self-contained: SecuriX serves this
// very file as `/sdk/securix.js`, so it imports nothing.
//
// connect() must be called synchronously inside a click handler: it opens the popup
// before its first `await`, which is what popup blockers allow.

const DEFAULT_ROUTES = {
  initUrl: "/api/securix/init",
  statusUrl: "/api/securix/status",
  confirmUrl: "/api/securix/confirm",
};
/** Session statuses after which nothing more happens without the app. */
const FINAL = new Set(["completed", "denied", "expired", "failed"]);
const POPUP_CHECK_MS = 100;
const LONG_POLL_SECONDS = 25;

/** A fresh `sxc`: 32 random bytes, base64url without padding. */
export function createSxc() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** BASE64URL(SHA256(sxc)): what the app backend sends to SecuriX as `sxcChallenge`. */
export async function sxcChallenge(sxc) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sxc));
  return base64url(new Uint8Array(digest));
}

/**
 * Connects `entityId` to `providers` through a SecuriX popup and resolves with
 * `{success, sessionId?, reason?, code?, connections?}`; it never rejects and never hangs
 * past the session's expiry. When `reason` is "error", `code` says which, stably: the
 * app backend's problem code (e.g. `scope-not-allowed`), or `backend-refused`,
 * `backend-unreachable`, `bad-init-answer`, `untrusted-auth-url`.
 */
export function connect(options) {
  const settings = { ...DEFAULT_ROUTES, ...options };
  const popup = openPopup(settings.popup);
  if (!popup) {
    return Promise.resolve({ success: false, reason: "popup_blocked" });
  }
  return handshake(popup, settings).catch((error) => {
    closeQuietly(popup);
    const message = error instanceof Error ? error.message : String(error);
    return { success: false, reason: "error", code: error?.code ?? "internal", error: message };
  });
}

/** A failure of the handshake with a stable `code`. */
class ConnectError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function openPopup({ width = 500, height = 680 } = {}) {
  const left = Math.max(0, (window.screenX ?? 0) + ((window.outerWidth ?? width) - width) / 2);
  const top = Math.max(0, (window.screenY ?? 0) + ((window.outerHeight ?? height) - height) / 2);
  return window.open("", "securix-connect", `popup,width=${width},height=${height},left=${left},top=${top}`);
}

async function handshake(popup, settings) {
  const sxc = createSxc();
  const init = await postJson(settings, settings.initUrl, {
    entityId: settings.entityId,
    providers: settings.providers,
    sxcChallenge: await sxcChallenge(sxc),
    origin: window.location.origin,
  });
  const { sessionId, authUrl, binding } = init;
  if (typeof sessionId !== "string" || typeof authUrl !== "string") {
    throw new ConnectError("bad-init-answer", "the app backend's init answer has no sessionId and authUrl");
  }
  const securixOrigin = trustedOrigin(authUrl, settings.securixOrigin);
  // The backend's proof that this session is this user's: status and confirm send it back.
  const session = { sessionId, binding: typeof binding === "string" ? binding : undefined, entityId: settings.entityId };
  popup.location.href = authUrl;
  const status = await outcome(popup, settings, {
    session,
    securixOrigin,
    expiresAt: Date.parse(init.expiresAt) || Date.now() + 15 * 60 * 1000,
  });
  if (status !== "awaiting_confirmation") {
    closeQuietly(popup);
    return { success: false, sessionId, reason: status };
  }
  const confirmed = await postJson(settings, settings.confirmUrl, { ...session, sxc });
  return { success: true, sessionId, connections: confirmed.connections ?? [] };
}

/**
 * The origin of `authUrl`, which the popup is sent to and completion messages must come
 * from: an http(s) URL (a `javascript:` or `data:` URL would run in the popup, which is
 * still this page's origin), and `expected`'s origin when the app pinned one.
 */
function trustedOrigin(authUrl, expected) {
  let url;
  try {
    url = new URL(authUrl);
  } catch {
    throw new ConnectError("bad-init-answer", "the app backend's authUrl is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConnectError("untrusted-auth-url", `the app backend's authUrl is not http(s) but ${url.protocol}`);
  }
  if (expected !== undefined && url.origin !== new URL(expected).origin) {
    throw new ConnectError("untrusted-auth-url", `the app backend's authUrl is not on ${new URL(expected).origin}`);
  }
  return url.origin;
}

/**
 * Resolves with the first status that ends the popup's part: from a `postMessage` sent
 * by the popup itself from the exact SecuriX origin, from the app backend's long-poll (which still works when
 * Cross-Origin-Opener-Policy cut the popup off), or "closed" when the user closed it.
 */
function outcome(popup, settings, { session, securixOrigin, expiresAt }) {
  const { sessionId } = session;
  return new Promise((resolve) => {
    const stop = new AbortController();
    let done = false;
    const finish = (status) => {
      if (done) return;
      done = true;
      stop.abort();
      window.removeEventListener("message", onMessage);
      clearInterval(watch);
      clearTimeout(expiry);
      resolve(status);
    };
    const settles = (status) => status === "awaiting_confirmation" || FINAL.has(status);

    const onMessage = (event) => {
      const data = event.data;
      // Only the popup this call opened, on SecuriX's origin: not another window or frame,
      // not even one of SecuriX's pages opened elsewhere.
      if (event.source !== popup || event.origin !== securixOrigin || !data || data.type !== "securix:session") return;
      if (data.sessionId === sessionId && settles(data.status)) finish(data.status);
    };
    window.addEventListener("message", onMessage);

    (async () => {
      while (!done) {
        const status = await fetchStatus(settings, session, LONG_POLL_SECONDS, stop.signal);
        if (settles(status)) finish(status);
        else if (status === undefined && !done) await sleep(1000);
      }
    })();

    // `popup.closed` alone cannot be trusted: when COOP severs the popup from this page
    // it reads `true` from the moment the popup leaves about:blank. A popup seen on
    // another origin on two checks in a row and then closed was really closed by the
    // user (one check can catch the instant before COOP severs it); one that only ever
    // looked closed is left to the long-poll and the session's expiry.
    let awayChecks = 0;
    const watch = setInterval(async () => {
      if (!popup.closed) {
        if (awayChecks < 2) awayChecks = isCrossOrigin(popup) ? awayChecks + 1 : 0;
        return;
      }
      if (awayChecks < 2) return;
      clearInterval(watch);
      const status = await fetchStatus(settings, session, 0, stop.signal);
      finish(settles(status) ? status : "closed");
    }, POPUP_CHECK_MS);
    const expiry = setTimeout(() => finish("expired"), Math.max(0, expiresAt - Date.now()) + 1000);
  });
}

function isCrossOrigin(popup) {
  try {
    return popup.location.href === undefined;
  } catch {
    return true;
  }
}

/** The session's status through the app backend, or undefined when that failed. */
async function fetchStatus(settings, { sessionId, binding, entityId }, waitSeconds, signal) {
  const url = new URL(settings.statusUrl, window.location.href);
  url.searchParams.set("sessionId", sessionId);
  if (binding !== undefined) url.searchParams.set("binding", binding);
  if (typeof entityId === "string") url.searchParams.set("entityId", entityId);
  url.searchParams.set("wait", String(waitSeconds));
  try {
    const response = await fetch(url, { headers: settings.headers, credentials: "same-origin", signal });
    if (!response.ok) return undefined;
    return (await response.json()).status;
  } catch {
    return undefined;
  }
}

async function postJson(settings, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { ...settings.headers, "content-type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new ConnectError("backend-unreachable", `${url} could not be reached: ${error?.message ?? error}`);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const code = typeof answer.code === "string" ? answer.code : "backend-refused";
    throw new ConnectError(code, answer.detail ?? answer.title ?? `${url} answered ${response.status}`);
  }
  return answer;
}

function closeQuietly(popup) {
  try {
    if (!popup.closed) popup.close();
  } catch {
    // A popup on another origin may refuse; it closes itself when SecuriX is done.
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
