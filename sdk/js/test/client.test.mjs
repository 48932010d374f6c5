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

  test("a refused init settles as an error carrying the backend's problem code, and closes the popup", { timeout: 5000 }, async () => {
    const { securix, seen } = recordingSecurix();
    const handler = createSecurixHandler({ securix, resolveEntityId: () => "user_alice", providers: { github: { scopes: ["repo"] } } });
    const { popup } = page(handler);
    const result = await connect({ entityId: "user_alice", providers: { github: { scopes: ["delete_repo"] } } });
    assert.deepEqual([result.success, result.reason, result.code], [false, "error", "scope-not-allowed"]);
    assert.equal(popup.closed, true);
    assert.equal(seen.sessions.length, 0);
  });
});

/** An app backend that answers init with `authUrl`, every status (after 20 ms) with `status`, and confirms. */
function fakeBackend({ authUrl = "https://securix.example/connect/ses_1", status = "pending" } = {}) {
  const seen = [];
  const handler = async (request) => {
    const action = new URL(request.url).pathname.split("/").pop();
    seen.push(action);
    if (action === "init") {
      const expiresAt = new Date(Date.now() + 60_000).toISOString();
      return Response.json({ sessionId: "ses_1", authUrl, expiresAt, binding: "v1.1.b" }, { status: 201 });
    }
    if (action === "status") {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return Response.json({ sessionId: "ses_1", status });
    }
    return Response.json({ status: "completed", connections: [] });
  };
  return { handler, seen };
}

describe("connect() trusts only SecuriX's popup", () => {
  for (const authUrl of ["javascript:alert(document.cookie)", "data:text/html,<script>opener.x()</script>"]) {
    test(`an init answer whose authUrl is ${authUrl.split(":")[0]}: never reaches the popup (untrusted-auth-url)`, { timeout: 5000 }, async () => {
      const backend = fakeBackend({ authUrl, status: "denied" });
      const { popup } = page(backend.handler);
      const result = await connect({ entityId: "user_alice" });
      assert.deepEqual([result.success, result.code], [false, "untrusted-auth-url"]);
      assert.equal(popup.location.href, "about:blank");
      assert.equal(popup.closed, true);
      assert.deepEqual(backend.seen, ["init"]);
    });
  }

  test("with securixOrigin pinned, an authUrl elsewhere is refused (untrusted-auth-url)", { timeout: 5000 }, async () => {
    const backend = fakeBackend({ authUrl: "https://securix.evil.example/connect/ses_1", status: "denied" });
    const { popup } = page(backend.handler);
    const result = await connect({ entityId: "user_alice", securixOrigin: "https://securix.example" });
    assert.deepEqual([result.success, result.code], [false, "untrusted-auth-url"]);
    assert.equal(popup.location.href, "about:blank");
  });

  test("a completion message from another window on SecuriX's origin is ignored; the popup's own settles it", { timeout: 5000 }, async () => {
    const backend = fakeBackend();
    const { popup, message } = page(backend.handler);
    const settled = connect({ entityId: "user_alice" });
    while (popup.location.href === "about:blank") await new Promise((resolve) => setTimeout(resolve, 5));
    const data = { type: "securix:session", sessionId: "ses_1", status: "awaiting_confirmation" };
    const otherWindow = {};
    message({ source: otherWindow, origin: "https://securix.example", data });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(!backend.seen.includes("confirm"), "a forged completion started a confirm");
    message({ source: popup, origin: "https://securix.example", data });
    const result = await settled;
    assert.equal(result.success, true, JSON.stringify(result));
    assert.equal(backend.seen.filter((action) => action === "confirm").length, 1);
  });

  test("an unreachable backend settles as backend-unreachable", { timeout: 5000 }, async () => {
    page(async () => {
      throw new TypeError("Failed to fetch");
    });
    const result = await connect({ entityId: "user_alice" });
    assert.deepEqual([result.success, result.reason, result.code], [false, "error", "backend-unreachable"]);
  });
});
