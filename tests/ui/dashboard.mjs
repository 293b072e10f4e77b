// Drives the /ui dashboard in Debian's headless Chromium (playwright-core,
// no browser download): the page must refuse to list without the API key,
// then, with it, submit a document URL, show the operation go Running →
// Succeeded live and open its result, and cancel a second, long one. Screenshots go to the artifacts dir.
// Prints what it saw as one JSON line; tests/integration/test_dashboard.py
// starts the processes and checks it against the simulator.
//
// env: LROGATE_UI_BASE (http://127.0.0.1:PORT), LROGATE_UI_KEY,
//      LROGATE_UI_DOCUMENT (URL to submit), LROGATE_UI_LONG_DOCUMENT (one to
//      cancel), LROGATE_UI_ARTIFACTS (dir)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.LROGATE_UI_BASE;
const key = process.env.LROGATE_UI_KEY;
const documentUrl = process.env.LROGATE_UI_DOCUMENT;
const artifacts = process.env.LROGATE_UI_ARTIFACTS || 'test-artifacts';
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const seen = { pageErrors: [], consoleErrors: [], statuses: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('console', (m) => {
    // The 401s this test provokes on purpose are logged by Chromium too.
    if (m.type() === 'error' && !m.text().includes('401')) seen.consoleErrors.push(m.text());
  });
  await page.goto(base + '/ui');
  seen.title = await page.title();

  // Without a key, and with a wrong one, the list is refused and says why.
  await page.locator('#banner').filter({ hasText: '401' }).waitFor();
  seen.bannerWithoutKey = await page.locator('#banner').textContent();
  await page.fill('#api-key', 'not-a-valid-key');
  await page.click('#key-save');
  await page.waitForTimeout(300);
  await page.locator('#banner').filter({ hasText: '401' }).waitFor();
  seen.bannerWrongKey = await page.locator('#banner').textContent();

  await page.fill('#api-key', key);
  await page.click('#key-save');
  await page.locator('#banner').waitFor({ state: 'hidden' });

  await page.fill('#analyzer', 'pro-demo');
  await page.fill('#document-url', documentUrl);
  await page.click('#submit');
  await page.locator('#submit-note').filter({ hasText: 'Submitted ' }).waitFor();
  const note = await page.locator('#submit-note').textContent();
  seen.operationId = note.replace('Submitted ', '').trim();
  const row = page.locator(`tr[data-id="${seen.operationId}"]`);

  // Watch the row's status as the page refreshes it.
  const deadline = Date.now() + 40000;
  while (Date.now() < deadline) {
    const st = await row.getAttribute('data-status');
    if (st && seen.statuses[seen.statuses.length - 1] !== st) {
      seen.statuses.push(st);
      if (st === 'Running') {
        await page.screenshot({ path: join(artifacts, 'dashboard-running.png'), fullPage: true });
      }
    }
    if (st === 'Succeeded' || st === 'Failed' || st === 'Canceled') break;
    await page.waitForTimeout(100);
  }
  seen.elapsed = await row.locator('td.elapsed').textContent();
  seen.analyzerCell = await row.locator('td.analyzer').textContent();

  await row.locator('a.result-link').click();
  await page.locator('#result-body').filter({ hasText: '"status"' }).waitFor();
  seen.resultText = await page.locator('#result-body').textContent();
  seen.resultPath = await page.locator('#result-path').textContent();
  await page.screenshot({ path: join(artifacts, 'dashboard-result.png'), fullPage: true });
  seen.screenshots = ['dashboard-running.png', 'dashboard-result.png'].map((f) => join(artifacts, f));

  // A long analysis is canceled from its row (after a confirmation).
  await page.fill('#document-url', process.env.LROGATE_UI_LONG_DOCUMENT);
  await page.click('#submit');
  await page.locator('#submit-note').filter({ hasNotText: seen.operationId }).filter({ hasText: 'Submitted ' }).waitFor();
  seen.canceledId = (await page.locator('#submit-note').textContent()).replace('Submitted ', '').trim();
  const longRow = page.locator(`tr[data-id="${seen.canceledId}"]`);
  await longRow.locator('button.cancel').waitFor();
  page.once('dialog', (d) => { seen.confirmText = d.message(); d.accept(); });
  await longRow.locator('button.cancel').click();
  await page.locator(`tr[data-id="${seen.canceledId}"][data-status="Canceled"]`).waitFor();
  seen.canceledStatus = await longRow.getAttribute('data-status');
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + '\n');
