// The console in a real browser (Debian's chromium driven by playwright-core), one scenario per run:
//   node tests/browser/console.mjs <scenario>   with CONFIG (JSON) in the environment.
// Prints one JSON line: what the scenario saw (pytest asserts on it). Screenshots go to CONFIG.shots.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(root, "console/package.json"));
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const config = JSON.parse(process.env.CONFIG);
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // The test's "Teams" (https://teams.microsoft.com, a public origin) frames Courier on 127.0.0.1: Chromium's local
  // network access checks would block that, as they would not for a Courier on its public host.
  "--disable-features=LocalNetworkAccessChecks",
];
const WAIT = { timeout: 20_000 };
const result = { axe: {}, csp: [], errors: [], log: [] };

async function newPage(browser, colorScheme = "light") {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, colorScheme, viewport: { width: 1200, height: 860 } });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && /Content.Security.Policy/i.test(m.text()) && result.csp.push(m.text()));
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("console", (m) => result.log.push(`${m.type()}: ${m.text()}`.slice(0, 300)));
  page.on("requestfailed", (r) => result.log.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  return page;
}

// axe-core in the page (evaluated, so the page's CSP stays on): serious and critical violations only. Fluent's
// focus manager (tabster) puts aria-hidden focus sentinels (<i data-tabster-dummy tabindex=0>) around focus groups
// that pass focus straight on; axe reports those as aria-hidden-focus, so they alone are left out.
async function axe(page, name, frame = page) {
  await frame.evaluate(`${axeSource};0`);
  const found = await frame.evaluate(async () => {
    const context = { include: [["html"]], exclude: [["[data-tabster-dummy]"]] };
    const run = await window.axe.run(context, { resultTypes: ["violations"] });
    return run.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  });
  result.axe[name] = found;
}

async function shoot(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForFunction((s) => document.querySelector("[data-theme]")?.getAttribute("data-theme") === s, scheme, WAIT);
    await page.screenshot({ path: path.join(config.shots, `${name}-${scheme}.png`), fullPage: true, animations: "disabled" });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

async function signIn(page) {
  await page.goto(`${config.url}/console/`);
  await page.getByRole("button", { name: "Sign in with Microsoft" }).or(page.getByRole("link", { name: "Sign in with Microsoft" })).click();
  await page.getByTestId("me").waitFor(WAIT);
  return page.getByTestId("me").textContent();
}

async function tabs(page) {
  return (await page.getByRole("tab").allInnerTexts()).map((t) => t.trim());
}

const scenarios = {
  async signin(browser) {
    const page = await newPage(browser);
    await page.goto(`${config.url}/console/`);
    await page.getByText("Sign in with Microsoft").waitFor(WAIT);
    await axe(page, "signin");
    if (config.shots) await shoot(page, "signin");
    result.name = await signIn(page);
    result.tabs = await tabs(page);
    result.path = new URL(page.url()).pathname;
  },

  async compose_and_watch(browser) {
    const page = await newPage(browser);
    result.name = await signIn(page);
    await page.getByRole("tab", { name: "Compose" }).click();
    await page.getByLabel("Title").fill(config.title);
    await page.getByLabel("Summary").fill("The office is closed on Friday for maintenance.");
    await page.getByRole("textbox", { name: /Message/ }).fill("Please **work from home**:\n- laptops charged\n- VPN tested\n[Details](https://contoso.com/closure)");
    await page.getByRole("button", { name: "Add a button" }).click();
    await page.getByLabel("Button 1 label").fill("Read more");
    await page.getByLabel("Button 1 link").fill("https://contoso.com/closure");
    await page.getByRole("textbox", { name: /^People/ }).fill(config.recipient);
    const light = page.locator("figure[data-mode=light] .ac-adaptiveCard");
    const dark = page.locator("figure[data-mode=dark] .ac-adaptiveCard");
    await light.getByText(config.title).waitFor(WAIT);
    result.preview = {
      light: await light.innerText(),
      dark: await dark.innerText(),
      bold: await light.locator("strong").allTextContents(),
      items: await light.locator("li").count(),
      buttons: await light.locator("button").allTextContents(),
    };
    await axe(page, "compose");
    if (config.shots) await shoot(page, "compose");
    await page.getByRole("button", { name: "Send…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor(WAIT);
    result.confirmation = await dialog.innerText();
    await dialog.getByRole("button", { name: "Send now" }).click();
    await page.getByRole("tab", { name: "Sent", selected: true }).waitFor(WAIT);
    const row = page.getByTestId("notification-row").filter({ hasText: config.title });
    await row.waitFor(WAIT);
    await row.click();
    const sent = page.getByTestId("figures").locator("div", { hasText: /^\d+Sent$/ });
    await page.waitForFunction(
      () => /^[1-9]\d*Sent$/.test([...document.querySelectorAll("[data-testid=figures] > div")].map((d) => d.textContent).find((t) => t.endsWith("Sent")) ?? ""),
      null,
      WAIT,
    );
    await row.getByText(/^[1-9]\d* of /).waitFor(WAIT);  // the list catches up on its own
    result.sentFigure = await sent.first().innerText();
    result.rowText = await row.innerText();
    await axe(page, "sent");
    if (config.shots) await shoot(page, "sent");
    await page.getByRole("tab", { name: "Mine" }).click();
    await page.getByTestId("reminder-row").first().waitFor(WAIT);
    result.reminders = await page.getByTestId("reminder-row").allInnerTexts();
    await axe(page, "mine");
    if (config.shots) await shoot(page, "mine");
  },

  async non_sender(browser) {
    const page = await newPage(browser);
    result.name = await signIn(page);
    result.tabs = await tabs(page);
    result.apiStatus = await page.evaluate(async () => (await fetch("/api/notifications")).status);
    await page.goto(`${config.url}/console/compose`);
    await page.getByTestId("me").waitFor(WAIT);
    result.tabsOnComposeUrl = await tabs(page);
    result.composeShown = await page.getByRole("heading", { name: "Compose" }).count();
  },

  // Teams frames the tab from https://teams.microsoft.com and answers teams-js's messages (initialize, getContext,
  // authentication.getAuthToken) by postMessage; the page below does the same, with a token from the local Entra.
  async teams(browser) {
    const page = await newPage(browser);
    await page.route("https://teams.microsoft.com/**", (route) =>
      route.fulfill({ contentType: "text/html", body: hostPage(`${config.url}/console/?host=teams`, config) }),
    );
    await page.goto("https://teams.microsoft.com/_#/apps/courier");
    const tab = page.frameLocator("#tab");
    if (config.expectError) {
      await tab.getByRole("alert").waitFor(WAIT);
      result.alert = await tab.getByRole("alert").innerText();
    } else {
      await tab.getByTestId("me").waitFor(WAIT);
      result.name = await tab.getByTestId("me").innerText();
      result.tabs = (await tab.getByRole("tab").allInnerTexts()).map((t) => t.trim());
      const frame = page.frame({ url: /\/console\// });
      result.theme = await frame.evaluate(() => document.querySelector("[data-theme]").getAttribute("data-theme"));
      await axe(page, "teams", frame);
      if (config.shots) await page.screenshot({ path: path.join(config.shots, "teams-light.png"), animations: "disabled" });
      await page.evaluate(() => window.setTheme("dark"));
      await frame.waitForFunction(() => document.querySelector("[data-theme]").getAttribute("data-theme") === "dark", null, WAIT);
      result.themeAfterChange = "dark";
      if (config.shots) await page.screenshot({ path: path.join(config.shots, "teams-dark.png"), animations: "disabled" });
    }
    result.calls = await page.evaluate(() => window.calls);
  },
};

function hostPage(src, config) {
  const context = {
    locale: "en-us",
    theme: "default",
    entityId: "console",
    appSessionId: "6c3d2f4e-0000-4000-8000-00000000c0de",
    sessionId: "teams-session",
    tid: config.tenantId,
    userObjectId: config.userId,
    loginHint: config.upn,
    userPrincipalName: config.upn,
    hostClientType: "web",
    hostName: "Teams",
    frameContext: "content",
  };
  return `<!doctype html><html lang="en"><head><title>Microsoft Teams</title></head>
<body style="margin:0"><iframe id="tab" title="Courier" src="${src}" style="width:100%;height:100vh;border:0"></iframe>
<script>
const token = ${JSON.stringify(config.token)};
const context = ${JSON.stringify(context)};
const frame = document.getElementById("tab");
window.calls = [];
window.addEventListener("message", (event) => {
  const message = event.data;
  if (event.source !== frame.contentWindow || !message || typeof message.func !== "string") return;
  window.calls.push(message.func);
  const reply = (args) => frame.contentWindow.postMessage({ id: message.id, uuidAsString: message.uuidAsString, args }, event.origin);
  if (message.func === "initialize") reply(["content", "web", "2.0.0", "2.0.0"]);
  else if (message.func === "getContext") reply([context]);
  else if (message.func === "authentication.getAuthToken") reply([true, token]);
});
window.setTheme = (theme) => frame.contentWindow.postMessage({ func: "themeChange", args: [theme] }, "*");
</script></body></html>`;
}

const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: FLAGS });
try {
  await scenarios[process.argv[2]](browser);
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.failure = String(error && error.stack ? error.stack : error).slice(0, 3000);
  const failed = browser.contexts()[0]?.pages()[0];
  result.calls = await failed?.evaluate(() => window.calls).catch(() => null);
  result.frames = failed?.frames().map((f) => f.url());
  if (failed && config.shots !== undefined) await failed.screenshot({ path: "/tmp/console-failure.png" }).catch(() => null);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
