import { chromium } from "@playwright/test";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage();
page.on("console", (m) => console.log("console", m.type(), m.text().slice(0, 600)));
page.on("pageerror", (e) => console.log("pageerror", String(e).slice(0, 600)));
await page.goto(process.argv[2]);
await page.waitForTimeout(3000);
console.log("hydrated:", await page.locator("main[data-hydrated=true]").count());
await browser.close();
