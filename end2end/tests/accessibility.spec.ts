import AxeBuilder from "@axe-core/playwright";
import { Page, expect, test } from "@playwright/test";
import { ADMIN, adminApi, createSale, registerInBrowser } from "./helpers";

// axe-core's WCAG 2 A/AA rules on the pages shoppers and admins use, in the
// states they meet them: no serious or critical violation.
async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => ({
      rule: violation.id,
      help: violation.help,
      where: violation.nodes.map((node) => node.target.join(" ")).slice(0, 5),
    }));
}

test("the sale, its puzzle and the order page pass axe", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const upcoming = await createSale(admin, { startsInMs: 600_000 });
  const sale = await createSale(admin, { stock: 3, captcha: "image" });
  await registerInBrowser(page, `/sales/${upcoming.id}`);
  await expect(page.locator(".countdown")).toContainText("Starts in");
  expect(await seriousViolations(page), "a sale before its start").toEqual([]);

  await page.goto("/");
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  expect(await seriousViolations(page), "the home list").toEqual([]);

  await page.goto(`/sales/${sale.id}`);
  await expect(page.locator(".buy-button")).toHaveText("Buy now");
  await page.locator(".buy-button").click();
  await expect(page.locator(".slide-puzzle")).toBeVisible();
  expect(await seriousViolations(page), "a live sale with its puzzle").toEqual([]);

  await page.getByRole("button", { name: /Can't drag\?/ }).click();
  await expect(page).toHaveURL(/\/orders\//);
  await expect(page.locator(".order-status")).toBeVisible();
  expect(await seriousViolations(page), "the order page").toEqual([]);
});

test("the admin pages pass axe", async ({ page, baseURL }) => {
  const admin = await adminApi(baseURL!);
  const sale = await createSale(admin, { stock: 3 });
  await page.goto("/login?next=/admin");
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator(`tr[data-sale-id="${sale.id}"]`)).toBeVisible();
  expect(await seriousViolations(page), "the dashboard").toEqual([]);

  await page.goto(`/admin/sales/${sale.id}`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(page.locator("h1")).toBeVisible();
  expect(await seriousViolations(page), "a sale's live page").toEqual([]);

  await page.goto("/admin/sales/new");
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  expect(await seriousViolations(page), "the new-sale form").toEqual([]);
});
