import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { ADMIN, adminApi, createSale, shopperApi, shot } from "./helpers";

/** A 1×1 red PNG. */
const RED_DOT = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12P4z8AAAAMBAQAY3Y2wAAAAAElFTkSuQmCC",
  "base64",
);

test.describe.configure({ mode: "serial" });

test("an admin schedules a sale, watches a burst sell it out, pauses and resumes it", async ({ page, baseURL }) => {
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto("/login?next=/admin");
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole("heading", { name: "Sales" })).toBeVisible();

  await page.getByRole("link", { name: "New sale" }).click();
  await page.getByLabel("Title").fill("Burst test sneakers");
  // A picture from the admin's disk: uploaded, previewed, and its address filled in.
  await page.getByLabel("Upload a picture").setInputFiles({ name: "sneakers.png", mimeType: "image/png", buffer: RED_DOT });
  await expect(page.locator("#image_url")).toHaveValue(/^\/pictures\/[0-9a-f]{64}\.png$/);
  await expect(page.locator(".picture-preview")).toBeVisible();
  // Nothing is priced until the admin says so.
  await expect(page.getByLabel("Price", { exact: true })).toHaveValue("");
  // The shop's currency is proposed (scripts/test leaves FLASHSALE_CURRENCY unset).
  await expect(page.getByLabel("Currency (ISO 4217 code)")).toHaveValue("USD");
  await page.getByLabel("Currency (ISO 4217 code)").fill("EUR");
  await page.getByLabel("Price", { exact: true }).fill("49.90");
  await page.getByLabel("List price (before the sale)").fill("129");
  await page.getByLabel("Stock (units)").fill("4");
  await page.getByLabel("CAPTCHA").selectOption("none");
  // A fair opening is proposed; this burst tests the race.
  await expect(page.getByLabel("Opening")).toHaveValue("queue");
  await expect(page.getByLabel("Line opens (minutes before the start)")).toHaveValue("10");
  await page.getByLabel("Opening").selectOption("race");
  await expect(page.getByLabel("Line opens (minutes before the start)")).toHaveCount(0);
  // Fresh accounts are kept out unless the admin says otherwise (this burst's are fresh).
  await expect(page.getByLabel("Minimum account age (days)")).toHaveValue("7");
  await page.getByLabel("Minimum account age (days)").fill("0");
  // Starts in a few seconds, typed in the browser's own time zone.
  const startsAt = Math.ceil((Date.now() + 10_000) / 1000) * 1000;
  const local = await page.evaluate((ms) => {
    const d = new Date(ms);
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }, startsAt);
  await page.getByLabel("Starts (your time zone)").fill(local);
  await expect(page.locator(".utc-instant")).toContainText("UTC");
  await page.getByRole("button", { name: "Create sale" }).click();
  await expect(page).toHaveURL(/\/admin\/sales\/\d+$/);
  const saleId = Number(page.url().split("/").pop());
  const created = await (await page.request.get(`/api/sales/${saleId}`)).json();
  expect([created.price_cents, created.list_price_cents, created.currency]).toEqual([4_990, 12_900, "EUR"]);
  await expect(page.locator("p.hint data[data-currency=EUR]")).toHaveText("€49.90");
  const picture = await page.request.get(created.image_url);
  expect(picture.headers()["content-type"]).toBe("image/png");
  expect(picture.headers()["cache-control"]).toContain("immutable");
  expect(picture.headers()["etag"]).toBeTruthy();
  await expect(page.locator(".stat-stock-left dd")).toHaveText("4 / 4");
  // Before the start the sale is scheduled, not running.
  await expect(page.locator(".sale-paused")).toHaveText("Starts soon");
  // One more unit, edited before the start.
  await page.locator("#edit-stock").fill("5");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.locator(".stat-stock-left dd")).toHaveText("5 / 5");
  // Saving the stock leaves the announced times alone, to the second.
  const edited = await (await page.request.get(`/api/sales/${saleId}`)).json();
  expect([edited.starts_at_ms, edited.ends_at_ms]).toEqual([startsAt, created.ends_at_ms]);
  expect(created.starts_at_ms).toBe(startsAt);
  // The form shows the start with its seconds; saving again changes nothing.
  await expect(page.locator("#edit-starts")).toHaveValue(local);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.locator(".edit-before-start .form-error")).toHaveText("Nothing changed.");

  // A scripted burst of buyers once the sale has started.
  const buyers = await Promise.all(Array.from({ length: 12 }, () => shopperApi(baseURL!)));
  await page.waitForTimeout(Math.max(0, startsAt - Date.now() + 300));
  const outcomes = await Promise.all(
    buyers.map(async (buyer) => {
      const ticket = await buyer.post(`/api/sales/${saleId}/ticket`, { data: { captcha_id: "", answer: "" } });
      if (ticket.status() !== 200) return ticket.status();
      return (await buyer.post((await ticket.json()).buy_path)).status();
    }),
  );
  expect(outcomes.filter((status) => status === 202)).toHaveLength(5);

  await expect(page.locator(".stat-stock-left dd")).toHaveText("0 / 5", { timeout: 10_000 });
  await expect(page.locator(".stat-won dd")).toHaveText("5");
  await expect(page.locator(".stat-attempts dd")).not.toHaveText("0");
  await expect(page.locator(".stat-drift dd")).toHaveText("0");
  // The books catch up within their refresh: the five winners awaiting payment, no drift.
  await expect(page.locator('.books tr:has-text("awaiting payment (Postgres)") td')).toHaveText("5", { timeout: 10_000 });
  await expect(page.locator('.books tr:has-text("left for sale (Redis)") td')).toHaveText("0");
  await expect(page.locator(".books-explained")).toHaveText(/Redis and Postgres agree/);
  await expect(page.locator('.bar[data-outcome="won"]')).toBeVisible();
  await expect(page.locator(".series-first")).toHaveAttribute("points", /\d/);
  await page.screenshot({ path: shot("admin-live-burst"), fullPage: true });
  // The orders table catches up within its refresh, one row per winner.
  await expect(page.locator(".admin-orders tbody tr")).toHaveCount(5, { timeout: 10_000 });
  // Each row names its buyer and when, to the second.
  await expect(page.locator(".admin-orders tbody tr .buyer").first()).toHaveText(/^api/);
  await expect(page.locator(".admin-orders tbody tr time").first()).toHaveText(/\d{1,2}:\d{2}:\d{2}/);
  await expect(page.locator(".pager")).toContainText("Page 1 of 1");
  await expect(page.getByRole("button", { name: "Next" })).toBeDisabled();

  await page.getByRole("button", { name: "Pause sale" }).click();
  await expect(page.locator(".sale-paused")).toHaveText("Paused");
  const status = await (await buyers[0].get(`/api/sales/${saleId}/status`)).json();
  expect(status.state).toBe("paused");
  await page.getByRole("button", { name: "Resume sale" }).click();
  // Resumed, and sold out: the page says so, not "running".
  await expect(page.locator(".sale-paused")).toHaveText("Sold out");

  await page.getByRole("link", { name: "← All sales" }).click();
  await expect(page.locator(`tr[data-sale-id="${saleId}"]`)).toContainText("0 / 5");
});

test("admin pages say so to shoppers", async ({ page, baseURL }) => {
  const shopper = await shopperApi(baseURL!);
  const cookies = (await shopper.storageState()).cookies;
  await page.context().addCookies(cookies);
  await page.goto("/admin");
  await expect(page.getByText("This page is for admins only.")).toBeVisible();
  // No admin action is offered to whoever is not one.
  await expect(page.getByRole("link", { name: "New sale" })).toHaveCount(0);
});

test("the new-sale form fits a phone, and an empty sale has no pager", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  await page.context().addCookies((await admin.storageState()).cookies);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/admin/sales/new");
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  // The form shows once the session says this is an admin.
  await expect(page.getByLabel("Starts (your time zone)")).toBeVisible();
  await expect(page.getByLabel("Starts (your time zone)")).not.toHaveValue("");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: shot("admin-new-sale-phone"), fullPage: true });

  const sale = await createSale(admin, { startsInMs: 600_000 });
  await page.goto(`/admin/sales/${sale.id}`);
  await expect(page.locator(".sale-paused")).toHaveText("Starts soon");
  await expect(page.getByText("No orders here yet.")).toBeVisible();
  await expect(page.locator(".pager")).toHaveCount(0);
});

test("a dead letter shows its error, and a retry that fails again keeps it", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 3 });
  // A message no consumer can turn into an order (its fields are missing).
  const stream = `${process.env.E2E_REDIS_PREFIX}{s:${sale.id}}:orders`;
  execFileSync("redis-cli", ["-h", "127.0.0.1", "XADD", stream, "*", "order_id", "broken"]);

  await page.context().addCookies((await admin.storageState()).cookies);
  const letter = page.locator(".dead-letter", { hasText: `Sale #${sale.id}` });
  await expect(async () => {
    await page.goto("/admin/dead-letters");
    await expect(letter).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(letter.locator(".error")).toContainText("missing or malformed");
  await page.screenshot({ path: shot("admin-dead-letters"), fullPage: true });

  await letter.getByRole("button", { name: "Retry" }).click();
  await expect(page.locator(".status-message")).toContainText("could not be saved");
  await expect(letter).toBeVisible();
});
