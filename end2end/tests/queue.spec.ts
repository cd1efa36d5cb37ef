import { test, expect } from "@playwright/test";
import { adminApi, createSale, registerInBrowser, shot } from "./helpers";

test.describe.configure({ mode: "serial" });

test("join the line before the start, keep the place through a reload, get in and buy; the next one waits for a unit to come back", async ({ page, browser, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 9_000, stock: 1, queue: { window: 1 } });
  await registerInBrowser(page, `/sales/${sale.id}`);

  const panel = page.locator(".queue-panel");
  await expect(page.getByRole("button", { name: "Join the line" })).toBeVisible();
  await expect(panel).toContainText("arriving first does not help");
  await page.getByRole("button", { name: "Join the line" }).click();
  await expect(panel).toHaveAttribute("data-state", "waiting");
  await expect(page.locator(".queue-headline")).toHaveText("You are in line. Places are drawn at the start.");
  await expect(page.locator(".queue-chance")).toContainText("an estimate");
  // No progress to show before the draw, but the start is counted down.
  await expect(page.locator(".queue-progress")).toHaveCount(0);
  await expect(page.locator(".countdown-label")).toHaveText("Starts in");
  await expect(panel).toContainText("your place is kept");
  await page.screenshot({ path: shot("queue-waiting"), fullPage: true });

  // A reload keeps the place: the server holds it, not the page.
  await page.reload();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(panel).toHaveAttribute("data-state", "waiting");
  await expect(page.getByRole("button", { name: "Join the line" })).toHaveCount(0);

  // At the start the draw places the one entrant first, and lets them in.
  await expect(panel).toHaveAttribute("data-state", "admitted", { timeout: 20_000 });
  await expect(page.locator(".queue-admitted")).toContainText("It's your turn! Buy before");
  await expect(page.locator(".queue-time-left")).toHaveText(/^[12]:\d{2} left to buy$/);
  await page.screenshot({ path: shot("queue-admitted"), fullPage: true });
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Buy now");
  await button.click();
  await expect(page).toHaveURL(/\/orders\/\d+-[0-9a-f]{32}$/, { timeout: 15_000 });
  await expect(page.locator(".order-status")).toHaveText("Won — waiting for payment", { timeout: 10_000 });
  const orderId = page.url().split("/").pop()!;

  // Someone arriving now is waitlisted: the unit is claimed but unpaid.
  const context = await browser.newContext();
  const late = await context.newPage();
  await registerInBrowser(late, `/sales/${sale.id}`);
  await late.getByRole("button", { name: "Join the line" }).click();
  const latePanel = late.locator(".queue-panel");
  await expect(latePanel).toHaveAttribute("data-state", "waitlisted", { timeout: 10_000 });
  await expect(late.locator(".queue-headline")).toContainText("All claimed — 1 may come back");
  await late.screenshot({ path: shot("queue-waitlisted"), fullPage: true });

  // The winner cancels: the unit comes back and lets the next in line in.
  const cancelled = await page.request.post(`/api/orders/${orderId}/cancel`);
  expect(cancelled.status()).toBe(200);
  await expect(latePanel).toHaveAttribute("data-state", "admitted", { timeout: 15_000 });
  await expect(late.locator(".queue-admitted")).toBeVisible();
  await context.close();

  // The admin's live page shows the line and who won by when they joined.
  const adminContext = await browser.newContext();
  await adminContext.addCookies((await admin.storageState()).cookies);
  const adminPage = await adminContext.newPage();
  await adminPage.goto(`/admin/sales/${sale.id}`);
  await expect(adminPage.locator(".sale-admission")).toContainText("Opening: waiting room · line opens");
  const line = adminPage.locator(".line-panel");
  await expect(line.locator(".stat-line-before dd")).toHaveText("1");
  await expect(line.locator(".stat-line-after dd")).toHaveText("1");
  await expect(line.locator(".stat-line-admitted dd")).toHaveText("2", { timeout: 10_000 });
  await expect(line.locator(".fairness-summary")).toContainText("1 of 2 entrants got a unit", { timeout: 15_000 });
  await expect(line.locator(".fairness-by-join tbody tr")).toHaveCount(2);
  await expect(line.locator(".draw-values")).toContainText("Revealed secret");
  await expect(line.locator(".fairness-addresses tbody tr")).toHaveCount(1);
  await adminPage.screenshot({ path: shot("admin-queue-fairness"), fullPage: true });
  await adminContext.close();
});

test("the waiting room fits a phone", async ({ browser, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 120_000, stock: 5, queue: {} });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await registerInBrowser(page, `/sales/${sale.id}`);
  await page.getByRole("button", { name: "Join the line" }).click();
  const panel = page.locator(".queue-panel");
  await expect(panel).toHaveAttribute("data-state", "waiting");
  await expect(page.locator(".queue-headline")).toBeInViewport();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);
  await page.screenshot({ path: shot("queue-phone"), fullPage: false });
  await context.close();
});
