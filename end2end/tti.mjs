// Cold time-to-interactive of a sale page, as a shopper's browser meets it:
// a fresh profile (nothing cached), the network and CPU throttled through the
// DevTools protocol, timed from navigation to the moment the WASM client has
// hydrated the page (`main[data-hydrated=true]`: the buy button works). The
// moment is taken in the page itself (`performance.now()` from a mutation
// observer installed before any script runs): Playwright's own waiting polls
// at growing intervals, up to a second apart, and hid differences under that.
//
//   node end2end/tti.mjs http://127.0.0.1:3000/sales/1 [runs]
//   node end2end/tti.mjs http://127.0.0.1:3000/sales/1 --waterfall
//
// `--waterfall`: one Fast 3G load, each request's sent / first byte / done
// (ms from navigation) and bytes, then the moment the page hydrated.
//
// Prints one Markdown row per profile and encoding: the median of `runs` (5)
// and the bytes on the wire. "plain" asks for no compression
// (`Accept-Encoding: identity`), which is what every browser got before the
// server compressed anything.
import { chromium } from "@playwright/test";

const url = process.argv[2];
const waterfall = process.argv[3] === "--waterfall";
const runs = waterfall ? 1 : Number(process.argv[3] ?? 5);
if (!url) {
  console.error("usage: node end2end/tti.mjs <sale page URL> [runs]");
  process.exit(2);
}

// Chromium DevTools' presets (throughput in bytes per second).
const PROFILES = [
  { name: "desktop", latency: 0, down: -1, up: -1, cpu: 1 },
  { name: "4G, 4x CPU", latency: 20 * 3.75, down: (9 * 1024 * 1024 * 0.9) / 8, up: (1.5 * 1024 * 1024 * 0.9) / 8, cpu: 4 },
  { name: "Fast 3G, 4x CPU", latency: 150 * 3.75, down: (1.6 * 1024 * 1024 * 0.9) / 8, up: (750 * 1024 * 0.9) / 8, cpu: 4 },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic"],
});

async function once(profile, plain) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: profile.latency,
    downloadThroughput: profile.down,
    uploadThroughput: profile.up,
  });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: profile.cpu });
  if (plain) {
    await cdp.send("Network.setExtraHTTPHeaders", { headers: { "Accept-Encoding": "identity" } });
  }
  let bytes = 0;
  const requests = new Map();
  let start;
  cdp.on("Network.requestWillBeSent", (event) => {
    start ??= event.timestamp;
    requests.set(event.requestId, { path: new URL(event.request.url).pathname, sent: event.timestamp });
  });
  cdp.on("Network.responseReceived", (event) => {
    const request = requests.get(event.requestId);
    if (request) request.first = event.timestamp;
  });
  cdp.on("Network.loadingFinished", (event) => {
    bytes += event.encodedDataLength;
    const request = requests.get(event.requestId);
    if (request) Object.assign(request, { done: event.timestamp, bytes: event.encodedDataLength });
  });
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector("main[data-hydrated=true]")) {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
  });
  await page.goto(url, { waitUntil: "commit" });
  await page.locator("main[data-hydrated=true]").waitFor({ state: "attached", timeout: 120_000 });
  const elapsed = await page.evaluate(() => window.__hydratedAt);
  if (waterfall) {
    const ms = (at) => (at === undefined ? "" : Math.round((at - start) * 1000));
    console.log("| request | sent | first byte | done | bytes |\n|---|---:|---:|---:|---:|");
    for (const r of requests.values()) console.log(`| ${r.path} | ${ms(r.sent)} | ${ms(r.first)} | ${ms(r.done)} | ${r.bytes ?? ""} |`);
    console.log(`| **hydrated** | | | **${Math.round(elapsed)}** | |`);
  }
  await context.close();
  return { elapsed, bytes };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
if (waterfall) {
  await once(PROFILES[2], false);
  await browser.close();
  process.exit(0);
}
console.log("| profile | encoding | time to interactive (median of " + runs + ") | bytes on the wire |");
console.log("|---|---|---:|---:|");
for (const profile of PROFILES) {
  for (const plain of [true, false]) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await once(profile, plain));
    const time = median(results.map((r) => r.elapsed));
    const bytes = median(results.map((r) => r.bytes));
    console.log(`| ${profile.name} | ${plain ? "plain" : "br"} | ${(time / 1000).toFixed(2)} s | ${Math.round(bytes / 1024)} KB |`);
  }
}
await browser.close();
