// A demo app, the way the product brief describes one: a page with the SecurixButton,
// a backend mounting @securix/core's routes, and a webhook endpoint that verifies with
// @securix/sdk. It records what its backend saw so tests can look.

import fs from "node:fs";
import path from "node:path";

import { createSecurixHandler } from "@securix/core";
import { Securix } from "@securix/sdk";

import { serveFetch, workspace } from "./peers.mjs";

const js = path.join(workspace, "sdk/js");
const STATIC = {
  "/vendor/react.js": path.join(js, "node_modules/react/umd/react.development.js"),
  "/vendor/react-dom.js": path.join(js, "node_modules/react-dom/umd/react-dom.development.js"),
  "/client/index.js": path.join(js, "packages/client/src/index.js"),
  "/client/connect.js": path.join(js, "packages/client/src/connect.js"),
  "/client/button.js": path.join(js, "packages/client/src/button.js"),
};

/** `import * as React from "react"` in the browser, over React's UMD build. */
const REACT_SHIM = `const React = window.React; export default React;
export const { createElement, useState, useRef, useEffect, useCallback, Fragment } = React;`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo app</title>
<script src="/vendor/react.js"></script>
<script src="/vendor/react-dom.js"></script>
<script type="importmap">{"imports": {"react": "/vendor/react-shim.js"}}</script>
</head><body>
<div id="root"></div><p id="result">idle</p>
<script type="module">
  import { SecurixButton } from "/client/index.js";
  const providers = { mock: { scopes: ["openid"] } };
  const report = (success, details) => {
    window.results.push({ success, ...details });
    document.getElementById("result").textContent = success ? "connected" : "failed: " + details.reason;
  };
  window.results = [];
  ReactDOM.createRoot(document.getElementById("root")).render(
    React.createElement(SecurixButton, { id: "connect", entityId: "user_123", providers, onResult: report }, "Connect Securely"),
  );
  // ?autoconnect: connect() outside any click, loaded the way a bundler-free page does,
  // from SecuriX's /sdk/securix.js.
  if (new URLSearchParams(location.search).has("autoconnect")) {
    const served = await import("SECURIX_URL/sdk/securix.js");
    served.connect({ entityId: "user_123", providers }).then((result) => report(result.success, result));
  }
</script>
</body></html>`;

/** Starts the app; `useSecurix(options)` gives its backend the API key once it has one. */
export async function startDemoApp() {
  const seen = { confirms: [], webhooks: [], rejectedWebhooks: 0 };
  let securix;
  let api;
  const app = await serveFetch(async (request, body) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/securix/")) {
      if (url.pathname.endsWith("/confirm")) seen.confirms.push(JSON.parse(body.toString()));
      return api(request);
    }
    if (url.pathname === "/webhooks") {
      try {
        seen.webhooks.push(await securix.webhooks.verify({ payload: body, headers: request.headers }));
        return new Response(null, { status: 204 });
      } catch (error) {
        console.error("webhook rejected:", error.message);
        seen.rejectedWebhooks += 1;
        return new Response(null, { status: 400 });
      }
    }
    if (url.pathname === "/") {
      const headers = { "content-type": "text/html; charset=utf-8" };
      if (url.searchParams.has("coop")) headers["cross-origin-opener-policy"] = "same-origin";
      return new Response(PAGE.replace("SECURIX_URL", securix.baseUrl), { headers });
    }
    if (url.pathname === "/vendor/react-shim.js") {
      return new Response(REACT_SHIM, { headers: { "content-type": "text/javascript" } });
    }
    const file = STATIC[url.pathname];
    if (file) return new Response(fs.readFileSync(file), { headers: { "content-type": "text/javascript" } });
    return new Response("not found", { status: 404 });
  });
  const useSecurix = (options) => {
    securix = new Securix(options);
    api = createSecurixHandler({
      securix,
      // The demo has one user; a real app answers the user of the request's own session.
      resolveEntityId: () => "user_123",
      providers: { mock: { scopes: ["openid", "profile"] } },
    });
    return securix;
  };
  return { ...app, seen, useSecurix };
}

/** A page on another origin that posts a forged completion to its parent. */
export async function startForeignSite() {
  return serveFetch(async (request) => {
    const sessionId = new URL(request.url).searchParams.get("session");
    const script = `parent.postMessage({type: "securix:session", sessionId: ${JSON.stringify(sessionId)}, status: "awaiting_confirmation"}, "*");`;
    return new Response(`<!doctype html><script>${script}</script>`, { headers: { "content-type": "text/html" } });
  });
}
