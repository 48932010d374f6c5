// connect() in Node, against @securix/core's real handler: a stand-in `window` (the
// opener and its popup) and a `fetch` that carries the page's calls to the handler the
// way a browser would (same-origin, with an Origin header). The real popup flow in
// chromium is browser.test.mjs; this checks what connect() sends and what it trusts.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { connect } from "@securix/client/connect";
import { createSecurixHandler } from "@securix/core";

import { recordingSecurix } from "./support/recording-securix.mjs";

const ORIGIN = "https://app.example";
const realFetch = globalThis.fetch;

/**
 * A page on ORIGIN whose backend is `backend`; `popup` is what window.open answers and
 * `message(event)` delivers a postMessage to the page. `calls` records the page's requests.
 */
function page(backend) {
  const listeners = new Set();
  const calls = [];
  const popup = {
    closed: false,
    location: { href: "about:blank" },
    close() {
      this.closed = true;
    },
  };
  globalThis.window = {
    screenX: 0,
    screenY: 0,
    outerWidth: 1200,
    outerHeight: 800,
    location: { origin: ORIGIN, href: `${ORIGIN}/settings` },
    open: () => popup,
    addEventListener: (type, listener) => type === "message" && listeners.add(listener),
    removeEventListener: (type, listener) => listeners.delete(listener),
  };
  globalThis.fetch = async (input, init = {}) => {
    const url = new URL(String(input), window.location.href);
    const headers = new Headers(init.headers);
    headers.set("sec-fetch-site", "same-origin");
    if (init.method === "POST") headers.set("origin", ORIGIN);
    const request = new Request(url, { ...init, headers });
    calls.push({ url, method: request.method, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    return backend(request);
  };
  return { popup, calls, message: (event) => [...listeners].forEach((listener) => listener(event)) };
}

afterEach(() => {
  globalThis.fetch = realFetch;
  delete globalThis.window;
});

describe("connect() with @securix/core", () => {
  test("sends the init answer's binding back on status and confirm, and the session is confirmed", { timeout: 5000 }, async () => {
    const { securix, seen } = recordingSecurix({ status: "awaiting_confirmation" });
    const handler = createSecurixHandler({ securix, resolveEntityId: () => "user_alice", providers: { github: { scopes: ["repo"] } } });
    const { calls } = page(handler);
    const result = await connect({ entityId: "user_alice", providers: { github: { scopes: ["repo"] } } });
    assert.equal(result.success, true, JSON.stringify(result));
    assert.equal(seen.sessions.length, 1);
    const status = calls.find((call) => call.url.pathname.endsWith("/status"));
    const confirm = calls.find((call) => call.url.pathname.endsWith("/confirm"));
    assert.match(status.url.searchParams.get("binding"), /^v1\./);
    assert.equal(status.url.searchParams.get("entityId"), "user_alice");
    assert.equal(confirm.body.binding, status.url.searchParams.get("binding"));
    assert.equal(confirm.body.entityId, "user_alice");
    assert.deepEqual(seen.confirms.map((c) => c.sessionId), ["ses_1"]);
  });

  test("leaves providers out when the page names none: the backend's allowlist decides", { timeout: 5000 }, async () => {
    const { securix, seen } = recordingSecurix({ status: "awaiting_confirmation" });
    const handler = createSecurixHandler({ securix, resolveEntityId: () => "user_alice", providers: { github: { scopes: ["repo"] } } });
    page(handler);
    assert.equal((await connect({ entityId: "user_alice" })).success, true);
    assert.deepEqual(seen.sessions[0].providers, { github: { scopes: ["repo"] } });
  });
});
