import { test, expect } from "@playwright/test";
import { adminApi, createSale, registerInBrowser, shopperApi, shot } from "./helpers";

test.describe.configure({ mode: "serial" });

test("register, wait for the start, solve the proof of work, win and pay", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 8_000, captcha: "pow", stock: 3 });
  await registerInBrowser(page, `/sales/${sale.id}`);

  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Waiting for the start");
  await expect(button).toBeDisabled();
  await expect(page.locator(".countdown-label")).toHaveText("Starts in");
  // Screen readers hear the last seconds and the start, not every tick.
  const announced = page.locator(".buy-panel [role=status]");
  await expect(announced).toHaveText("Starts in less than 10 seconds.");
  await page.screenshot({ path: shot("sale-before-start"), fullPage: true });

  await expect(button).toBeEnabled({ timeout: 12_000 });
  const enabledAt = Date.now();
  expect(enabledAt).toBeGreaterThanOrEqual(sale.starts_at_ms - 1_000);
  expect(enabledAt).toBeLessThanOrEqual(sale.starts_at_ms + 1_500);
  await expect(button).toHaveText("Buy now");
  await expect(announced).toHaveText("The sale is live. Buy now is enabled.");
  await page.screenshot({ path: shot("sale-live"), fullPage: true });

  await button.click();
  await expect(page).toHaveURL(/\/orders\/\d+-[0-9a-f]{32}$/, { timeout: 15_000 });
  await expect(page.locator(".order-status")).toHaveText("Won — waiting for payment", { timeout: 10_000 });
  await expect(page.locator(".pay-countdown")).toHaveText(/^1[45]:\d{2}$/);
  // The keyboard and the screen reader land on the news, with the order's number and time.
  await expect(page.locator(".order-status")).toBeFocused();
  await expect(page.locator("#order-status-more")).toContainText("The payment clock runs");
  await expect(page.locator(".order-number")).toHaveText(page.url().split("/").pop()!);
  // The order says what was bought, and leads back to it.
  const product = page.locator(".order .ordered-product");
  await expect(product).toHaveText("Limited edition headphones");
  await expect(product).toHaveAttribute("href", `/sales/${sale.id}`);
  await page.screenshot({ path: shot("order-won"), fullPage: true });

  await page.getByRole("button", { name: "Pay now" }).click();
  await expect(page.locator(".order-status")).toHaveText("Paid");
  await expect(page.getByRole("button", { name: "Pay now" })).toHaveCount(0);

  await page.goto("/orders");
  const row = page.locator(".order-row");
  await expect(row).toHaveCount(1);
  await expect(row.locator(".ordered-product")).toHaveText("Limited edition headphones");
  await expect(row.locator(".order-status")).toHaveText("Paid");
  await expect(row.locator("time")).toBeVisible();
  await page.screenshot({ path: shot("orders-list"), fullPage: true });

  // Logging out there leaves nothing of the account on screen.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".order-row")).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
});

test("a second shopper on a one-unit sale sees sold out", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 1 });
  // Someone else wins the only unit first.
  const rival = await shopperApi(baseURL!);
  const ticket = await rival.post(`/api/sales/${sale.id}/ticket`, { data: { captcha_id: "", answer: "" } });
  const won = await rival.post((await ticket.json()).buy_path);
  expect(won.status()).toBe(202);

  await registerInBrowser(page, `/sales/${sale.id}`);
  const button = page.locator(".buy-button");
  await expect(button).toHaveText(/Buy now|Sold out/);
  if ((await button.textContent()) === "Buy now") {
    await button.click();
  }
  await expect(button).toHaveText("Sold out");
  await expect(button).toBeDisabled();
  await expect(page.locator(".buy-panel [role=status]")).toHaveText("Sold out.");
  const bar = page.locator(".buy-panel .stock-bar");
  await expect(bar).toHaveAttribute("aria-valuenow", "0");
  await expect(bar.locator(".stock-bar-fill")).toHaveAttribute("style", "width: 0%");
  // When it sold out, to the second, on the server's clock.
  await expect(page.locator(".countdown-label")).toHaveText("Sold out at");
  await expect(page.locator(".sold-out-at")).toHaveText(/\d{1,2}:\d{2}:\d{2}/);
  await page.screenshot({ path: shot("sale-sold-out"), fullPage: true });
  // On a phone the page reads the same, without sideways scrolling.
  await page.setViewportSize({ width: 390, height: 800 });
  await expect(button).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: shot("sale-sold-out-phone"), fullPage: true });
});

test("buying twice shows limit reached", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 5, limit: 1 });
  await registerInBrowser(page, `/sales/${sale.id}`);
  await page.locator(".buy-button").click();
  await expect(page).toHaveURL(/\/orders\//);
  // Saved (the list of a shopper's orders reads Postgres; until the order is
  // saved the limit shows when the buy is refused, as before).
  await expect(page.locator(".order-status")).toHaveText("Won — waiting for payment", { timeout: 10_000 });
  const order = page.url().split("/").pop();
  await page.goto(`/sales/${sale.id}`);
  // Back on the sale, the shopper sees the order they hold, never a "Buy now"
  // that could only be refused.
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Limit reached");
  await expect(button).toBeDisabled();
  await expect(page.locator(".buy-note")).toContainText("as many units as this sale allows");
  const pay = page.getByRole("link", { name: "Pay for your order" });
  await expect(pay).toHaveAttribute("href", `/orders/${order}`);
  await expect(page.locator(".held-order time")).toBeVisible();
  await page.screenshot({ path: shot("sale-limit-held"), fullPage: true });
});

test("a shopper whose session ended logs in again in place and the buy goes on", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 5 });
  const username = await registerInBrowser(page, `/sales/${sale.id}`);
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Buy now");
  // The session ends behind the page's back (as when Redis lost it): the page
  // still believes it is logged in until the buy is refused.
  const loggedOut = await page.request.post("/api/auth/logout", { headers: { origin: baseURL! } });
  expect(loggedOut.ok()).toBeTruthy();
  await button.click();
  const ended = page.locator(".session-ended");
  await expect(ended).toContainText("Your session has ended");
  await expect(button).toHaveText("Log in to buy");
  await page.screenshot({ path: shot("session-ended"), fullPage: true });

  // Logged in right there (the keyboard is already in the form): still on the
  // sale page, and the buy resumes by itself.
  await expect(ended.getByLabel("Username")).toBeFocused();
  await ended.getByLabel("Username").fill(username);
  await ended.getByLabel("Password").fill("shopper-password");
  await ended.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/orders\//);
  await expect(page.locator(".order-status")).toBeVisible();
});

test("hammering the button sends one request per attempt", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 5, captcha: "image" });
  await registerInBrowser(page, `/sales/${sale.id}`);
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Buy now");
  const sent: string[] = [];
  page.on("request", (request) => {
    const match = /\/api\/sales\/\d+\/(ticket|captcha|buy)/.exec(request.url());
    if (request.method() === "POST" && match) sent.push(match[1]);
  });
  const hammer = async (times: number) => {
    for (let i = 0; i < times; i++) {
      await button.click({ force: true, noWaitAfter: true, timeout: 500 }).catch(() => {});
      await page.waitForTimeout(30);
    }
  };

  await hammer(15);
  await expect(page.locator(".slide-puzzle")).toBeVisible();
  expect(sent).toEqual(["captcha"]);

  // A wrong answer (the piece let go far from any gap): refused, and a new
  // puzzle comes at once with the reason; clicks meanwhile send nothing.
  const handle = await page.locator(".slide-handle").boundingBox();
  const [x, y] = [handle!.x + handle!.width / 2, handle!.y + handle!.height / 2];
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 30, y, { steps: 3 });
  await page.mouse.up();
  await expect(page.locator(".slide-missed")).toBeVisible();
  await expect(button).toHaveText("Slide the piece into the gap first");
  await hammer(15);
  expect(sent).toEqual(["captcha", "ticket", "captcha"]);
});

test("the button enables at the server's start even when the phone's clock is wrong", async ({ page, baseURL }) => {
  // The device clock runs two minutes fast: trusting it would enable the button at once.
  await page.addInitScript(() => {
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() + 120_000;
  });
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 6_000 });
  await registerInBrowser(page, `/sales/${sale.id}`);
  const button = page.locator(".buy-button");
  await expect(button).toHaveText("Waiting for the start");
  await expect(button).toBeEnabled({ timeout: 10_000 });
  const enabledAt = Date.now();
  expect(Math.abs(enabledAt - sale.starts_at_ms)).toBeLessThanOrEqual(1_000);
});

test("a visitor is offered the log-in as a link that comes back to the sale", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 5 });
  await page.goto(`/sales/${sale.id}`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  const login = page.getByRole("link", { name: "Log in to buy" });
  await expect(login).toHaveAttribute("href", `/login?next=/sales/${sale.id}`);
  await expect(page.getByRole("button", { name: "Log in to buy" })).toHaveCount(0);
  await login.click();
  await expect(page).toHaveURL(new RegExp(`/login\\?next=/sales/${sale.id}$`));
});

test("the stock on a live sale's page follows the sales within seconds", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 5 });
  await page.goto(`/sales/${sale.id}`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  const left = page.locator(".stock-left");
  await expect(left).toHaveText("5 of 5 left");
  for (let i = 0; i < 2; i++) {
    const buyer = await shopperApi(baseURL!);
    const ticket = await buyer.post(`/api/sales/${sale.id}/ticket`, { data: { captcha_id: "", answer: "" } });
    expect((await buyer.post((await ticket.json()).buy_path)).status()).toBe(202);
  }
  // Well within one live interval (3 s ± 25 %), not the half minute of a page at rest.
  await expect(left).toHaveText("3 of 5 left · 40% claimed", { timeout: 6_000 });
});

test("an upcoming sale can be added to the calendar, ringing before the start", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 3_600_000 });
  await page.goto(`/sales/${sale.id}`);
  const add = page.getByRole("link", { name: "Add to calendar" });
  await expect(add).toHaveAttribute("download", `sale-${sale.id}.ics`);
  const href = (await add.getAttribute("href"))!;
  const ics = decodeURIComponent(href.slice(href.indexOf(",") + 1));
  const start = new Date(sale.starts_at_ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  expect(ics).toContain(`\r\nDTSTART:${start}\r\n`);
  expect(ics).toContain("TRIGGER:-PT10M");
  expect(ics).toContain(`URL:${baseURL}/sales/${sale.id}`);
  const download = page.waitForEvent("download");
  await add.click();
  expect((await download).suggestedFilename()).toBe(`sale-${sale.id}.ics`);
});
