import { test, expect } from "@playwright/test";

test("the home page hydrates and the countdown ticks on the server's clock", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));

  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();

  // The demo sale starts two minutes after the server started.
  const card = page.locator(".sale-card[data-state=scheduled]").first();
  await expect(card).toBeVisible();
  const countdown = card.locator(".countdown");
  await expect(countdown).toHaveAttribute("data-state", "scheduled");
  await expect(card.locator(".countdown-label")).toHaveText("Starts in");
  const value = card.locator(".countdown-value");
  await expect(value).toHaveText(/^\d{2}:\d{2}$/);
  const first = await value.textContent();
  // Within a second or two the next second ticks by.
  await expect(value).not.toHaveText(first ?? "", { timeout: 3_000 });
  const [minutes, seconds] = (await value.textContent())!.split(":").map(Number);
  const left = minutes * 60 + seconds;
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThanOrEqual(120);
  expect(errors).toEqual([]);
});

test("a missing sale is a real 404 page", async ({ page }) => {
  const response = await page.goto("/sales/999999999");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.getByRole("link", { name: "See all sales" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".sale-card").first()).toBeVisible();
});

test("static assets are content-hashed and cached forever", async ({ page, request }) => {
  await page.goto("/");
  const wasm = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .map((entry) => entry.name)
      .find((name) => name.endsWith(".wasm")),
  );
  expect(wasm).toMatch(/\/pkg\/flashsale\.[^/]+\.wasm$/);
  const response = await request.get(wasm!);
  expect(response.status()).toBe(200);
  expect(response.headers()["cache-control"]).toContain("immutable");
});
