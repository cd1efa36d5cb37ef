import { Page, expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { adminApi, createSale, registerInBrowser, shot } from "./helpers";

// The sliding-puzzle CAPTCHA as a shopper meets it. Where the gap is comes
// from Redis (a person sees it; the test reads what the server stored).

/** Opens the puzzle (pressing Buy, unless `press` is false: a new puzzle
 * comes by itself) and returns where its gap is, in picture pixels. */
async function openPuzzle(page: Page, press = true): Promise<number> {
  const challenge = page.waitForResponse((response) => /\/captcha$/.test(response.url()));
  if (press) await page.locator(".buy-button").click();
  const { captcha_id } = await (await challenge).json();
  await expect(page.locator(".slide-puzzle")).toBeVisible();
  const stored = execFileSync("redis-cli", [
    "-h", "127.0.0.1", "GET", `${process.env.E2E_REDIS_PREFIX}captcha:${captcha_id}`,
  ]).toString().trim();
  return Number(stored.split(":").pop());
}

/** Page pixels the pointer must move for the piece to travel `pictureX`. */
async function pagePixels(page: Page, pictureX: number): Promise<number> {
  const frame = await page.locator(".slide-picture").boundingBox();
  return (pictureX * frame!.width) / 300;
}

/** A person looks at a new puzzle before dragging; the server refuses answers
 * that come sooner than a hand could give them (1 s at least). */
const LOOK_MS = 700;

/** Looks, presses the handle, moves through `moves` ([ms since the last, share of `distance`, y wobble]), lets go. */
async function drag(page: Page, distance: number, moves: [number, number, number][]) {
  await page.waitForTimeout(LOOK_MS);
  const handle = await page.locator(".slide-handle").boundingBox();
  const x = handle!.x + handle!.width / 2;
  const y = handle!.y + handle!.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (const [wait, share, wobble] of moves) {
    await page.waitForTimeout(wait);
    await page.mouse.move(x + distance * share, y + wobble);
  }
  await page.mouse.up();
}

/** A drag recorded from a person (times in ms, shares of the way): a slow
 * start, a quick middle, a small overshoot and a correction back. */
const RECORDED_BY_HAND: [number, number, number][] = [
  [40, 0.01, 0], [24, 0.03, 0], [18, 0.07, 1], [16, 0.13, 1], [16, 0.21, 1],
  [17, 0.3, 2], [16, 0.4, 2], [16, 0.5, 2], [17, 0.6, 3], [16, 0.69, 3],
  [16, 0.77, 3], [18, 0.84, 3], [20, 0.9, 2], [24, 0.95, 2], [30, 0.99, 2],
  [40, 1.02, 1], [60, 1.035, 1], [80, 1.03, 1], [70, 1.015, 0], [60, 1.005, 0],
  [90, 1.0, 0],
];

test("a straight drag at constant speed is refused and a hand's drag wins", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 3, captcha: "image" });
  await registerInBrowser(page, `/sales/${sale.id}`);
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Buy now");

  const tickets: number[] = [];
  page.on("response", (response) => {
    if (/\/ticket$/.test(response.url())) tickets.push(response.status());
  });

  // A script: into the gap exactly, in 30 equal steps 16 ms apart.
  let gap = await openPuzzle(page);
  await page.screenshot({ path: shot("sale-live-puzzle"), fullPage: true });
  const straight = Array.from({ length: 30 }, (_, i): [number, number, number] => [16, (i + 1) / 30, 0]);
  const next = openPuzzle(page, false);
  await drag(page, await pagePixels(page, gap), straight);
  // Refused for how it moved, not where it ended; a new puzzle at once, the
  // reason above it, and no waiting.
  gap = await next;
  await expect(page.locator(".slide-missed")).toContainText("one steady speed");
  await expect(page.locator(".buy-panel [role=status]")).toContainText("A new puzzle is shown");
  await expect(button).not.toHaveText(/try again/);
  expect(tickets).toEqual([422]);
  await page.screenshot({ path: shot("sale-puzzle-missed"), fullPage: true });

  // A person, on the new puzzle.
  await drag(page, await pagePixels(page, gap), RECORDED_BY_HAND);
  await expect(page).toHaveURL(/\/orders\//);
  expect(tickets).toEqual([422, 200]);
});

/** The page fits a phone's width: nothing to scroll sideways. */
async function fitsTheScreen(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test("on a phone, the puzzle can be solved with the keyboard alone", async ({ page, baseURL }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const admin = await adminApi(baseURL!);
  const upcoming = await createSale(admin, { startsInMs: 600_000, captcha: "image" });
  const sale = await createSale(admin, { stock: 3, captcha: "image" });
  await registerInBrowser(page, `/sales/${upcoming.id}`);
  await expect(page.locator(".countdown-label")).toHaveText("Starts in");
  await fitsTheScreen(page);
  await page.screenshot({ path: shot("sale-before-start-phone"), fullPage: true });
  await page.goto(`/sales/${sale.id}`);
  await expect(page.locator(".buy-button")).toHaveText("Buy now");
  const gap = await openPuzzle(page);
  await fitsTheScreen(page);
  await page.screenshot({ path: shot("sale-live-puzzle-phone"), fullPage: true });
  // The keyboard lands on the piece's handle as the puzzle appears.
  const handle = page.getByRole("slider", { name: "Piece position" });
  await expect(handle).toBeFocused();
  // Big steps (Shift: 10 px) most of the way, then small ones (3 px), at a person's pace.
  let x = 0;
  const pace = [90, 140, 110, 70, 160, 100, 120];
  let beat = 0;
  while (x + 10 <= gap - 4) {
    await handle.press("Shift+ArrowRight");
    x += 10;
    await page.waitForTimeout(pace[beat++ % pace.length]);
  }
  while (Math.abs(x - gap) > 1.5) {
    await handle.press("ArrowRight");
    x += 3;
    await page.waitForTimeout(pace[beat++ % pace.length] + 60);
  }
  await expect(handle).toHaveAttribute("aria-valuenow", String(Math.round(x)));
  await handle.press("Enter");
  await expect(page).toHaveURL(/\/orders\//);
  await expect(page.locator(".order-status")).toHaveText("Won — waiting for payment", { timeout: 10_000 });
  await fitsTheScreen(page);
  await page.screenshot({ path: shot("order-won-phone"), fullPage: true });
});

test("a shopper who cannot drag asks for a proof of work instead and wins", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 3, captcha: "image" });
  await registerInBrowser(page, `/sales/${sale.id}`);
  await expect(page.locator(".buy-button")).toHaveText("Buy now");
  await openPuzzle(page);
  const instead = page.waitForRequest((request) => /\/captcha\?instead=pow/.test(request.url()));
  await page.getByRole("button", { name: /Can't drag\?/ }).click();
  await instead;
  await expect(page).toHaveURL(/\/orders\//);
});

test.describe("on a touch screen", () => {
  test.use({ hasTouch: true, isMobile: true, viewport: { width: 390, height: 844 } });

  test("a finger drags the piece into the gap and wins", async ({ page, baseURL }) => {
    const admin = await adminApi(baseURL!);
    const sale = await createSale(admin, { stock: 3, captcha: "image" });
    await registerInBrowser(page, `/sales/${sale.id}`);
    await expect(page.locator(".buy-button")).toHaveText("Buy now");
    const gap = await openPuzzle(page);
    const distance = await pagePixels(page, gap);
    const handle = await page.locator(".slide-handle").boundingBox();
    const [x, y] = [handle!.x + handle!.width / 2, handle!.y + handle!.height / 2];
    // Touch events as the screen sends them (the browser turns them into pointer events).
    const cdp = await page.context().newCDPSession(page);
    const touch = (type: string, at: number, wobble = 0) =>
      cdp.send("Input.dispatchTouchEvent", {
        type,
        touchPoints: type === "touchEnd" ? [] : [{ x: x + at, y: y + wobble }],
      });
    await page.waitForTimeout(LOOK_MS);
    await touch("touchStart", 0);
    for (const [wait, share, wobble] of RECORDED_BY_HAND) {
      await page.waitForTimeout(wait);
      await touch("touchMove", distance * share, wobble);
    }
    await touch("touchEnd", distance);
    await expect(page).toHaveURL(/\/orders\//);
  });
});
