// A security officer's first sign-in in headless Chromium: enrols an authenticator
// (the TOTP code computed here per RFC 6238), saves recovery codes, then opens the
// identity and compliance pages, checking each with axe-core.
//
// Usage: node officer.mjs BASE_URL EMAIL
// Environment: CHROMIUM (the browser's path), ENAMEL_PASSWORD (the account's password).

import { createHmac } from 'node:crypto';
import { arguments_, audit, fail, launch, report, signIn } from './common.mjs';

const args = arguments_();
const { base } = args;

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

const { browser, page } = await launch();
try {
  await signIn(page, args, '/sign-in/enrol');
  await audit(page, 'second-factor enrolment');
  const key = (await page.locator('figcaption code').innerText()).trim();
  await page.getByLabel('Code from the app').fill(totp(base32(key)));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForLoadState();
  const codes = await page.locator('.codes li').count();
  if (codes !== 10) fail('recovery codes', `${codes} codes shown`);
  await audit(page, 'recovery codes');

  const pages = [
    ['/', 'home'],
    ['/account/sessions', 'sessions'],
    ['/admin/users', 'people'],
    ['/security/access-review', 'access review'],
    ['/vendors', 'vendors'],
    ['/practice/agreement', 'agreement'],
    ['/api/v1/docs', 'API docs'],
  ];
  for (const [path, name] of pages) {
    const response = await page.goto(`${base}${path}`);
    if (response.status() !== 200) fail(name, `status ${response.status()}`);
    await audit(page, name);
  }
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
