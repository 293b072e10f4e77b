// Drives tests/ui/spa (the stand-in for the original frontend) in Debian's
// headless Chromium (playwright-core, no browser download): opens the page,
// clicks Analyze and waits until the page says it is done or failed.
// Prints what it saw as one JSON line; tests/integration/test_browser_spa.py
// serves the page, starts the processes and checks it.
//
// env: LROGATE_SPA_URL (the page with its query string),
//      LROGATE_SPA_TIMEOUT_MS (how long to wait for the page; default 60000)
import { chromium } from 'playwright-core';

const url = process.env.LROGATE_SPA_URL;
const timeout = Number(process.env.LROGATE_SPA_TIMEOUT_MS || 60000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const seen = { pageErrors: [], consoleErrors: [], requests: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text());
  });
  page.on('request', (r) => seen.requests.push(`${r.method()} ${r.url()}`));
  await page.goto(url);
  seen.title = await page.title();
  await page.click('#run');
  await page.locator('body[data-state="done"], body[data-state="error"]').waitFor();
  seen.state = await page.locator('body').getAttribute('data-state');
  seen.status = await page.locator('#status').textContent();
  seen.error = (await page.locator('#error').isVisible())
    ? await page.locator('#error').textContent() : '';
  seen.operationId = await page.locator('#operation-id').textContent();
  seen.creation = await page.locator('#creation').textContent();
  seen.fields = {};
  for (const dd of await page.locator('#fields dd').all()) {
    seen.fields[await dd.getAttribute('data-field')] = JSON.parse(await dd.textContent());
  }
  seen.steps = await page.evaluate(() => window.spaSteps);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + '\n');
