// Debian's chromium through playwright-core; nothing downloads a browser.

import fs from "node:fs";

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** A reason to skip browser tests, or false. */
export const noBrowser = !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing`;

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
