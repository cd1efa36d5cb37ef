import { expect, test } from "@playwright/test";
import { shot } from "./helpers";

// The described API as an integrating engineer meets it in development: the
// explorer reads GET /api/openapi.json and lists every operation.
test("the API explorer shows the generated document", async ({ page }) => {
  const outside: string[] = [];
  page.on("request", (request) => {
    if (!request.url().startsWith("http://127.0.0.1")) outside.push(request.url());
  });
  await page.goto("/api/explorer/");
  await expect(page.getByRole("heading", { name: /Flash sale API/ })).toBeVisible();
  await expect(page.locator(".opblock-tag-section")).toHaveCount(7);
  await expect(page.locator(".opblock-summary-path", { hasText: "/api/sales/{id}/queue" }).first()).toBeVisible();
  await expect(page.locator(".opblock-summary-path", { hasText: "/api/sales/{id}/buy/{ticket}" })).toBeVisible();
  await page.screenshot({ path: shot("api-explorer"), fullPage: false });
  expect(outside, "nothing is fetched from another site").toEqual([]);
});
