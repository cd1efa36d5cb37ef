import { expect, test } from "@playwright/test";
import { adminApi, createSale } from "./helpers";

// A shopper in Germany reads prices as Germans write them, in the sale's own
// currency, already before the page's WASM arrives and the same after it.
test.use({ locale: "de-DE" });

const german = (amount: number, currency: string) =>
  new Intl.NumberFormat("de-DE", { style: "currency", currency }).format(amount);

test("prices read in the sale's currency and the shopper's number format, before and after hydration", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const euros = await createSale(admin, { startsInMs: 3_600_000, currency: "EUR", priceCents: 12_345 });
  const yen = await createSale(admin, { startsInMs: 3_600_000, currency: "JPY", priceCents: 4_900 });
  expect([euros.currency, yen.currency]).toEqual(["EUR", "JPY"]);

  // Hold the WASM back: what shows now is the server's page plus the inline script.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/pkg/*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`/sales/${euros.id}`);
  const price = page.locator(".sale .price-now");
  await expect(price).toHaveText(german(123.45, "EUR")); // 123,45 €
  await expect(page.locator(".sale .price-list")).toHaveText(german(249, "EUR"));
  await expect(price.locator("data")).toHaveAttribute("value", "123.45");
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "false");

  release();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(price).toHaveText(german(123.45, "EUR"));

  // Yen have no decimals; a card reached by a client-side navigation reads the same.
  await page.getByRole("link", { name: "⚡ Flash sale" }).click();
  const card = page.locator(`.sale-card[data-sale-id="${yen.id}"]`);
  await expect(card.locator(".price-now")).toHaveText(german(4900, "JPY")); // 4.900 ¥
  await page.locator(`a[href="/sales/${yen.id}"]`).first().click();
  await expect(page.locator(".sale .price-now")).toHaveText(german(4900, "JPY"));
});
