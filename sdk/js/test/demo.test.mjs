// `securix demo` in a real browser: what a newcomer sees after one command. Both flows
// against the built-in demo provider, then a provider call through the proxy.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { launchChromium, noBrowser } from "./support/browser.mjs";
import { freePort, workspace } from "./support/peers.mjs";

describe("securix demo in chromium", { skip: noBrowser }, () => {
  let demo, appUrl, browser, page;

  before(async () => {
    const bin = process.env.SECURIX_BIN ?? path.join(workspace, "target/debug/securix");
    const port = await freePort();
    demo = spawn(bin, ["demo", "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "ignore"] });
    appUrl = await new Promise((resolve, reject) => {
      let printed = "";
      demo.stdout.on("data", (chunk) => {
        printed += chunk;
        const found = printed.match(/Open (http:\/\/\S+)/);
        if (found) resolve(found[1]);
      });
      demo.once("exit", (code) => reject(new Error(`securix demo exited with ${code}`)));
    });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    await page.goto(appUrl);
  });

  after(async () => {
    await browser?.close();
    demo?.kill("SIGTERM");
  });

  /** The demo provider's page: sign in as someone and approve. */
  async function approve(at, name) {
    await at.getByRole("button", { name: /^Continue to/ }).click();
    await at.getByRole("button", { name: "Approve" }).waitFor();
    await at.getByLabel("Sign in as").fill(name);
    await at.getByRole("button", { name: "Approve" }).click();
  }

  test("the popup flow: button → consent → demo provider → connected", async () => {
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#popup")]);
    await approve(popup, "Ada Lovelace");
    await page.getByText("Connected.").waitFor({ timeout: 20_000 });
    await page.getByText(/ada?lovelace@demo\.securix\.invalid/i).waitFor();
  });

  test("the device flow: code on the page, entered in another tab", async () => {
    await page.click("#device");
    const code = await page.locator("#device-result code").textContent();
    const link = await page.locator("#device-result a").getAttribute("href");
    const other = await page.context().newPage();
    await other.goto(link);
    await other.getByRole("textbox").fill(code);
    await other.getByRole("button").first().click();
    await approve(other, "Grace Hopper");
    await page.getByText("Device flow: completed").waitFor({ timeout: 30_000 });
  });

  test("a provider call through the proxy shows the user, never a token", async () => {
    await page.click("#whoami");
    await page.getByText(/^200 /).waitFor();
    const shown = await page.locator("#whoami-result").textContent();
    assert.match(shown, /"sub": "demo\|adalovelace"/);
    assert.match(shown, /"sub": "demo\|gracehopper"/, "both accounts, each through its own connection");
    assert.doesNotMatch(shown, /access_token|Bearer/);
  });
});
