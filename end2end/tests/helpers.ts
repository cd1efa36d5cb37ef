import { APIRequestContext, Page, expect, request } from "@playwright/test";
import { createHash } from "node:crypto";

export const ADMIN = { username: "e2e-admin", password: "e2e-admin-password" };

let counter = 0;
/** A username nobody has used in this run. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

/** An API client logged in as the admin that scripts/test creates. */
export async function adminApi(baseURL: string): Promise<APIRequestContext> {
  const api = await request.newContext({ baseURL });
  const login = await api.post("/api/auth/login", { data: ADMIN });
  expect(login.status(), "the e2e admin exists (scripts/test creates it)").toBe(200);
  return api;
}

/** A nonce whose SHA-256 after `salt` starts with `bits` zero bits. */
export function solveWork(salt: string, bits: number): string {
  for (let nonce = 0; ; nonce++) {
    const digest = createHash("sha256").update(salt + nonce).digest();
    let zeros = 0;
    for (const byte of digest) {
      if (byte === 0) { zeros += 8; continue; }
      zeros += Math.clz32(byte) - 24;
      break;
    }
    if (zeros >= bits) return String(nonce);
  }
}

/** An API client with a fresh shopper session; it does the registration's
 * proof of work when the server asks for one (registration is busy). */
export async function shopperApi(baseURL: string): Promise<APIRequestContext> {
  const api = await request.newContext({ baseURL });
  const username = uniqueName("api");
  // Registration may turn busy between the challenge and the registration
  // (others register at the same time): then once more, with the work.
  let status = 0;
  for (let attempt = 0; attempt < 3 && status !== 201; attempt++) {
    const work = await (await api.post("/api/auth/register/challenge")).json();
    const data: Record<string, string> = { username, password: "shopper-password" };
    if (work.difficulty_bits > 0) {
      data.challenge = work.challenge;
      data.nonce = solveWork(work.salt, work.difficulty_bits);
    }
    status = (await api.post("/api/auth/register", { data })).status();
  }
  expect(status).toBe(201);
  return api;
}

export interface SaleOptions {
  startsInMs?: number;
  stock?: number;
  limit?: number;
  captcha?: "pow" | "image" | "none";
  title?: string;
  imageUrl?: string;
  priceCents?: number;
  currency?: string;
  /** A waiting room: its line opens now, `window` shoppers deciding per unit. */
  queue?: { window?: number };
}

/** Creates a sale through the admin API and returns it. */
export async function createSale(admin: APIRequestContext, options: SaleOptions = {}) {
  const startsAt = Date.now() + (options.startsInMs ?? 0);
  const response = await admin.post("/api/admin/sales", {
    data: {
      title: options.title ?? "Limited edition headphones",
      description: "Closed-back studio headphones. One pair per shopper.",
      image_url: options.imageUrl ?? "",
      price_cents: options.priceCents ?? 9_900,
      list_price_cents: 24_900,
      currency: options.currency,
      stock: options.stock ?? 5,
      per_user_limit: options.limit ?? 1,
      starts_at_ms: startsAt,
      ends_at_ms: startsAt + 3_600_000,
      payment_window_secs: 900,
      captcha: options.captcha ?? "none",
      ...(options.queue
        ? {
            admission: "queue",
            queue_opens_at_ms: Date.now() - 1_000,
            queue_window_per_unit: options.queue.window ?? 1,
          }
        : {}),
    },
  });
  expect(response.status()).toBe(201);
  return (await response.json()) as { id: number; starts_at_ms: number; currency: string };
}

/** Registers a shopper in the browser and comes back to `next`. */
export async function registerInBrowser(page: Page, next: string): Promise<string> {
  const username = uniqueName("shopper");
  await page.goto(`/register?next=${next}`);
  await expect(page.locator("main[data-hydrated=true]")).toBeAttached();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("shopper-password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(new RegExp(`${next}$`));
  return username;
}

/** Where screenshots go: kept as test artifacts, never committed. */
export function shot(name: string): string {
  return `test-results/screenshots/${name}.png`;
}
