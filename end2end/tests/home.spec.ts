import { test, expect } from "@playwright/test";
import { adminApi, createSale, shot } from "./helpers";

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

  // Compressed at build time, sent as the browser accepts: brotli, else gzip,
  // else the file itself; caches keep them apart.
  const sizes: Record<string, number> = {};
  for (const encoding of ["br", "gzip", "identity"]) {
    const answer = await request.get(wasm!, { headers: { "accept-encoding": encoding } });
    expect(answer.status()).toBe(200);
    expect(answer.headers()["content-encoding"] ?? "identity").toBe(encoding);
    expect(answer.headers()["vary"]?.toLowerCase()).toContain("accept-encoding");
    sizes[encoding] = Number(answer.headers()["content-length"]);
  }
  expect(sizes.br).toBeLessThan(sizes.identity / 3);
  expect(sizes.gzip).toBeLessThan(sizes.identity / 2);
  const page_ = await request.get("/", { headers: { "accept-encoding": "br" } });
  expect(page_.headers()["content-encoding"]).toBe("br");
});

test("a sale with a picture shows it on its card and on its page", async ({ page, baseURL }) => {
  // The product picture, as a shop's image host would serve it.
  const picture = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320"><rect width="480" height="320" fill="#2b6cb0"/><circle cx="240" cy="160" r="90" fill="#f6e05e"/></svg>`;
  await page.route("**/e2e-images/**", (route) =>
    route.fulfill({ status: 200, contentType: "image/svg+xml", body: picture }),
  );
  const admin = await adminApi(baseURL!);
  const title = `Pictured headphones ${Date.now()}`;
  const sale = await createSale(admin, { startsInMs: 60_000, title, imageUrl: "/e2e-images/headphones.svg" });

  await page.goto("/");
  const card = page.locator(`.sale-card[data-sale-id="${sale.id}"]`);
  const cardImage = card.locator("img.sale-card-image");
  await cardImage.scrollIntoViewIfNeeded();
  await expect(cardImage).toHaveAttribute("alt", title);
  await expect(cardImage).toHaveAttribute("width", "480");
  await expect(cardImage).toHaveAttribute("height", "320");
  await expect.poll(() => cardImage.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  const bar = card.locator(".stock-bar");
  await expect(bar).toHaveAttribute("aria-valuenow", "5");
  await expect(bar).toHaveAttribute("aria-valuemax", "5");
  await card.screenshot({ path: shot("sale-card-with-picture") });

  await page.goto(`/sales/${sale.id}`);
  const image = page.locator("img.sale-image");
  await expect(image).toHaveAttribute("alt", title);
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  // The countdown, the stock and the button are in view on a laptop and on a
  // phone, without scrolling past the picture.
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.setViewportSize({ width: 1280, height: 800 });
  for (const part of [".countdown", ".stock-left", ".buy-login"]) {
    await expect(page.locator(part)).toBeInViewport({ ratio: 1 });
  }
  await page.screenshot({ path: shot("sale-with-picture") });
  await page.setViewportSize({ width: 390, height: 844 });
  for (const part of [".countdown", ".stock-left", ".buy-login"]) {
    await expect(page.locator(part)).toBeInViewport({ ratio: 1 });
  }
  await page.screenshot({ path: shot("sale-with-picture-phone") });
});
