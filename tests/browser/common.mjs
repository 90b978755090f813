// What the browser tests share: launching Debian's Chromium, checking a page with
// axe-core, and failing with the step's name.

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');

/** The base URL and email from the command line; the password from the environment. */
export function arguments_() {
  const [base, email] = process.argv.slice(2);
  const password = process.env.ENAMEL_PASSWORD;
  if (!base || !email || !password || !process.env.CHROMIUM) {
    console.error('usage: CHROMIUM=... ENAMEL_PASSWORD=... node SCRIPT BASE_URL EMAIL');
    process.exit(2);
  }
  return { base, email, password };
}

/** Chromium and a tablet-sized page; axe's script is injected despite the strict CSP. */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({
    viewport: { width: 1024, height: 768 },
    bypassCSP: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { browser, page };
}

/** Pages checked and what axe-core found on them (WCAG 2.1 A and AA rules). */
export const report = { checked: [], violations: [] };

export async function audit(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  report.checked.push(name);
  for (const v of result.violations) {
    report.violations.push({ page: name, rule: v.id, impact: v.impact, nodes: v.nodes.length });
  }
}

export function fail(step, detail) {
  console.error(`browser test failed at "${step}": ${detail}`);
  process.exitCode = 1;
  throw new Error(step);
}

/** Signs in with a password and lands on `expected` (a path). */
export async function signIn(page, { base, email, password }, expected) {
  await page.goto(`${base}/sign-in`);
  await audit(page, 'sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
  if (new URL(page.url()).pathname !== expected) {
    fail('sign-in', `at ${page.url()} instead of ${expected}`);
  }
}

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with SHA-1, 30-second steps, six digits. */
function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30000)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

/** On the enrolment page: types the code for the key shown, and checks the ten
 * recovery codes that follow. */
export async function enrol(page) {
  await audit(page, 'second-factor enrolment');
  const key = (await page.locator('figcaption code').innerText()).trim();
  await page.getByLabel('Code from the app').fill(totp(base32(key)));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForLoadState();
  const codes = await page.locator('.codes li').count();
  if (codes !== 10) fail('recovery codes', `${codes} codes shown`);
  await audit(page, 'recovery codes');
}
