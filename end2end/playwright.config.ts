import { defineConfig } from "@playwright/test";

// The server under test is the release binary that `cargo leptos build --release`
// produced, started the way a deployment starts it: standard LEPTOS_* variables
// plus DATABASE_URL / REDIS_URL, a fresh database (scripts/test recreates it) and
// a Redis key prefix of its own.
const port = Number(process.env.E2E_PORT ?? 3100);
// The server's Redis key prefix; tests that look at Redis directly read it here.
process.env.E2E_REDIS_PREFIX ??= `e2e${Date.now()}:`;
const root = `${__dirname}/..`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Browsers cannot be downloaded here: use Debian's Chromium.
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium" }],
  webServer: {
    command: `${root}/target/release/server`,
    cwd: root,
    url: `http://127.0.0.1:${port}/readyz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: `${root}/target/site`,
      LEPTOS_HASH_FILES: "true",
      DATABASE_URL:
        process.env.E2E_DATABASE_URL ??
        "postgres://postgres:postgres@127.0.0.1:5432/flashsale_e2e",
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      FLASHSALE_REDIS_PREFIX: process.env.E2E_REDIS_PREFIX,
      FLASHSALE_DEMO: "1",
      // Quick puzzles keep the suite fast; production uses the default.
      FLASHSALE_POW_BITS: "14",
      // The tests register dozens of shoppers from one address in a minute.
      FLASHSALE_RATE_REGISTER_PER_IP: "100:100",
      // Beyond 20 accounts a minute registering asks for a proof of work: the
      // suite's later registrations do it, in the page and in shopperApi.
      FLASHSALE_QUIET_REGISTRATIONS_PER_MINUTE: "20",
      RUST_LOG: "warn",
    },
  },
});
