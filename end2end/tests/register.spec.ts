import { expect, test } from "@playwright/test";
import { shopperApi, uniqueName } from "./helpers";

// While many accounts are being made, registering asks for a proof of work:
// the page does it without the shopper doing anything more.
test("while registration is busy the page does the proof of work and the account is made", async ({ page, baseURL }) => {
  // More accounts this minute than the suite's quiet threshold (20).
  for (let n = 0; n < 21; n++) await shopperApi(baseURL!);
  const challenge = page.waitForResponse((response) => response.url().endsWith("/api/auth/register/challenge"));
  const registration = page.waitForRequest(
    (request) => request.url().endsWith("/api/auth/register") && request.method() === "POST",
  );
  await page.goto("/register?next=/");
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.getByLabel("Username").fill(uniqueName("busy"));
  await page.getByLabel("Password").fill("shopper-password");
  await page.getByRole("button", { name: "Create account" }).click();
  const work = await (await challenge).json();
  const asked = Date.now();
  expect(work.difficulty_bits).toBeGreaterThanOrEqual(16);
  const sent = await registration;
  const solvedInMs = Date.now() - asked;
  const body = sent.postDataJSON();
  expect(body.challenge).toBe(work.challenge);
  expect(body.nonce).toMatch(/^\d+$/);
  console.log(`the page solved ${work.difficulty_bits} bits in ${solvedInMs} ms (nonce ${body.nonce})`);
  await expect(page).toHaveURL(/\/$/);
});
