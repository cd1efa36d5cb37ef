// Private pages (a shopper's orders, the admin pages) opened by someone they
// are not for: the page says why, and the browser shows no failed request.
// The API would refuse them with a 401 or 403, which the browser logs as an
// error on every visit, so the pages wait for the session and do not ask.
import { Page, expect, test } from "@playwright/test";
import { adminApi, createSale, shopperApi } from "./helpers";

/** Console errors and refused API requests while `visit` runs. */
async function failures(page: Page, visit: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") seen.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) seen.push(`${response.status()} ${response.url()}`);
  });
  await visit();
  return seen;
}

test("a visitor on a private page is asked to log in, with nothing refused", async ({ page, baseURL }) => {
  const sale = await createSale(await adminApi(baseURL!), { startsInMs: 600_000 });
  const pages: [string, string][] = [
    ["/orders", "to see your orders."],
    ["/orders/00000000-0000-0000-0000-000000000000", "to see this order."],
    ["/admin", "with an admin account."],
    ["/admin/sales/new", "with an admin account."],
    [`/admin/sales/${sale.id}`, "with an admin account."],
    ["/admin/dead-letters", "with an admin account."],
  ];
  const seen = await failures(page, async () => {
    for (const [path, prompt] of pages) {
      await page.goto(path);
      await expect(page.locator("main")).toContainText(prompt);
      const login = page.locator("main").getByRole("link", { name: "Log in", exact: true });
      await expect(login).toHaveAttribute("href", `/login?next=${path}`);
    }
  });
  expect(seen).toEqual([]);
  // The new-sale form is not offered either.
  await expect(page.getByRole("button", { name: "Create sale" })).toBeHidden();
});

test("a shopper on an admin page reads that it is for admins, with nothing refused", async ({ page, baseURL }) => {
  const sale = await createSale(await adminApi(baseURL!), { startsInMs: 600_000 });
  const shopper = await shopperApi(baseURL!);
  await page.context().addCookies((await shopper.storageState()).cookies);
  const seen = await failures(page, async () => {
    for (const path of ["/admin", "/admin/sales/new", `/admin/sales/${sale.id}`, "/admin/dead-letters"]) {
      await page.goto(path);
      await expect(page.getByText("This page is for admins only.")).toBeVisible();
    }
    await page.goto("/orders");
    await expect(page.getByText("No orders yet.")).toBeVisible();
  });
  expect(seen).toEqual([]);
});
