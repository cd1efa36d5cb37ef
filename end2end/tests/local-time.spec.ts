import { expect, test } from "@playwright/test";
import { adminApi, createSale } from "./helpers";

// A shopper in Tokyo reads the sale's times on their own clock, with the zone
// named and the exact UTC instant on hover.
test.use({ timezoneId: "Asia/Tokyo", locale: "en-US" });

test("times read in the shopper's own zone, already before the page's script arrives", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { startsInMs: 3_600_000 });
  const tokyo = new Intl.DateTimeFormat("en-US", {
    timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hour12: true,
  }).format(new Date(sale.starts_at_ms));

  // Hold the WASM back: what shows now is the server's page plus the inline script.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/pkg/*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`/sales/${sale.id}`);
  const starts = page.locator(".facts time").first();
  await expect(starts).toContainText("GMT+9");
  await expect(starts).toContainText(tokyo);
  await expect(starts).toHaveAttribute("title", /UTC$/);
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "false");

  // Hydration keeps it (no flash back to UTC), and the countdown takes over.
  release();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(starts).toContainText("GMT+9");
  await expect(page.locator(".countdown")).toContainText("Starts in");

  // A page reached by a client-side navigation shows the same form.
  await page.getByRole("link", { name: "⚡ Flash sale" }).click();
  await page.locator(`a[href="/sales/${sale.id}"]`).first().click();
  await expect(page.locator(".facts time").first()).toContainText("GMT+9");
});
