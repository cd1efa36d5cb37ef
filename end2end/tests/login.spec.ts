import { expect, test } from "@playwright/test";
import { ADMIN } from "./helpers";

// On a slow network a shopper types before the page's script has arrived; what
// they typed is what is sent once it has (hydration used to empty the fields),
// and pressing Enter meanwhile does not send the form the browser's way.
test("what is typed before the page's script arrives is what logs in", async ({ page }) => {
  let release!: () => void;
  const typed = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/*.wasm", async (route) => {
    await typed;
    await route.continue();
  });
  await page.goto("/login?next=/admin");
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  // Enter before the script has arrived sends nothing, least of all the
  // password in the address.
  await page.getByLabel("Password").press("Enter");
  await page.waitForTimeout(300);
  expect(page.url()).not.toContain("password");
  release();
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await expect(page.getByLabel("Username")).toHaveValue(ADMIN.username);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
});
