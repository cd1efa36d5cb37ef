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
  const answered = await challenge;
  const work = await answered.json();
  expect(work.difficulty_bits).toBeGreaterThanOrEqual(16);
  const sent = await registration;
  const body = sent.postDataJSON();
  expect(body.challenge).toBe(work.challenge);
  expect(body.nonce).toMatch(/^\d+$/);
  await sent.response();
  // The page's own clock: from the challenge's arrival to the registration's
  // start is the hashing (the nonce is how many hashes were tried).
  const solvedInMs = await page.evaluate(() => {
    const entries = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
    const arrived = entries.find((entry) => entry.name.endsWith("/api/auth/register/challenge"));
    const sent = entries.find((entry) => entry.name.endsWith("/api/auth/register"));
    return sent && arrived ? sent.startTime - arrived.responseEnd : NaN;
  });
  const hashes = Number(body.nonce) + 1;
  console.log(
    `the page solved ${work.difficulty_bits} bits: ${hashes} hashes in ${solvedInMs.toFixed(0)} ms, ` +
      `${Math.round(hashes / (solvedInMs / 1000))} hashes/s`,
  );
  await expect(page).toHaveURL(/\/$/);
});
