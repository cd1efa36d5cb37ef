// How the sale page's script arrives: everything the WASM needs before it may
// start compiling is announced in the page's head, so a slow phone asks for it
// all in the first round trip after the page (BENCHMARKS.md, #24).
import { expect, test } from "@playwright/test";
import { adminApi, createSale } from "./helpers";

test("every module the glue imports is preloaded by the page's head", async ({ request, baseURL }) => {
  const sale = await createSale(await adminApi(baseURL!), { startsInMs: 600_000 });
  const page = await (await request.get(`/sales/${sale.id}`)).text();
  const preloaded = [...page.matchAll(/<link rel="modulepreload" href="([^"]+)"/g)].map((m) => m[1]);
  const glue = preloaded.find((href) => /\/pkg\/flashsale\.[^/]*\.js$/.test(href));
  expect(glue, "the JS glue is preloaded").toBeTruthy();
  // The glue's static imports (the split build's chunk loader): without a
  // preload the browser learns of them only once the glue has arrived.
  const imports = [...(await (await request.get(glue!)).text()).matchAll(/from\s*["']\.\/([^"']+\.js)["']/g)]
    .map((m) => `/pkg/${m[1]}`);
  expect(imports.length, "the glue imports the chunk loader").toBeGreaterThan(0);
  for (const module of imports) expect(preloaded).toContain(module);
});
